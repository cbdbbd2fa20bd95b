//! The `warbler policy` commands on good and bad input: output, messages and
//! exit codes.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/inputs/frontend-step.json"
);
const ERRORS_EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/inputs/frontend-errors.json"
);

fn warbler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warbler"))
        .args(args)
        .arg("--no-cache")
        .output()
        .expect("the warbler binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_input(dir: &Path, text: &str) -> String {
    let path = dir.join("input.json");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn eval_prints_the_verdict_as_json() {
    let output = warbler(&[
        "policy",
        "eval",
        "--policy",
        "builtin:threshold",
        "--input",
        EXAMPLE,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let verdict: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(verdict["decision"]["action"], "advance");
    assert_eq!(verdict["decision"]["weight"], 30);
    assert_eq!(verdict["judgements"][0]["metric"], "request-success-rate");
    assert_eq!(verdict["judgements"][0]["outcome"], "pass");
}

#[test]
fn eval_prints_a_one_line_summary_as_text() {
    let output = warbler(&[
        "policy",
        "eval",
        "-p",
        "builtin:threshold",
        "-i",
        ERRORS_EXAMPLE,
        "-o",
        "text",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        text,
        "hold, failed check: Halt frontend.podinfo advancement request-success-rate 94.80 < 99 \
         [request-success-rate FAIL, request-duration FAIL]\n"
    );
}

#[test]
fn eval_reads_the_input_from_stdin() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_warbler"))
        .args([
            "policy",
            "eval",
            "-p",
            "builtin:threshold",
            "-i",
            "-",
            "--no-cache",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(EXAMPLE).unwrap())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"advance\""));
}

#[test]
fn malformed_json_is_a_bad_input_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), "{ \"canary\": ");
    let output = warbler(&["policy", "eval", "-p", "builtin:threshold", "-i", &input]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("is not a valid policy input"), "{err}");
    assert!(err.contains("hint: "), "{err}");
}

#[test]
fn a_missing_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut input: Value = serde_json::from_slice(&std::fs::read(EXAMPLE).unwrap()).unwrap();
    input.as_object_mut().unwrap().remove("analysis");
    let input = write_input(dir.path(), &input.to_string());
    let output = warbler(&["policy", "eval", "-p", "builtin:threshold", "-i", &input]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("missing field `analysis`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_mistyped_field_is_named_by_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut input: Value = serde_json::from_slice(&std::fs::read(EXAMPLE).unwrap()).unwrap();
    input["state"]["canaryWeight"] = Value::from("twenty");
    let input = write_input(dir.path(), &input.to_string());
    let output = warbler(&["policy", "eval", "-p", "builtin:threshold", "-i", &input]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("at `state.canaryWeight`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_unknown_builtin_is_a_bad_input_listing_the_builtins() {
    let output = warbler(&["policy", "eval", "-p", "builtin:nope", "-i", EXAMPLE]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("there is no built-in policy `nope`"), "{err}");
    assert!(
        err.contains("hint: --policy takes a component file"),
        "{err}"
    );
}

#[test]
fn a_missing_policy_file_is_a_bad_input() {
    let output = warbler(&[
        "policy",
        "eval",
        "-p",
        "/nonexistent/policy.wasm",
        "-i",
        EXAMPLE,
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read policy file /nonexistent/policy.wasm"));
}

#[test]
fn a_policy_that_fails_exits_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut input: Value = serde_json::from_slice(&std::fs::read(EXAMPLE).unwrap()).unwrap();
    input["config"] = serde_json::json!({ "attack": "panic" });
    let input = write_input(dir.path(), &input.to_string());
    let output = warbler(&[
        "policy",
        "eval",
        "-p",
        warbler_test_guests::HOSTILE,
        "-i",
        &input,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("crashed"), "{}", stderr(&output));
}

#[test]
fn inspect_describes_the_builtin_threshold_policy() {
    let output = warbler(&["policy", "inspect", "builtin:threshold"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with("policy        threshold 0.1.0\n"),
        "{text}"
    );
    assert!(text.contains("digest        sha256:"), "{text}");
    assert!(text.contains("warbler:policy/analysis@0.1.1"), "{text}");
    assert!(text.contains("missingMetric"), "{text}");
}

#[test]
fn inspect_as_json_reports_size_and_digest() {
    let output = warbler(&["policy", "inspect", "builtin:threshold", "-o", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["info"]["name"], "threshold");
    assert!(report["size"].as_u64().unwrap() > 10_000);
    assert_eq!(
        report["digest"].as_str().unwrap().len(),
        "sha256:".len() + 64
    );
}

const THRESHOLD_CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/cases/threshold.yaml"
);

#[test]
fn policy_test_passes_the_threshold_case_table() {
    let output = warbler(&["policy", "test", "--cases", THRESHOLD_CASES]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    assert!(stdout.contains("6 cases: 6 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_failing_case_shows_each_differing_field_and_exits_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let table = std::fs::read_to_string(THRESHOLD_CASES)
        .unwrap()
        .replace("weight: 30 }", "weight: 40 }")
        .replace(
            "base: ../inputs/frontend-step.json",
            &format!("base: {EXAMPLE}"),
        );
    let path = dir.path().join("cases.yaml");
    std::fs::write(&path, table).unwrap();
    let output = warbler(&["policy", "test", "--cases", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✘ advances by stepWeight when every metric is within its range\n    decision.weight: expected 40, got 30"),
        "{stdout}"
    );
    assert!(stdout.contains("6 cases: 5 passed, 1 failed"), "{stdout}");
}
