//! Cosign-compatible keyed signatures: who must have signed a policy before
//! it runs, and the check of the signatures found against them.
//!
//! Cosign's tag scheme: the signatures of manifest `sha256:HEX` are the
//! layers of the manifest tagged `sha256-HEX.sig` (in the artifact's
//! repository or another one). Each layer is a simple-signing payload that
//! names the signed digest, with its ECDSA P-256 / SHA-256 signature (DER,
//! base64) in the `dev.cosignproject.cosign/signature` annotation.

use std::collections::BTreeMap;

use base64::Engine;
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

use super::OciError;
use super::digest::{sha256, sha256_hex};

/// The media type of a cosign simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `critical.type` of a cosign payload.
const PAYLOAD_TYPE: &str = "cosign container image signature";

/// The DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey,
/// prime256v1, a 66-byte bit string): what is left is the uncompressed
/// point ring verifies with.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A public key a policy may be signed with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrustedKey {
    /// How messages name it: where it came from and its fingerprint.
    name: String,
    /// The uncompressed P-256 point.
    point: Vec<u8>,
}

impl TrustedKey {
    /// The key in `pem` (a `PUBLIC KEY` block, as `cosign generate-key-pair`
    /// writes to `cosign.pub`), named `origin` in messages.
    pub fn from_pem(origin: &str, pem: &str) -> Result<Self, OciError> {
        let bad = |message: String| OciError::BadKey {
            key: origin.to_owned(),
            message,
        };
        let block = pem::parse(pem.trim()).map_err(|err| bad(format!("not PEM ({err})")))?;
        if block.tag() != "PUBLIC KEY" {
            return Err(bad(format!(
                "a `{}` block, not a `PUBLIC KEY` one (is it the private key?)",
                block.tag()
            )));
        }
        let point = block
            .contents()
            .strip_prefix(&P256_SPKI_PREFIX)
            .filter(|point| point.len() == 65 && point[0] == 4)
            .ok_or_else(|| bad("not an ECDSA P-256 public key".to_owned()))?;
        let fingerprint = sha256(block.contents());
        Ok(TrustedKey {
            name: format!("{origin} ({})", &fingerprint[7..19]),
            point: point.to_vec(),
        })
    }

    fn verifies(&self, payload: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.point)
            .verify(payload, signature)
            .is_ok()
    }
}

/// Who must have signed a policy: at least `minimum` of `keys`, with the
/// signatures in `repository` (`REGISTRY/REPOSITORY`) or, when none is
/// named, beside the policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
    minimum: usize,
    repository: Option<String>,
}

impl TrustedKeys {
    /// The requirement, refused when it cannot be met (no key, or a minimum
    /// over the number of keys) so that a typo never reads as "unsigned".
    pub fn new(
        keys: Vec<TrustedKey>,
        minimum: usize,
        repository: Option<String>,
    ) -> Result<Self, OciError> {
        if keys.is_empty() {
            return Err(OciError::BadTrust(
                "no public key to verify signatures with; give one or more".to_owned(),
            ));
        }
        if minimum == 0 || minimum > keys.len() {
            return Err(OciError::BadTrust(format!(
                "a minimum of {minimum} signatures from {} key(s) can never be met; use 1 to {}",
                keys.len(),
                keys.len()
            )));
        }
        Ok(TrustedKeys {
            keys,
            minimum,
            repository,
        })
    }

    /// The `REGISTRY/REPOSITORY` the signatures are in, when not beside the
    /// policy.
    pub fn repository(&self) -> Option<&str> {
        self.repository.as_deref()
    }

    /// Check `signatures` of the manifest `digest`: the names of the keys
    /// that signed it when at least `minimum` did, else why not.
    pub fn verify(
        &self,
        digest: &str,
        signatures: &[SignatureLayer],
    ) -> Result<Vec<String>, String> {
        let mut signers = BTreeMap::new();
        let mut findings = Vec::new();
        for (index, layer) in signatures.iter().enumerate() {
            let Some(encoded) = &layer.signature else {
                findings.push(format!("layer {index} carries no {SIGNATURE_ANNOTATION}"));
                continue;
            };
            let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(encoded.trim())
            else {
                findings.push(format!("layer {index}: its signature is not base64"));
                continue;
            };
            let Some(key) = self
                .keys
                .iter()
                .position(|key| key.verifies(&layer.payload, &signature))
            else {
                findings.push(format!(
                    "layer {index} is signed by none of the trusted keys"
                ));
                continue;
            };
            match signed_digest(&layer.payload) {
                Ok(signed) if signed == digest => {
                    signers.insert(key, self.keys[key].name.clone());
                }
                Ok(signed) => findings.push(format!(
                    "layer {index} is signed by {} but for {signed}, another manifest",
                    self.keys[key].name
                )),
                Err(why) => findings.push(format!(
                    "layer {index} is signed by {} but {why}",
                    self.keys[key].name
                )),
            }
        }
        if signers.len() >= self.minimum {
            return Ok(signers.into_values().collect());
        }
        let mut message = format!(
            "{} of the {} trusted key(s) signed {digest}, and {} must",
            signers.len(),
            self.keys.len(),
            self.minimum
        );
        if !signers.is_empty() {
            let names: Vec<_> = signers.into_values().collect();
            message.push_str(&format!(" (signed by {})", names.join(", ")));
        }
        if !findings.is_empty() {
            message.push_str(&format!(": {}", findings.join("; ")));
        }
        Err(message)
    }
}

