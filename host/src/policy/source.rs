//! Where a policy's component comes from: a built-in, a file or an OCI
//! registry.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::error::LoadError;
use crate::oci::OciReference;

/// The policies compiled into this binary, by name.
const BUILTINS: &[(&str, &[u8])] = &[
    (
        "threshold",
        include_bytes!(concat!(
            env!("WARBLER_BUILTIN_POLICY_DIR"),
            "/warbler_policy_threshold.wasm"
        )),
    ),
    (
        "compare",
        include_bytes!(concat!(
            env!("WARBLER_BUILTIN_POLICY_DIR"),
            "/warbler_policy_compare.wasm"
        )),
    ),
    (
        "slo-burn",
        include_bytes!(concat!(
            env!("WARBLER_BUILTIN_POLICY_DIR"),
            "/warbler_policy_slo_burn.wasm"
        )),
    ),
];

/// A reference to a policy component: `builtin:NAME`, `oci://…` or a file
/// path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// A policy embedded in the binary.
    Builtin(&'static str),
    /// A `.wasm` component on disk.
    File(PathBuf),
    /// An artifact in an OCI registry, pulled through
    /// [`crate::oci::PolicyRegistry`] before it loads.
    Oci(OciReference),
}

impl PolicySource {
    /// The names of the built-in policies.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTINS.iter().map(|(name, _)| *name)
    }

    /// The component's bytes, for a built-in or a file.
    pub fn read(&self) -> Result<Cow<'static, [u8]>, LoadError> {
        match self {
            PolicySource::Builtin(name) => Ok(Cow::Borrowed(
                BUILTINS
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, bytes)| *bytes)
                    .expect("a Builtin source names an embedded policy"),
            )),
            PolicySource::File(path) => {
                std::fs::read(path)
                    .map(Cow::Owned)
                    .map_err(|source| LoadError::Read {
                        path: path.clone(),
                        source,
                    })
            }
            PolicySource::Oci(reference) => Err(LoadError::NotPulled {
                reference: reference.to_string(),
            }),
        }
    }
}

impl FromStr for PolicySource {
    type Err = LoadError;

    fn from_str(s: &str) -> Result<Self, LoadError> {
        if s.starts_with(crate::oci::SCHEME) {
            return s
                .parse()
                .map(PolicySource::Oci)
                .map_err(LoadError::Registry);
        }
        match s.strip_prefix("builtin:") {
            Some(name) => BUILTINS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(n, _)| PolicySource::Builtin(n))
                .ok_or_else(|| LoadError::UnknownBuiltin {
                    name: name.to_owned(),
                    available: Self::builtin_names()
                        .map(|n| format!("builtin:{n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            None => Ok(PolicySource::File(PathBuf::from(s))),
        }
    }
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicySource::Builtin(name) => write!(f, "builtin:{name}"),
            PolicySource::File(path) => write!(f, "{}", path.display()),
            PolicySource::Oci(reference) => write!(f, "{reference}"),
        }
    }
}
