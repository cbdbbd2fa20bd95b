//! How commands reach OCI registries, and `warbler policy push` / `pull`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Args;

use super::CliError;
use super::policy::RuntimeArgs;
use crate::oci::{
    ArtifactToPush, BlobStore, DockerConfig, OciError, OciReference, PolicyRegistry, Provenance,
    PulledPolicy, RegistryOptions, TrustedKey, TrustedKeys,
};
use crate::policy::{PolicySource, RuntimeConfig};

/// Flags every command that takes a policy has for `oci://` references.
#[derive(Debug, Clone, Args)]
pub(super) struct RegistryArgs {
    /// A registry (`HOST:PORT`) spoken to over plain HTTP; every other one
    /// is HTTPS. Repeat, or separate with commas.
    #[arg(
        long = "insecure-registry",
        env = "WARBLER_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    insecure_registries: Vec<String>,
    /// CA certificates (PEM) trusted for registries, besides the system's.
    #[arg(long, env = "WARBLER_REGISTRY_CA")]
    registry_ca: Option<PathBuf>,
    /// Registry credentials, a Docker `config.json` (what `docker login`
    /// writes, or an image-pull Secret's `.dockerconfigjson`)
    /// [default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json].
    #[arg(long, env = "WARBLER_REGISTRY_AUTH")]
    registry_auth: Option<PathBuf>,
    /// The largest policy component pulled, in MiB; checked before and
    /// during the download.
    #[arg(long, default_value_t = 50)]
    max_policy_mib: u64,
    /// Seconds to wait for a registry to connect and for each read.
    #[arg(long, default_value_t = 10)]
    registry_timeout: u64,
    /// Require every `oci://` policy to be signed (cosign's keyed
    /// signatures) by this public key: a PEM file such as `cosign.pub`
    /// (ECDSA P-256), or a directory of them (a mounted ConfigMap). Repeat
    /// for several keys.
    #[arg(long = "verify-key", value_name = "FILE|DIR")]
    verify_keys: Vec<PathBuf>,
    /// How many of the --verify-key keys must have signed a policy.
    #[arg(long, default_value_t = 1, requires = "verify_keys")]
    verify_minimum: usize,
    /// Where the signatures are, when not in the policy's own repository:
    /// `REGISTRY/REPOSITORY` (cosign's `COSIGN_REPOSITORY`).
    #[arg(long, value_name = "REGISTRY/REPOSITORY", requires = "verify_keys")]
    signatures_repository: Option<String>,
}

impl RegistryArgs {
    /// A registry client storing pulls under `cache_dir`'s `oci/`.
    pub(super) fn registry(&self, cache_dir: Option<PathBuf>) -> Result<PolicyRegistry, CliError> {
        let dir = cache_dir
            .or_else(RuntimeConfig::default_cache_dir)
            .ok_or_else(|| {
                CliError::cannot_proceed(anyhow::anyhow!(
                    "no place for pulled policies: set WARBLER_CACHE_DIR or HOME"
                ))
            })?;
        let store = BlobStore::open(dir.join("oci")).map_err(CliError::cannot_proceed)?;
        let credentials = match self
            .registry_auth
            .clone()
            .or_else(DockerConfig::default_path)
        {
            Some(path) => DockerConfig::read(&path)
                .map_err(|message| CliError::bad_input(anyhow::anyhow!(message), None))?,
            None => DockerConfig::default(),
        };
        let options = RegistryOptions {
            insecure: self.insecure_registries.clone(),
            ca_bundle: self.registry_ca.clone(),
            max_policy_size: self.max_policy_mib << 20,
            timeout: Duration::from_secs(self.registry_timeout.max(1)),
            credentials,
            required_signatures: self.required_signatures()?,
        };
        PolicyRegistry::new(store, options).map_err(|err| CliError::bad_input(err, None))
    }

    /// The signers `--verify-key` requires, if any.
    fn required_signatures(&self) -> Result<Option<TrustedKeys>, CliError> {
        if self.verify_keys.is_empty() {
            return Ok(None);
        }
        let mut keys = Vec::new();
        for path in &self.verify_keys {
            for file in key_files(path).map_err(|err| CliError::bad_input(err, None))? {
                let name = format!("--verify-key {}", file.display());
                let pem = std::fs::read_to_string(&file).map_err(|err| {
                    CliError::bad_input(
                        OciError::BadKey {
                            key: name.clone(),
                            message: format!("cannot read it: {err}"),
                        },
                        None,
                    )
                })?;
                keys.push(
                    TrustedKey::from_pem(&name, &pem)
                        .map_err(|err| CliError::bad_input(err, None))?,
                );
            }
        }
        TrustedKeys::new(
            keys,
            self.verify_minimum,
            self.signatures_repository.clone(),
        )
        .map(Some)
        .map_err(|err| {
            CliError::bad_input(
                err,
                Some("--verify-minimum counts --verify-key keys".to_owned()),
            )
        })
    }
}

