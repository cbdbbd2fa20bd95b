//! `warbler policy new` + the project's build script + `warbler policy test`
//! works from an empty folder in every language.

use std::path::Path;
use std::process::{Command, Output};

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn warbler() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warbler"));
    command.env(
        "WARBLER_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-cache"),
    );
    command
}

/// Create, build and test a `language` project; the output of `policy test`.
fn new_build_and_test(language: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    run(warbler()
        .args(["policy", "new", "my-policy", "--lang", language, "--dir"])
        .arg(dir.path())
        .args(extra));
    let project = dir.path().join("my-policy");
    run(Command::new("sh").arg(project.join("build.sh")).env(
        "CARGO_TARGET_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-target"),
    ));
    let output = run(warbler().args(["policy", "test"]).arg(&project));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_new_rust_policy_builds_and_passes_its_cases() {
    let sdk = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk");
    let report = new_build_and_test("rust", &["--sdk-path", sdk]);
    assert!(report.contains("5 cases: 5 passed, 0 failed"), "{report}");
}

#[test]
fn a_new_python_policy_builds_and_passes_its_cases() {
    let report = new_build_and_test("python", &[]);
    assert!(report.contains("5 cases: 5 passed, 0 failed"), "{report}");
}

#[test]
fn a_new_javascript_policy_builds_and_passes_its_cases() {
    let report = new_build_and_test("js", &[]);
    assert!(report.contains("5 cases: 5 passed, 0 failed"), "{report}");
}
