//! `warbler demo` and `warbler run` as a user runs them: real processes,
//! real signals.

use std::path::Path;
use std::process::Command;

use crate::run_faults::{Fixture, signal};

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
    let fixture = Fixture::new("ctrl-c");
    let run = fixture.run(&[]);
    fixture.wait_for_weight(0);
    assert_eq!(fixture.releases().len(), 2, "primary and canary run");
    signal(&run, "INT");
    let output = run.wait_with_output().unwrap();

    assert_eq!(output.status.code(), Some(130));
    assert_eq!(fixture.releases(), Vec::<String>::new(), "no process left");
    let journal =
        warbler::journal::FileJournal::read(&fixture.state.join("journal.jsonl")).unwrap();
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
