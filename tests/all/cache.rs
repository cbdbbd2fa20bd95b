//! The on-disk cache of precompiled components.

use std::path::{Path, PathBuf};

use warbler::policy::RuntimeConfig;
use warbler_guest_sdk::Decision;

use crate::common::{self, frontend_at};

fn cached_runtime(dir: &Path) -> warbler::policy::PolicyRuntime {
    common::runtime_with(RuntimeConfig {
        cache_dir: Some(dir.to_owned()),
        ..RuntimeConfig::default()
    })
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    entries.sort();
    entries
}

#[test]
fn a_loaded_policy_is_cached_by_digest() {
    let dir = tempfile::tempdir().unwrap();
    let policy = common::threshold(&cached_runtime(dir.path()));
    let entries = entries(dir.path());
    assert_eq!(entries.len(), 1);
    let name = entries[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with(policy.digest()), "{name}");
}

#[test]
fn a_cached_policy_is_reused_by_the_next_runtime() {
    let dir = tempfile::tempdir().unwrap();
    common::threshold(&cached_runtime(dir.path()));
    let entry = entries(dir.path()).remove(0);
    let written = std::fs::metadata(&entry).unwrap().modified().unwrap();
    let verdict = common::threshold(&cached_runtime(dir.path()))
        .evaluate(&frontend_at(20))
        .unwrap();
    assert_eq!(verdict.decision, Decision::Advance { weight: 30 });
    assert_eq!(
        std::fs::metadata(&entry).unwrap().modified().unwrap(),
        written
    );
}

#[test]
fn a_corrupt_cache_entry_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    common::threshold(&cached_runtime(dir.path()));
    let entry = entries(dir.path()).remove(0);
    let sound = std::fs::read(&entry).unwrap();
    let mut corrupt = sound.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0xff;
    std::fs::write(&entry, &corrupt).unwrap();

    let verdict = common::threshold(&cached_runtime(dir.path()))
        .evaluate(&frontend_at(20))
        .unwrap();
    assert_eq!(verdict.decision, Decision::Advance { weight: 30 });
    assert_eq!(
        std::fs::read(&entry).unwrap(),
        sound,
        "the entry was rebuilt"
    );
}

#[test]
fn a_truncated_cache_entry_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    common::threshold(&cached_runtime(dir.path()));
    let entry = entries(dir.path()).remove(0);
    std::fs::write(&entry, b"short").unwrap();
    common::threshold(&cached_runtime(dir.path()));
    assert!(std::fs::metadata(&entry).unwrap().len() > 1000);
}
