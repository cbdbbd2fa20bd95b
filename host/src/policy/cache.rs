//! Precompiled components on disk, keyed by the component's sha256 and the
//! engine's compatibility hash. A precompiled artifact is native code, so an
//! entry is trusted only if this user's Warbler wrote it: each is sealed with
//! an HMAC-SHA256 under a key kept outside the cache directory (readable by
//! its owner only), and a cache directory other users can write is refused.
//! A corrupt or foreign entry is rebuilt, never run.

use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ring::hmac;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Length of the HMAC-SHA256 trailer that seals each entry.
const SEAL_LEN: usize = 32;

/// A directory of precompiled components.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
    seal_key: hmac::Key,
}

impl ArtifactCache {
    /// A cache in `dir` for components compiled by `engine`, sealed with the
    /// key in `key_file` (created on first use). Refused, with what to do,
    /// when other users could write the directory or read the key.
    pub(crate) fn open(dir: PathBuf, key_file: &Path, engine: &Engine) -> Result<Self, String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|err| format!("cannot create the policy cache {}: {err}", dir.display()))?;
        check_private(&dir, 0o022, "writable by other users", "chmod go-w")?;
        let seal_key = hmac::Key::new(hmac::HMAC_SHA256, &read_or_create_key(key_file)?);
        // The compatibility hash covers the wasmtime version and every
        // setting that changes generated code (fuel, epochs, ...).
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(ArtifactCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            seal_key,
        })
    }

    fn name(&self, digest: &str) -> String {
        format!("{digest}-{}.cwasm", self.engine_key)
    }

    /// The key sealing the entry stored under `name`, derived from the
    /// cache key and the name, so one sound entry cannot stand in for
    /// another.
    fn entry_key(&self, name: &str) -> hmac::Key {
        hmac::Key::new(
            hmac::HMAC_SHA256,
            hmac::sign(&self.seal_key, name.as_bytes()).as_ref(),
        )
    }

    /// The cached component for `digest`, if a sound entry exists. The bytes
    /// checked are the bytes loaded: one read, no second look at the file.
    pub(crate) fn load(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let name = self.name(digest);
        let path = self.dir.join(&name);
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|mut file| file.read_to_end(&mut bytes))
            .ok()?;
        let Some((artifact, seal)) = bytes
            .len()
            .checked_sub(SEAL_LEN)
            .map(|at| bytes.split_at(at))
        else {
            tracing::warn!(path = %path.display(), "cache entry is truncated; recompiling");
            return None;
        };
        if hmac::verify(&self.entry_key(&name), artifact, seal).is_err() {
            tracing::warn!(path = %path.display(), "cache entry is not sealed by this user's key (corrupt or written by someone else); recompiling");
            return None;
        }
        // SAFETY: the bytes are what `write` below stored from
        // `Engine::precompile_component` output for an engine with this
        // compatibility hash: the HMAC under a key only this user can read
        // proves it, and they are the bytes deserialized here.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, artifact) };
        match component {
            Ok(component) => Some(component),
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "cache entry cannot be loaded; recompiling");
                None
            }
        }
    }

    /// Compile `wasm` ahead of time and store it; returns the component.
    /// A failure to write the cache is logged, never fatal.
    pub(crate) fn compile_and_store(
        &self,
        engine: &Engine,
        digest: &str,
        wasm: &[u8],
    ) -> wasmtime::Result<Component> {
        let artifact = engine.precompile_component(wasm)?;
        if let Err(err) = self.write(digest, &artifact) {
            tracing::warn!(dir = %self.dir.display(), error = %err, "cannot write the policy cache; continuing without it");
        }
        // SAFETY: `artifact` was produced by this engine a moment ago.
        #[allow(unsafe_code)]
        unsafe {
            Component::deserialize(engine, &artifact)
        }
    }

    fn write(&self, digest: &str, artifact: &[u8]) -> std::io::Result<()> {
        let name = self.name(digest);
        // Write beside the final name, then rename: readers never see half an
        // entry, and concurrent writers of the same entry write the same bytes.
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        file.write_all(artifact)?;
        file.write_all(hmac::sign(&self.entry_key(&name), artifact).as_ref())?;
        file.as_file().sync_all()?;
        file.persist(self.dir.join(name))
            .map(drop)
            .map_err(|err| err.error)
    }
}

/// Refuse `path` if its mode has any of `forbidden` bits, or another user
/// (root aside) owns it.
fn check_private(path: &Path, forbidden: u32, what: &str, fix: &str) -> Result<(), String> {
    let metadata =
        std::fs::metadata(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let me = rustix::process::geteuid().as_raw();
    if metadata.uid() != me && metadata.uid() != 0 {
        return Err(format!(
            "{} belongs to another user (uid {}); use a policy cache of your own (--cache-dir or WARBLER_CACHE_DIR)",
            path.display(),
            metadata.uid()
        ));
    }
    let mode = metadata.mode() & 0o777;
    if mode & forbidden != 0 {
        return Err(format!(
            "{} is {what} (mode {mode:o}); run `{fix} {}` or use another",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

/// The cache's sealing key: 32 random bytes in `path`, readable by its
/// owner only, created on first use.
fn read_or_create_key(path: &Path) -> Result<Vec<u8>, String> {
    match std::fs::read(path) {
        Ok(key) => {
            check_private(
                path,
                0o077,
                "readable or writable by other users",
                "chmod 600",
            )?;
            if key.len() < 32 {
                return Err(format!(
                    "{} is not a cache key (too short); delete it and a new one is made",
                    path.display()
                ));
            }
            Ok(key)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => create_key(path),
        Err(err) => Err(format!(
            "cannot read the cache key {}: {err}",
            path.display()
        )),
    }
}

fn create_key(path: &Path) -> Result<Vec<u8>, String> {
    let cannot =
        |err: std::io::Error| format!("cannot create the cache key {}: {err}", path.display());
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)
        .map_err(cannot)?;
    let mut key = vec![0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| format!("no randomness for the cache key {}", path.display()))?;
    let temporary = folder.join(format!(".cache-key-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(cannot)?;
    let written = file.write_all(&key).and_then(|()| file.sync_all());
    // A link fails if another process made the key first: then theirs is
    // the key, and everyone seals with the same one.
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(key),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read_or_create_key(path),
        Err(err) => Err(cannot(err)),
    }
}
