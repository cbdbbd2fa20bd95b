//! Pushing policy artifacts to a registry and pulling them into the
//! [`BlobStore`], with every blob's size capped and digest verified.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, RegistryOperation};

use super::artifact::{
    ACCEPTED_MANIFEST_TYPES, ArtifactToPush, MANIFEST_MEDIA_TYPE, PolicyArtifact,
};
use super::credentials::DockerConfig;
use super::digest::sha256;
use super::signature::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SignatureLayer};
use super::{BlobStore, OciError, OciReference, TrustedKeys};

/// The default cap on a policy component: the Python and JavaScript
/// examples, which carry a whole interpreter, are 20–40 MiB.
pub const DEFAULT_MAX_POLICY_SIZE: u64 = 50 << 20;
/// Manifests and configs are a few hundred bytes; anything near this is
/// not a policy artifact.
const MAX_METADATA_SIZE: u64 = 1 << 20;

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Registries (`host:port`) spoken to over plain HTTP. Every other one
    /// is HTTPS.
    pub insecure: Vec<String>,
    /// Extra CA certificates (PEM) to trust, for a registry with a private
    /// CA.
    pub ca_bundle: Option<PathBuf>,
    /// The largest component accepted, checked against the descriptor
    /// before a download and while it streams.
    pub max_policy_size: u64,
    /// How long to wait to connect, and for each read.
    pub timeout: Duration,
    /// Where credentials come from.
    pub credentials: DockerConfig,
    /// Signatures every pulled policy must carry (a platform's rule), on
    /// top of what each pull asks for.
    pub required_signatures: Option<TrustedKeys>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            ca_bundle: None,
            max_policy_size: DEFAULT_MAX_POLICY_SIZE,
            timeout: Duration::from_secs(10),
            credentials: DockerConfig::default(),
            required_signatures: None,
        }
    }
}

/// A policy pulled into the store, ready to load.
#[derive(Debug, Clone)]
pub struct PulledPolicy {
    /// The reference pinned to the manifest's digest.
    pub pinned: OciReference,
    /// The manifest, read as a policy artifact.
    pub artifact: PolicyArtifact,
    /// The manifest's bytes, as the registry served them.
    pub manifest: Vec<u8>,
    /// The config blob's bytes.
    pub config: Vec<u8>,
    /// The component.
    pub wasm: Vec<u8>,
    /// True when the registry could not be asked what the tag points to
    /// and the digest it resolved to before was used.
    pub tag_from_cache: bool,
    /// The keys whose signatures were verified (none when none were
    /// required).
    pub signers: Vec<String>,
}

/// Talks to registries on behalf of the policy store.
pub struct PolicyRegistry {
    client: Client,
    store: BlobStore,
    options: RegistryOptions,
}

