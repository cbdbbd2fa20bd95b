//! `warbler demo` and `warbler run` as a user runs them: real processes,
//! real signals.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const EXAMPLE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/local/canary.yaml");

pub(crate) fn warbler() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warbler"));
    command.env(
        "WARBLER_CACHE_DIR",
        std::env::temp_dir().join("warbler-test-cache"),
    );
    command
}

/// The processes whose command line contains `marker`.
pub(crate) fn processes_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(marker))
        .collect()
}

pub(crate) fn saved_weight(state: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(state.join("status.json")).ok()?;
    let saved: serde_json::Value = serde_json::from_str(&text).ok()?;
    saved["status"]["canaryWeight"].as_u64()
}

#[test]
fn demo_promotes_the_good_release_and_rolls_back_the_bad_one() {
    let output = warbler()
        .args(["demo", "--interval", "1s"])
        .output()
        .expect("the warbler binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1.1.0 promoted"), "{stdout}");
    assert!(stdout.contains("1.2.0 rolled back"), "{stdout}");
    assert!(stdout.contains("Promotion completed!"), "{stdout}");
    assert!(stdout.contains("Canary failed!"), "{stdout}");
}

#[test]
fn ctrl_c_stops_the_run_and_reaps_every_process_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("ctrl-c-{}", std::process::id());
    let listen = crate::prometheus_server::free_port();
    let canary = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace(
            "warbler, sample-app",
            &format!("{}, sample-app", env!("CARGO_BIN_EXE_warbler")),
        )
        .replace("\"1.0.0\"", &format!("\"1.0.0-{marker}\""))
        .replace("\"1.1.0\"", &format!("\"1.1.0-{marker}\""))
        .replace("interval: 5s", "interval: 1s")
        .replace(
            "  local:\n",
            &format!("  local:\n    listen: 127.0.0.1:{listen}\n"),
        );
    let file = dir.path().join("canary.yaml");
    std::fs::write(&file, canary).unwrap();
    let state = dir.path().join("state");
    let run = warbler()
        .arg("run")
        .arg(&file)
        .arg("--state-dir")
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the warbler binary runs");

    let deadline = Instant::now() + Duration::from_secs(60);
    while saved_weight(&state).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "the run never shifted traffic");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(processes_with(&marker).len(), 2, "primary and canary run");
    let interrupted = Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let output = run.wait_with_output().unwrap();

    assert_eq!(output.status.code(), Some(130));
    assert_eq!(
        processes_with(&marker),
        Vec::<String>::new(),
        "no process left"
    );
    let journal = warbler::journal::FileJournal::read(&state.join("journal.jsonl")).unwrap();
    assert!(
        !journal.is_empty(),
        "every step before the interrupt is in the journal"
    );
}

#[test]
fn run_refuses_a_canary_without_a_local_section_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("canary.yaml");
    let seed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/flagger-frontend-canary.yaml"
    ))
    .unwrap()
    .replace("flagger.app/v1beta1", warbler::canary::API_VERSION);
    std::fs::write(&file, seed).unwrap();
    let output = warbler()
        .arg("run")
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("spec.local is missing"), "{stderr}");
}
