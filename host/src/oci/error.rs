//! What can go wrong between a policy and a registry. Every message names
//! the reference and says what to do.

/// A policy could not be pushed, pulled or read from the store.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The reference does not parse.
    #[error(
        "`{reference}` is not an OCI reference: {message}; write oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST"
    )]
    BadReference {
        /// What was given.
        reference: String,
        /// The parser's explanation.
        message: String,
    },
    /// The registry could not be reached or refused the request.
    #[error(
        "registry request for {reference} failed: {message}; check the address, your credentials (docker login), for a registry without TLS --insecure-registry, and for one whose certificate a private CA issued --registry-ca"
    )]
    Registry {
        /// The reference asked for.
        reference: String,
        /// What the registry or the connection said.
        message: String,
    },
    /// The registry answered that the repository, tag or digest does not
    /// exist.
    #[error(
        "{reference} does not exist in its registry ({message}); check the repository, tag and digest (`skopeo list-tags docker://REGISTRY/REPOSITORY` lists the tags)"
    )]
    NotFound {
        /// The reference asked for.
        reference: String,
        /// What the registry said.
        message: String,
    },
    /// The registry is not there and the store holds nothing for the
    /// reference.
    #[error(
        "cannot pull {reference}: {message}, and it is not in the policy cache; bring the registry back or pin a digest that was pulled before"
    )]
    Unavailable {
        /// The reference asked for.
        reference: String,
        /// Why the registry could not serve it.
        message: String,
    },
    /// The artifact is not a policy Warbler can run.
    #[error("{reference} is not a Warbler policy artifact: {message}")]
    NotAPolicyArtifact {
        /// The reference.
        reference: String,
        /// What was found instead, and what would do.
        message: String,
    },
    /// A blob is larger than allowed.
    #[error(
        "{reference}: {what} is {size} bytes, over the {limit}-byte limit; raise --max-policy-size if the policy really is that large"
    )]
    TooLarge {
        /// The reference.
        reference: String,
        /// Which blob.
        what: &'static str,
        /// Its size (declared, or read so far).
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// Bytes do not match the digest they were asked for by.
    #[error(
        "{reference}: {what} has digest {actual}, not the {expected} it was asked for by; the registry or a proxy altered it, so it is not used"
    )]
    DigestMismatch {
        /// The reference.
        reference: String,
        /// Which blob.
        what: &'static str,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The local store could not be used.
    #[error("policy cache {path}: {message}; check its permissions or set WARBLER_CACHE_DIR")]
    Store {
        /// The file or directory.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A public key given to verify signatures with is not one.
    #[error(
        "verification key {key}: {message}; give the public key `cosign generate-key-pair` writes (cosign.pub: PEM, ECDSA P-256)"
    )]
    BadKey {
        /// Where the key came from.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The signature requirement itself cannot be met.
    #[error("signature verification: {0}")]
    BadTrust(String),
    /// Signatures are required and the registry holds none for the policy.
    #[error(
        "{reference} is not signed: there is no {signatures}; sign it with `cosign sign --key cosign.key {cosign_reference}`, or name the repository its signatures are in"
    )]
    Unsigned {
        /// The pinned policy.
        reference: String,
        /// The same, as cosign writes it (no scheme).
        cosign_reference: String,
        /// Where its signatures were looked for.
        signatures: String,
    },
    /// The policy's signatures do not meet the requirement.
    #[error(
        "{reference} is refused, it is not signed as required: {message}; check the trusted keys (each signer's cosign.pub) and the minimum"
    )]
    NotSigned {
        /// The pinned policy.
        reference: String,
        /// What was found.
        message: String,
    },
    /// A file to push could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}