impl PolicyRegistry {
    /// A client for `options` storing what it pulls in `store`.
    pub fn new(store: BlobStore, options: RegistryOptions) -> Result<Self, OciError> {
        crate::http::install_crypto_provider();
        let mut extra_root_certificates = Vec::new();
        if let Some(path) = &options.ca_bundle {
            let data = std::fs::read(path).map_err(|err| OciError::Read {
                path: path.display().to_string(),
                message: format!("{err}; --registry-ca takes a PEM file of CA certificates"),
            })?;
            extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        let client = Client::new(ClientConfig {
            protocol: ClientProtocol::HttpsExcept(options.insecure.clone()),
            extra_root_certificates,
            platform_resolver: None,
            connect_timeout: Some(options.timeout),
            read_timeout: Some(options.timeout),
            user_agent: concat!("warbler/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        });
        Ok(PolicyRegistry {
            client,
            store,
            options,
        })
    }

    fn auth(&self, reference: &OciReference) -> Result<RegistryAuth, OciError> {
        self.options
            .credentials
            .auth_for(reference.registry())
            .map_err(|message| OciError::Registry {
                reference: reference.to_string(),
                message,
            })
    }

    /// Pull `reference` into the store (or find it there) and return it.
    /// A pinned reference that is stored needs no registry; a tag is asked
    /// for, and when the registry cannot answer, the digest it resolved to
    /// last time is used. When `trust` (or the options) require signatures,
    /// they are checked before the component is fetched or returned.
    pub async fn pull(
        &self,
        reference: &OciReference,
        trust: Option<&TrustedKeys>,
    ) -> Result<PulledPolicy, OciError> {
        // A slow drip of bytes defeats per-read timeouts: bound the whole.
        let whole = self.options.timeout * 6;
        tokio::time::timeout(whole, self.pull_within(reference, trust))
            .await
            .unwrap_or_else(|_| {
                Err(OciError::Registry {
                    reference: reference.to_string(),
                    message: format!("no complete answer within {whole:?}"),
                })
            })
    }

    async fn pull_within(
        &self,
        reference: &OciReference,
        trust: Option<&TrustedKeys>,
    ) -> Result<PulledPolicy, OciError> {
        let auth = self.auth(reference)?;
        let (digest, manifest, tag_from_cache) = self.resolve(reference, &auth).await?;
        let pinned = reference.pinned(&digest);
        let artifact = PolicyArtifact::from_manifest(&pinned.to_string(), &manifest)?;
        let mut signers = Vec::new();
        for trust in self.options.required_signatures.iter().chain(trust) {
            for signer in self.verify(&pinned, &digest, trust).await? {
                if !signers.contains(&signer) {
                    signers.push(signer);
                }
            }
        }
        let config = self
            .blob(
                &pinned,
                &auth,
                &artifact.config,
                "the config",
                MAX_METADATA_SIZE,
            )
            .await
            .map_err(|err| or_unavailable(reference, tag_from_cache, err))?;
        let wasm = self
            .blob(
                &pinned,
                &auth,
                &artifact.layer,
                "the component",
                self.options.max_policy_size,
            )
            .await
            .map_err(|err| or_unavailable(reference, tag_from_cache, err))?;
        self.store.put(&digest, &manifest)?;
        if reference.tag().is_some() && !tag_from_cache {
            self.store.set_tag(reference, &digest)?;
        }
        Ok(PulledPolicy {
            pinned,
            artifact,
            manifest,
            config,
            wasm,
            tag_from_cache,
            signers,
        })
    }

    /// The digest and bytes of the manifest `reference` names, and whether
    /// a tag was resolved from the store because the registry could not
    /// answer. A pinned manifest that is stored needs no registry.
    async fn resolve(
        &self,
        reference: &OciReference,
        auth: &RegistryAuth,
    ) -> Result<(String, Vec<u8>, bool), OciError> {
        if let Some(digest) = reference.digest() {
            let manifest = match self.store.get(digest) {
                Some(manifest) => manifest,
                None => self.fetch_manifest(reference, auth).await?,
            };
            return Ok((digest.to_owned(), manifest, false));
        }
        match self.fetch_manifest(reference, auth).await {
            Ok(manifest) => Ok((sha256(&manifest), manifest, false)),
            Err(err @ OciError::Registry { .. }) => {
                let cached = self
                    .store
                    .tag(reference)
                    .and_then(|digest| self.store.get(&digest).map(|m| (digest, m)));
                let Some((digest, manifest)) = cached else {
                    return Err(unavailable(reference, err));
                };
                tracing::warn!(%reference, %digest, error = %err, "registry unreachable; using the digest this tag resolved to before");
                Ok((digest, manifest, true))
            }
            Err(err) => Err(err),
        }
    }

    /// Check the cosign signatures of manifest `digest` against `trust`;
    /// the signers' names. The signatures are stored like a policy, so a
    /// policy verified once verifies again while the registry is down.
    async fn verify(
        &self,
        pinned: &OciReference,
        digest: &str,
        trust: &TrustedKeys,
    ) -> Result<Vec<String>, OciError> {
        let signatures = pinned.signatures(digest, trust.repository())?;
        let auth = self.auth(&signatures)?;
        let (manifest_digest, manifest, from_cache) = match self.resolve(&signatures, &auth).await {
            Err(OciError::NotFound { .. }) => {
                return Err(OciError::Unsigned {
                    reference: pinned.to_string(),
                    cosign_reference: pinned.to_string().replacen(super::SCHEME, "", 1),
                    signatures: signatures.to_string(),
                });
            }
            other => other?,
        };
        let not_signed = |message: String| OciError::NotSigned {
            reference: pinned.to_string(),
            message,
        };
        let image: oci_client::manifest::OciImageManifest = serde_json::from_slice(&manifest)
            .map_err(|err| not_signed(format!("{signatures} is not an image manifest ({err})")))?;
        let mut layers = Vec::new();
        for descriptor in &image.layers {
            if descriptor.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
                continue;
            }
            let payload = self
                .blob(
                    &signatures,
                    &auth,
                    descriptor,
                    "a signature payload",
                    MAX_METADATA_SIZE,
                )
                .await
                .map_err(|err| or_unavailable(&signatures, from_cache, err))?;
            layers.push(SignatureLayer {
                payload,
                signature: descriptor
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(SIGNATURE_ANNOTATION))
                    .cloned(),
            });
        }
        if layers.is_empty() {
            return Err(not_signed(format!(
                "{signatures} holds no {SIMPLE_SIGNING_MEDIA_TYPE} layer"
            )));
        }
        let signers = trust.verify(digest, &layers).map_err(not_signed)?;
        self.store.put(&manifest_digest, &manifest)?;
        if !from_cache {
            self.store.set_tag(&signatures, &manifest_digest)?;
        }
        Ok(signers)
    }

    /// The manifest `reference` names, checked against its digest when it
    /// is pinned.
    async fn fetch_manifest(
        &self,
        reference: &OciReference,
        auth: &RegistryAuth,
    ) -> Result<Vec<u8>, OciError> {
        let (bytes, _) = self
            .client
            .pull_manifest_raw(reference.as_reference(), auth, ACCEPTED_MANIFEST_TYPES)
            .await
            .map_err(|err| registry_error(reference, err))?;
        if bytes.len() as u64 > MAX_METADATA_SIZE {
            return Err(OciError::TooLarge {
                reference: reference.to_string(),
                what: "the manifest",
                size: bytes.len() as u64,
                limit: MAX_METADATA_SIZE,
            });
        }
        if let Some(expected) = reference.digest() {
            let actual = sha256(&bytes);
            if actual != expected {
                return Err(OciError::DigestMismatch {
                    reference: reference.to_string(),
                    what: "the manifest",
                    expected: expected.to_owned(),
                    actual,
                });
            }
        }
        Ok(bytes.to_vec())
    }

    /// The blob `descriptor` names, from the store or the registry; at most
    /// `limit` bytes, verified against its digest, stored.
    async fn blob(
        &self,
        reference: &OciReference,
        auth: &RegistryAuth,
        descriptor: &OciDescriptor,
        what: &'static str,
        limit: u64,
    ) -> Result<Vec<u8>, OciError> {
        if let Some(bytes) = self.store.get(&descriptor.digest) {
            return Ok(bytes);
        }
        let too_large = |size: u64| OciError::TooLarge {
            reference: reference.to_string(),
            what,
            size,
            limit,
        };
        let declared = u64::try_from(descriptor.size).unwrap_or(u64::MAX);
        if declared > limit {
            return Err(too_large(declared));
        }
        // Credentials for a pinned pull are the tag's: the same repository.
        self.client
            .auth(reference.as_reference(), auth, RegistryOperation::Pull)
            .await
            .map_err(|err| registry_error(reference, err))?;
        let mut stream = self
            .client
            .pull_blob_stream(reference.as_reference(), descriptor)
            .await
            .map_err(|err| registry_error(reference, err))?;
        let mut bytes = Vec::with_capacity(declared.min(limit) as usize);
        let mut failed = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => {
                    bytes.extend_from_slice(&chunk);
                    // More than declared is as bad as more than allowed.
                    if bytes.len() as u64 > declared {
                        return Err(too_large(bytes.len() as u64));
                    }
                }
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        let actual = sha256(&bytes);
        if bytes.len() as u64 == declared && actual != descriptor.digest {
            return Err(OciError::DigestMismatch {
                reference: reference.to_string(),
                what,
                expected: descriptor.digest.clone(),
                actual,
            });
        }
        if let Some(err) = failed {
            return Err(OciError::Registry {
                reference: reference.to_string(),
                message: format!("{what} stopped arriving: {err}"),
            });
        }
        if actual != descriptor.digest {
            return Err(OciError::DigestMismatch {
                reference: reference.to_string(),
                what,
                expected: descriptor.digest.clone(),
                actual,
            });
        }
        self.store.put(&descriptor.digest, &bytes)?;
        Ok(bytes)
    }

    /// Push `wasm` as the artifact `artifact` describes to `reference`;
    /// the reference pinned to the pushed manifest's digest.
    pub async fn push(
        &self,
        reference: &OciReference,
        wasm: &[u8],
        artifact: &ArtifactToPush,
    ) -> Result<OciReference, OciError> {
        let auth = self.auth(reference)?;
        let target = reference.as_reference();
        let failed = |err| registry_error(reference, err);
        self.client
            .auth(target, &auth, RegistryOperation::Push)
            .await
            .map_err(failed)?;
        self.client
            .push_blob(target, wasm.to_vec(), &sha256(wasm))
            .await
            .map_err(failed)?;
        self.client
            .push_blob(target, artifact.config.clone(), &sha256(&artifact.config))
            .await
            .map_err(failed)?;
        self.client
            .push_manifest_raw(
                target,
                artifact.manifest.clone(),
                http::HeaderValue::from_static(MANIFEST_MEDIA_TYPE),
            )
            .await
            .map_err(failed)?;
        Ok(reference.pinned(&sha256(&artifact.manifest)))
    }
}

/// A registry's "no such thing" is the reference's fault and final; any
/// other failure may pass (and a tag resolved before may stand in).
fn registry_error(
    reference: &OciReference,
    err: oci_client::errors::OciDistributionError,
) -> OciError {
    use oci_client::errors::{OciDistributionError as E, OciErrorCode as Code};
    let not_found = match &err {
        E::ImageManifestNotFoundError(_) => true,
        E::ServerError { code, .. } => *code == 404,
        E::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                Code::ManifestUnknown | Code::NameUnknown | Code::BlobUnknown | Code::NotFound
            )
        }),
        _ => false,
    };
    let message = err.to_string();
    let reference = reference.to_string();
    if not_found {
        OciError::NotFound { reference, message }
    } else {
        OciError::Registry { reference, message }
    }
}

fn unavailable(reference: &OciReference, err: OciError) -> OciError {
    match err {
        OciError::Registry { message, .. } => OciError::Unavailable {
            reference: reference.to_string(),
            message,
        },
        other => other,
    }
}

/// A blob missing while the registry is down, on a tag resolved from the
/// store, is as unavailable as the tag itself.
fn or_unavailable(reference: &OciReference, tag_from_cache: bool, err: OciError) -> OciError {
    if tag_from_cache {
        unavailable(reference, err)
    } else {
        err
    }
}
