//! `warbler policy new`: a ready-to-build policy project in Rust, Python or
//! JavaScript — the policy, the contract's WIT, the SDK's helpers (a crate
//! for Rust, a module copied in for Python and JavaScript), a build script,
//! an example input and a case table that `warbler policy test` runs.

use std::path::{Path, PathBuf};

/// The language of a new policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust with `warbler-guest-sdk` (cargo, target wasm32-wasip2).
    Rust,
    /// Python with componentize-py.
    Python,
    /// JavaScript with componentize-js.
    Js,
}

/// Why a project could not be created.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScaffoldError(String);

const WIT: &str = include_str!("../../wit/policy.wit");
const CASES: &str = include_str!("../templates/common/cases.yaml");
const INPUT: &str = include_str!("../templates/common/input.json");
const GITIGNORE: &str = "policy.wasm\ntarget/\nnode_modules/\n__pycache__/\n";

/// Where the Rust SDK comes from when no local checkout is given.
const SDK_GIT: &str = concat!("{ git = \"", env!("CARGO_PKG_REPOSITORY"), "\" }");

fn files(language: Language) -> Vec<(&'static str, &'static str)> {
    let mut files = vec![
        ("cases.yaml", CASES),
        ("input.json", INPUT),
        (".gitignore", GITIGNORE),
    ];
    files.extend(match language {
        Language::Rust => vec![
            ("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
            // The linker settings of this repository's own policies.
            (
                ".cargo/config.toml",
                include_str!("../../.cargo/config.toml"),
            ),
            ("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
            ("build.sh", include_str!("../templates/rust/build.sh")),
        ],
        Language::Python => vec![
            ("app.py", include_str!("../templates/python/app.py")),
            (
                "requirements.txt",
                include_str!("../templates/python/requirements.txt"),
            ),
            ("build.sh", include_str!("../templates/python/build.sh")),
            (
                "warbler_policy.py",
                include_str!("../../guest-sdk/python/warbler_policy.py"),
            ),
            ("wit/policy.wit", WIT),
        ],
        Language::Js => vec![
            ("policy.js", include_str!("../templates/js/policy.js")),
            ("package.json", include_str!("../templates/js/package.json")),
            ("build.sh", include_str!("../templates/js/build.sh")),
            (
                "warbler-policy.js",
                include_str!("../../guest-sdk/js/warbler-policy.js"),
            ),
            ("wit/policy.wit", WIT),
        ],
    });
    files
}

/// Create the project `name` in `parent/name`. A Rust project depends on the
/// SDK at `sdk_path` when given (an offline checkout), else on the
/// repository. Returns the project's folder.
pub fn create(
    parent: &Path,
    name: &str,
    language: Language,
    sdk_path: Option<&Path>,
) -> Result<PathBuf, ScaffoldError> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(ScaffoldError(format!(
            "`{name}` is not a policy name; use lowercase letters, digits and dashes, e.g. `slo-burn`"
        )));
    }
    let dir = parent.join(name);
    if dir
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        return Err(ScaffoldError(format!(
            "{} already exists and is not empty; pick another name or --dir",
            dir.display()
        )));
    }
    let sdk = match sdk_path {
        Some(path) => {
            let path = std::fs::canonicalize(path).map_err(|err| {
                ScaffoldError(format!(
                    "--sdk-path {}: {err}; give the guest-sdk folder of a Warbler checkout",
                    path.display()
                ))
            })?;
            format!("{{ path = {:?} }}", path.display().to_string())
        }
        None => SDK_GIT.to_owned(),
    };
    for (path, template) in files(language) {
        let text = template
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{sdk}}", &sdk);
        let path = dir.join(path);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|err| {
                ScaffoldError(format!("cannot create {}: {err}", folder.display()))
            })?;
        }
        std::fs::write(&path, text)
            .map_err(|err| ScaffoldError(format!("cannot write {}: {err}", path.display())))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_capitals_or_spaces_is_refused_with_an_example() {
        let dir = tempfile::tempdir().unwrap();
        let err = create(dir.path(), "My Policy", Language::Python, None).unwrap_err();
        assert!(err.to_string().contains("e.g. `slo-burn`"), "{err}");
    }

    #[test]
    fn an_existing_project_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        create(dir.path(), "p", Language::Js, None).unwrap();
        let err = create(dir.path(), "p", Language::Js, None).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
    }

    #[test]
    fn a_rust_project_names_its_crate_and_the_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let project = create(dir.path(), "slo-burn", Language::Rust, None).unwrap();
        let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
        assert!(manifest.contains(r#"name = "slo-burn""#), "{manifest}");
        assert!(
            manifest.contains("warbler-guest-sdk = { git = "),
            "{manifest}"
        );
        let build = std::fs::read_to_string(project.join("build.sh")).unwrap();
        assert!(build.contains("release/slo_burn.wasm"), "{build}");
    }
}