/// One signature layer: the payload's bytes and the annotation's value.
#[derive(Debug, Clone)]
pub struct SignatureLayer {
    /// The simple-signing payload, as signed.
    pub payload: Vec<u8>,
    /// The base64 DER signature, if the layer has one.
    pub signature: Option<String>,
}

/// The manifest digest a simple-signing payload vouches for.
fn signed_digest(payload: &[u8]) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|err| format!("its payload is not JSON ({err})"))?;
    let critical = &value["critical"];
    if critical["type"] != PAYLOAD_TYPE {
        return Err(format!(
            "its payload's critical.type is {}, not {PAYLOAD_TYPE:?}",
            critical["type"]
        ));
    }
    critical["image"]["docker-manifest-digest"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "its payload names no critical.image.docker-manifest-digest".to_owned())
}

/// The tag cosign gives the signatures of manifest `digest`.
pub fn signature_tag(digest: &str) -> Option<String> {
    sha256_hex(digest).map(|hex| format!("sha256-{hex}.sig"))
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    use super::*;

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    struct Signer(EcdsaKeyPair);

    impl Signer {
        fn new() -> Signer {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
            Signer(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap(),
            )
        }

        fn key(&self, name: &str) -> TrustedKey {
            let mut spki = P256_SPKI_PREFIX.to_vec();
            spki.extend_from_slice(self.0.public_key().as_ref());
            TrustedKey::from_pem(name, &pem::encode(&pem::Pem::new("PUBLIC KEY", spki))).unwrap()
        }

        fn sign(&self, digest: &str) -> SignatureLayer {
            let payload = serde_json::to_vec(&serde_json::json!({
                "critical": {
                    "identity": { "docker-reference": "registry.test/policy" },
                    "image": { "docker-manifest-digest": digest },
                    "type": PAYLOAD_TYPE,
                },
                "optional": null,
            }))
            .unwrap();
            let signature = self.0.sign(&SystemRandom::new(), &payload).unwrap();
            SignatureLayer {
                signature: Some(
                    base64::engine::general_purpose::STANDARD.encode(signature.as_ref()),
                ),
                payload,
            }
        }
    }

    fn trust(keys: Vec<TrustedKey>, minimum: usize) -> TrustedKeys {
        TrustedKeys::new(keys, minimum, None).unwrap()
    }

    #[test]
    fn a_signature_by_a_trusted_key_over_the_digest_verifies() {
        let alice = Signer::new();
        let signers = trust(vec![alice.key("alice")], 1)
            .verify(DIGEST, &[alice.sign(DIGEST)])
            .unwrap();
        assert_eq!(signers.len(), 1);
        assert!(signers[0].starts_with("alice ("), "{signers:?}");
    }

    #[test]
    fn a_signature_by_another_key_is_refused() {
        let err = trust(vec![Signer::new().key("alice")], 1)
            .verify(DIGEST, &[Signer::new().sign(DIGEST)])
            .unwrap_err();
        assert!(err.contains("none of the trusted keys"), "{err}");
    }

    #[test]
    fn a_signature_of_another_manifest_is_refused() {
        let alice = Signer::new();
        let other = DIGEST.replace('1', "2");
        let err = trust(vec![alice.key("alice")], 1)
            .verify(DIGEST, &[alice.sign(&other)])
            .unwrap_err();
        assert!(err.contains("another manifest"), "{err}");
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let alice = Signer::new();
        let mut layer = alice.sign(DIGEST);
        layer.payload.push(b' ');
        let err = trust(vec![alice.key("alice")], 1)
            .verify(DIGEST, &[layer])
            .unwrap_err();
        assert!(err.contains("none of the trusted keys"), "{err}");
    }

    #[test]
    fn the_minimum_counts_distinct_keys_not_signatures() {
        let (alice, bob) = (Signer::new(), Signer::new());
        let keys = trust(vec![alice.key("alice"), bob.key("bob")], 2);
        let err = keys
            .verify(DIGEST, &[alice.sign(DIGEST), alice.sign(DIGEST)])
            .unwrap_err();
        assert!(err.starts_with("1 of the 2 trusted key(s)"), "{err}");
        assert_eq!(
            keys.verify(DIGEST, &[alice.sign(DIGEST), bob.sign(DIGEST)])
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_minimum_over_the_number_of_keys_is_refused() {
        let err = TrustedKeys::new(vec![Signer::new().key("alice")], 2, None).unwrap_err();
        assert!(err.to_string().contains("can never be met"), "{err}");
    }

    #[test]
    fn a_private_key_is_refused_as_a_trusted_key() {
        let pem = pem::encode(&pem::Pem::new("EC PRIVATE KEY", vec![1, 2, 3]));
        let err = TrustedKey::from_pem("cosign.key", &pem).unwrap_err();
        assert!(err.to_string().contains("is it the private key?"), "{err}");
    }

    #[test]
    fn signatures_are_tagged_by_the_digest() {
        assert_eq!(
            signature_tag(DIGEST).unwrap(),
            format!("sha256-{}.sig", "1".repeat(64))
        );
    }
}
