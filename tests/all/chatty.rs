//! Guests that print and raise, in Rust, Python and JavaScript, through
//! every path that evaluates a policy: `policy eval`, `policy test` and
//! `warbler run`, whose judge is the one the controller uses. Output goes
//! to the log; a raise is a failed check; nothing crashes the host.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::languages::build_guest;
use crate::run_faults::{Fixture, stop};

const GUESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/guests");
const STEP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/inputs/frontend-step.json"
);

/// A chatty guest in one language: its component, the config that makes
/// it raise, the config that keeps it healthy, and the text of its raise.
struct Chatty {
    language: &'static str,
    component: PathBuf,
    healthy: serde_json::Value,
    raising: serde_json::Value,
    raise_text: &'static str,
}

fn guests() -> [Chatty; 3] {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    static JAVASCRIPT: OnceLock<PathBuf> = OnceLock::new();
    let python = PYTHON.get_or_init(|| {
        build_guest(
            &Path::new(GUESTS).join("chatty-python"),
            "install componentize-py (tests/run.sh does)",
        )
    });
    let javascript = JAVASCRIPT.get_or_init(|| {
        build_guest(
            &Path::new(GUESTS).join("chatty-js"),
            "install Node.js and npm (tests/run.sh does)",
        )
    });
    [
        Chatty {
            language: "rust",
            component: warbler_test_guests::HOSTILE.into(),
            healthy: serde_json::json!({ "attack": "chatty" }),
            raising: serde_json::json!({ "attack": "panic" }),
            raise_text: "hostile policy panics on purpose",
        },
        Chatty {
            language: "python",
            component: python.clone(),
            healthy: serde_json::Value::Null,
            raising: serde_json::json!({ "raise": true }),
            raise_text: "chatty python raises on purpose",
        },
        Chatty {
            language: "javascript",
            component: javascript.clone(),
            healthy: serde_json::Value::Null,
            raising: serde_json::json!({ "raise": true }),
            raise_text: "chatty js throws on purpose",
        },
    ]
}

fn warbler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warbler"))
        .args(args)
        .env(
            "WARBLER_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-cache"),
        )
        .env("WARBLER_LOG", "info")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The seed step's input with `config`, written to `dir`.
fn input_with(dir: &Path, config: &serde_json::Value) -> PathBuf {
    let mut input: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(STEP).unwrap()).unwrap();
    input["config"] = config.clone();
    let path = dir.join(format!("input-{}.json", config.to_string().len()));
    std::fs::write(&path, input.to_string()).unwrap();
    path
}

#[test]
fn policy_eval_logs_a_chatty_guests_output_and_reports_a_raising_guests_error() {
    let dir = tempfile::tempdir().unwrap();
    for guest in guests() {
        let policy = guest.component.to_str().unwrap();
        let healthy = input_with(dir.path(), &guest.healthy);
        let output = warbler(&[
            "policy",
            "eval",
            "-p",
            policy,
            "-i",
            healthy.to_str().unwrap(),
        ]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {}",
            guest.language,
            text(&output)
        );
        let verdict: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            verdict["decision"]["action"], "advance",
            "{}",
            guest.language
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("guest output") && stderr.contains("stdout line 0"),
            "{}: the output is logged, attributed: {stderr}",
            guest.language
        );

        let raising = input_with(dir.path(), &guest.raising);
        let output = warbler(&[
            "policy",
            "eval",
            "-p",
            policy,
            "-i",
            raising.to_str().unwrap(),
        ]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: {}",
            guest.language,
            text(&output)
        );
        assert!(
            text(&output).contains(guest.raise_text),
            "{}: the guest's own message is shown: {}",
            guest.language,
            text(&output)
        );
    }
}

#[test]
fn policy_test_runs_a_case_table_through_chatty_guests() {
    let dir = tempfile::tempdir().unwrap();
    for guest in guests() {
        let table = dir.path().join(format!("{}.yaml", guest.language));
        std::fs::write(
            &table,
            format!(
                "policy: {}\nbase: {STEP}\ncases:\n- name: a chatty guest advances\n  input: {{ config: {} }}\n  expect:\n    decision: {{ action: advance, weight: 30 }}\n",
                guest.component.display(),
                guest.healthy
            ),
        )
        .unwrap();
        let output = warbler(&["policy", "test", "--cases", table.to_str().unwrap()]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {}",
            guest.language,
            text(&output)
        );
    }
}

/// `warbler run` of the example Canary decided by `guest` with `config`,
/// with traffic; its output.
fn run_with(guest: &Chatty, config: &serde_json::Value) -> Output {
    let fixture = Fixture::edited(&format!("chatty-{}", guest.language), |text| {
        text + &format!(
            "    policy: {{ ref: \"{}\", config: {config} }}\n",
            guest.component.display()
        )
    });
    let load = fixture.load(60);
    let output = fixture.run(&["--log", "info"]).wait_with_output().unwrap();
    stop(load);
    output
}

#[test]
fn warbler_run_is_decided_by_a_chatty_guest_and_rolls_back_a_raising_one() {
    for guest in guests() {
        let output = run_with(&guest, &guest.healthy);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {}",
            guest.language,
            text(&output)
        );
        assert!(text(&output).contains("guest output"), "{}", guest.language);

        let output = run_with(&guest, &guest.raising);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: {}",
            guest.language,
            text(&output)
        );
        assert!(
            text(&output).contains("failed checks threshold reached 2"),
            "{}: {}",
            guest.language,
            text(&output)
        );
    }
}
