//! `warbler policy new`, the project's build script, `warbler policy test`
//! and `warbler run` work from an empty folder in every language: the
//! scaffolded policy promotes a healthy release.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::run_faults::Fixture;

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

/// Create, build and test a `language` project: its folder (kept until the
/// returned guard drops) and the output of `policy test`.
fn new_build_and_test(language: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf, String) {
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
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    (dir, project, report)
}

/// `warbler run` of the example Canary with the `project`'s policy, under
/// load, the canary healthy, promotes.
fn promotes_a_healthy_release(language: &str, project: &Path) {
    let policy = project.join("policy.wasm");
    let fixture = Fixture::edited(&format!("scaffold-{language}"), |text| {
        text + &format!(
            "    policy: {{ ref: {:?} }}\n",
            policy.display().to_string()
        )
    });
    let (code, text) = fixture.run_under_load(90);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("promoted: the primary now runs"), "{text}");
}

#[test]
fn a_new_rust_policy_builds_passes_its_cases_and_promotes_a_healthy_release() {
    let sdk = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk");
    let (_dir, project, report) = new_build_and_test("rust", &["--sdk-path", sdk]);
    assert!(report.contains("7 cases: 7 passed, 0 failed"), "{report}");
    promotes_a_healthy_release("rust", &project);
}

#[test]
fn a_new_python_policy_builds_passes_its_cases_and_promotes_a_healthy_release() {
    let (_dir, project, report) = new_build_and_test("python", &[]);
    assert!(report.contains("7 cases: 7 passed, 0 failed"), "{report}");
    promotes_a_healthy_release("python", &project);
}

#[test]
fn a_new_javascript_policy_builds_passes_its_cases_and_promotes_a_healthy_release() {
    let (_dir, project, report) = new_build_and_test("js", &[]);
    assert!(report.contains("7 cases: 7 passed, 0 failed"), "{report}");
    promotes_a_healthy_release("js", &project);
}

#[test]
fn policy_new_prints_the_install_hint_with_the_projects_path() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(warbler()
        .args(["policy", "new", "hinted", "--lang", "python", "--dir"])
        .arg(dir.path()));
    let text = String::from_utf8_lossy(&output.stdout);
    let requirements = dir.path().join("hinted/requirements.txt");
    assert!(
        text.contains(&format!("pip install -r {}", requirements.display())),
        "{text}"
    );
}