/// The key files `path` names: itself, or the files of a directory in
/// name order (without the hidden `..data` entries of a mounted ConfigMap).
fn key_files(path: &std::path::Path) -> Result<Vec<PathBuf>, OciError> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let unreadable = |err: std::io::Error| OciError::BadKey {
        key: format!("--verify-key {}", path.display()),
        message: format!("cannot list the directory: {err}"),
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(OciError::BadKey {
            key: format!("--verify-key {}", path.display()),
            message: "the directory holds no key file".to_owned(),
        });
    }
    Ok(files)
}

/// `warbler policy push`.
#[derive(Debug, Args)]
pub(super) struct PushArgs {
    /// The policy component (`.wasm`), or `builtin:NAME` to publish a
    /// built-in (a vetted copy a platform pins and signs).
    file: PathBuf,
    /// Where to push it: `oci://REGISTRY/REPOSITORY:TAG`.
    reference: String,
    /// `org.opencontainers.image.source`: the policy's source repository.
    #[arg(long)]
    source: Option<String>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// `warbler policy pull`.
#[derive(Debug, Args)]
pub(super) struct PullArgs {
    /// The policy: `oci://REGISTRY/REPOSITORY:TAG` or `…@sha256:DIGEST`.
    reference: String,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

pub(super) fn parse_reference(reference: &str) -> Result<OciReference, CliError> {
    reference
        .parse()
        .map_err(|err: OciError| CliError::bad_input(err, None))
}

/// Registry failures are the environment's; a bad artifact is the input's.
pub(super) fn oci_error(err: OciError) -> CliError {
    match err {
        OciError::Registry { .. } | OciError::Unavailable { .. } | OciError::Store { .. } => {
            CliError::cannot_proceed(err)
        }
        _ => CliError::bad_input(err, None),
    }
}

/// Pull `reference` through `registry`, blocking.
pub(super) fn pull(
    registry: &PolicyRegistry,
    reference: &OciReference,
) -> Result<PulledPolicy, CliError> {
    super::load::runtime()?
        .block_on(registry.pull(reference, None))
        .map_err(oci_error)
}

pub(super) fn push(args: PushArgs) -> Result<(), CliError> {
    let reference = parse_reference(&args.reference)?;
    if reference.digest().is_some() {
        return Err(CliError::bad_input(
            anyhow::anyhow!("{reference}: a push names a tag, not a digest"),
            Some("push to oci://REGISTRY/REPOSITORY:TAG; the digest is printed".to_owned()),
        ));
    }
    let wasm = match args.file.to_str().and_then(|f| f.strip_prefix("builtin:")) {
        Some(_) => args
            .file
            .display()
            .to_string()
            .parse::<PolicySource>()
            .and_then(|source| source.read())
            .map_err(|err| CliError::bad_input(err, None))?
            .into_owned(),
        None => std::fs::read(&args.file).map_err(|err| {
            CliError::bad_input(
                anyhow::anyhow!("cannot read {}: {err}", args.file.display()),
                None,
            )
        })?,
    };
    // What is pushed must load: the same checks as every run.
    let runtime = args.runtime.runtime()?;
    let policy = runtime
        .load_bytes(&args.file.display().to_string(), &wasm)
        .map_err(|err| CliError::bad_input(err, None))?;
    let info = policy.describe().map_err(CliError::policy_failed)?;
    let provenance = Provenance {
        created: created(),
        source: args.source.clone(),
    };
    let artifact = ArtifactToPush::new(&wasm, policy.world(), &info, &provenance);
    let registry = args.runtime.registry()?;
    let pinned = super::load::runtime()?
        .block_on(registry.push(&reference, &wasm, &artifact))
        .map_err(oci_error)?;
    eprintln!(
        "pushed {} {} ({} bytes) to {reference}",
        info.name,
        info.version,
        wasm.len()
    );
    println!("{pinned}");
    Ok(())
}

pub(super) fn pull_command(args: PullArgs) -> Result<(), CliError> {
    let reference = parse_reference(&args.reference)?;
    let registry = args.runtime.registry()?;
    let pulled = pull(&registry, &reference)?;
    // A pull that cannot load is refused now, not at the first rollout.
    let runtime = args.runtime.runtime()?;
    runtime
        .load_bytes(&pulled.pinned.to_string(), &pulled.wasm)
        .map_err(|err| CliError::bad_input(err, None))?;
    if pulled.tag_from_cache {
        eprintln!("the registry did not answer; {reference} is the digest it resolved to before");
    }
    for signer in &pulled.signers {
        eprintln!("verified: signed by {signer}");
    }
    println!("{}", pulled.pinned);
    Ok(())
}

/// `created`: `$SOURCE_DATE_EPOCH` for reproducible artifacts, else now.
fn created() -> String {
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    crate::kube::rfc3339(seconds * 1000)
}
