//! `oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]`, the way a policy in a
//! registry is written everywhere Warbler takes a policy.

use std::fmt;
use std::str::FromStr;

use oci_client::Reference;

use super::OciError;
use super::digest::sha256_hex;

/// The scheme that marks a policy reference as an OCI artifact.
pub const SCHEME: &str = "oci://";

/// A policy artifact in a registry, by tag, by digest or both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OciReference(Reference);

impl OciReference {
    /// The registry's host (and port).
    pub fn registry(&self) -> &str {
        self.0.resolve_registry()
    }

    /// The repository inside the registry.
    pub fn repository(&self) -> &str {
        self.0.repository()
    }

    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.0.tag()
    }

    /// The manifest digest, if the reference is pinned.
    pub fn digest(&self) -> Option<&str> {
        self.0.digest()
    }

    /// The same artifact pinned to `digest`, its tag dropped: what is
    /// recorded once a tag has been resolved.
    pub fn pinned(&self, digest: &str) -> OciReference {
        OciReference(Reference::with_digest(
            self.0.registry().to_owned(),
            self.0.repository().to_owned(),
            digest.to_owned(),
        ))
    }

    /// Where cosign's tag scheme keeps the signatures of manifest `digest`:
    /// tag `sha256-HEX.sig` in `repository` (`REGISTRY/REPOSITORY`), or in
    /// this artifact's repository when none is named.
    pub fn signatures(
        &self,
        digest: &str,
        repository: Option<&str>,
    ) -> Result<OciReference, OciError> {
        let tag =
            super::signature::signature_tag(digest).ok_or_else(|| OciError::BadReference {
                reference: format!("{self}"),
                message: format!("{digest} is not a sha256 digest"),
            })?;
        let repository = repository.map_or_else(
            || format!("{}/{}", self.0.registry(), self.0.repository()),
            |r| {
                r.trim_start_matches(SCHEME)
                    .trim_end_matches('/')
                    .to_owned()
            },
        );
        format!("{SCHEME}{repository}:{tag}").parse()
    }

    pub(crate) fn as_reference(&self) -> &Reference {
        &self.0
    }
}

impl FromStr for OciReference {
    type Err = OciError;

    /// Parses `oci://…`; the scheme is required, so a file path is never
    /// taken for a registry.
    fn from_str(s: &str) -> Result<Self, OciError> {
        let bad = |message: String| OciError::BadReference {
            reference: s.to_owned(),
            message,
        };
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad(format!("it does not start with {SCHEME}")))?;
        let (name, _) = rest.split_once('@').unwrap_or((rest, ""));
        let host = name.split('/').next().unwrap_or_default();
        // Docker's short names (`ubuntu`, `library/x`) would silently mean
        // Docker Hub; a policy reference names its registry.
        if !name.contains('/') || !(host.contains('.') || host.contains(':') || host == "localhost")
        {
            return Err(bad(
                "it names no registry host (e.g. ghcr.io/org/policy:1.0 or 127.0.0.1:5000/policy:1.0)"
                    .to_owned(),
            ));
        }
        let reference = Reference::from_str(rest).map_err(|err| bad(err.to_string()))?;
        if let Some(digest) = reference.digest()
            && sha256_hex(digest).is_none()
        {
            return Err(bad(format!(
                "its digest `{digest}` is not sha256:<64 lowercase hex digits>"
            )));
        }
        Ok(OciReference(reference))
    }
}

impl fmt::Display for OciReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.0.whole())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_with_a_tag_keeps_registry_repository_and_tag() {
        let r: OciReference = "oci://127.0.0.1:5000/team/zscore:1.2".parse().unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag(), r.digest()),
            ("127.0.0.1:5000", "team/zscore", Some("1.2"), None)
        );
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/team/zscore:1.2");
    }

    #[test]
    fn pinning_drops_the_tag_and_keeps_the_digest() {
        let r: OciReference = "oci://ghcr.io/org/p:1".parse().unwrap();
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            r.pinned(&digest).to_string(),
            format!("oci://ghcr.io/org/p@{digest}")
        );
    }

    #[test]
    fn signatures_are_beside_the_artifact_unless_another_repository_is_named() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let artifact: OciReference = "oci://registry.test:5000/team/policy:1.0".parse().unwrap();
        let tag = format!("sha256-{}.sig", "a".repeat(64));
        assert_eq!(
            artifact.signatures(&digest, None).unwrap().to_string(),
            format!("oci://registry.test:5000/team/policy:{tag}")
        );
        assert_eq!(
            artifact
                .signatures(&digest, Some("mirror.test/signatures"))
                .unwrap()
                .to_string(),
            format!("oci://mirror.test/signatures:{tag}")
        );
    }

    #[test]
    fn a_reference_without_a_registry_host_is_refused() {
        let err = "oci://zscore:1".parse::<OciReference>().unwrap_err();
        assert!(err.to_string().contains("names no registry host"), "{err}");
    }

    #[test]
    fn a_digest_that_is_not_sha256_is_refused() {
        let err = "oci://ghcr.io/org/p@sha512:abc"
            .parse::<OciReference>()
            .unwrap_err();
        assert!(err.to_string().contains("oci://"), "{err}");
    }
}
