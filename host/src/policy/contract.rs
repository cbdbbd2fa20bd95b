//! Checks a component against the contract before it is linked: it must
//! export `warbler:policy/analysis` in a version this host speaks and import
//! nothing beyond the log and run interfaces and the WASI 0.2 interfaces that
//! the sandbox answers without granting anything.

use semver::Version;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::LoadError;

/// The contract version this host speaks, from `wit/policy.wit`.
pub const CONTRACT_VERSION: &str = "0.1.1";

const PACKAGE: &str = "warbler:policy";

/// WASI packages whose 0.2 interfaces are linked, all denying access: what
/// language runtimes (Rust std, CPython, SpiderMonkey) import even when the
/// policy does no I/O.
const WASI_PACKAGES: &[&str] = &[
    "wasi:io",
    "wasi:clocks",
    "wasi:random",
    "wasi:cli",
    "wasi:filesystem",
    "wasi:sockets",
];

/// The component's import and export names, for `policy inspect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct World {
    /// Names the component imports.
    pub imports: Vec<String>,
    /// Names the component exports.
    pub exports: Vec<String>,
}

/// Check `component` and return its world. `what` names it in errors.
pub(crate) fn check(
    engine: &Engine,
    component: &Component,
    what: &str,
) -> Result<World, LoadError> {
    let ty = component.component_type();
    let world = World {
        imports: ty
            .imports(engine)
            .map(|(name, _)| name.to_owned())
            .collect(),
        exports: ty
            .exports(engine)
            .map(|(name, _)| name.to_owned())
            .collect(),
    };

    let analysis = world
        .exports
        .iter()
        .find(|name| interface_of(name) == Some("analysis"))
        .ok_or_else(|| LoadError::NotAPolicy {
            what: what.to_owned(),
        })?;
    check_version(analysis, what)?;

    for import in &world.imports {
        if interface_of(import).is_some() {
            check_version(import, what)?;
        } else if !is_linked_wasi(import) {
            return Err(LoadError::ForbiddenImport {
                what: what.to_owned(),
                import: import.clone(),
            });
        }
    }
    Ok(world)
}

/// `analysis` for `warbler:policy/analysis@0.1.0`; `None` outside our package.
pub(crate) fn interface_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    Some(rest.split('@').next().unwrap_or(rest))
}

fn check_version(name: &str, what: &str) -> Result<(), LoadError> {
    let expected = Version::parse(CONTRACT_VERSION).expect("CONTRACT_VERSION is semver");
    let found = name
        .split_once('@')
        .map(|(_, v)| v)
        .unwrap_or("(unversioned)");
    let compatible = Version::parse(found).is_ok_and(|found| {
        // Semver: 0.x minors are breaking, as majors are from 1.0 on.
        found.major == expected.major && (expected.major > 0 || found.minor == expected.minor)
    });
    if compatible {
        Ok(())
    } else {
        Err(LoadError::ContractVersion {
            what: what.to_owned(),
            interface: name.to_owned(),
            found: found.to_owned(),
            expected: CONTRACT_VERSION.to_owned(),
        })
    }
}

fn is_linked_wasi(name: &str) -> bool {
    let Some((package, version)) = name
        .split_once('/')
        .and_then(|(package, rest)| rest.split_once('@').map(|(_, version)| (package, version)))
    else {
        return false;
    };
    WASI_PACKAGES.contains(&package)
        && Version::parse(version).is_ok_and(|v| v.major == 0 && v.minor == 2)
}
