//! `sha256:<hex>` digests of blobs and manifests.

use sha2::{Digest, Sha256};

/// The OCI digest of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The hex part of a `sha256:` digest, when it is one: 64 lowercase hex
/// digits, nothing else (the only form the store writes to disk).
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(hex)
}
