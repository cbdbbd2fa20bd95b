//! The on-disk cache of precompiled components.

use std::path::{Path, PathBuf};

use warbler::policy::RuntimeConfig;
use warbler_guest_sdk::Decision;

use crate::common::{self, frontend_at};

/// A runtime caching in `dir/cache` with its key at `dir/cache.key`.
fn cached_runtime(dir: &Path) -> warbler::policy::PolicyRuntime {
    common::runtime_with(RuntimeConfig {
        cache_dir: Some(dir.join("cache")),
        cache_key: Some(dir.join("cache.key")),
        ..RuntimeConfig::default()
    })
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir.join("cache"))
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

#[test]
fn an_entry_sealed_without_this_users_key_is_rebuilt_not_run() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    common::threshold(&cached_runtime(dir.path()));
    let entry = entries(dir.path()).remove(0);
    let sound = std::fs::read(&entry).unwrap();
    // Someone who can write the cache but not read the key: the artifact
    // with a plain checksum, as an attacker can compute it.
    let artifact = &sound[..sound.len() - 32];
    let mut forged = artifact.to_vec();
    forged.extend_from_slice(&sha2::Sha256::digest(artifact));
    std::fs::write(&entry, &forged).unwrap();

    let verdict = common::threshold(&cached_runtime(dir.path()))
        .evaluate(&frontend_at(20))
        .unwrap();
    assert_eq!(verdict.decision, Decision::Advance { weight: 30 });
    assert_eq!(
        std::fs::read(&entry).unwrap(),
        sound,
        "rebuilt and resealed"
    );
}

#[test]
fn the_cache_key_is_created_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    common::threshold(&cached_runtime(dir.path()));
    let mode = std::fs::metadata(dir.path().join("cache.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_cache_directory_other_users_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let verdict = common::threshold(&cached_runtime(dir.path()))
        .evaluate(&frontend_at(20))
        .unwrap();
    assert_eq!(verdict.decision, Decision::Advance { weight: 30 });
    assert!(entries(dir.path()).is_empty(), "nothing written there");
}

#[test]
fn a_cache_key_other_users_can_read_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cache.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    common::threshold(&cached_runtime(dir.path()));
    assert!(entries(dir.path()).is_empty(), "nothing sealed with it");
}
