//! Precompiled components on disk, keyed by the component's sha256 and the
//! engine's compatibility hash. Entries carry their own sha256 and are checked
//! before use: a corrupt or tampered entry is rebuilt, never trusted.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Length of the sha256 trailer that seals each entry.
const SEAL_LEN: usize = 32;

/// A directory of precompiled components.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

impl ArtifactCache {
    /// A cache in `dir` for components compiled by `engine`.
    pub(crate) fn new(dir: PathBuf, engine: &Engine) -> Self {
        // The compatibility hash covers the wasmtime version and every
        // setting that changes generated code (fuel, epochs, ...).
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ArtifactCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// The cached component for `digest`, if a sound entry exists.
    pub(crate) fn load(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(digest);
        let bytes = std::fs::read(&path).ok()?;
        let Some((artifact, seal)) = bytes
            .len()
            .checked_sub(SEAL_LEN)
            .map(|at| bytes.split_at(at))
        else {
            tracing::warn!(path = %path.display(), "cache entry is truncated; recompiling");
            return None;
        };
        if Sha256::digest(artifact).as_slice() != seal {
            tracing::warn!(path = %path.display(), "cache entry does not match its checksum; recompiling");
            return None;
        }
        // SAFETY: the bytes were written by `store` below from
        // `Engine::precompile_component` output for an engine with this
        // compatibility hash, and the sha256 seal proves they are unchanged.
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
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path(digest);
        // Write beside the final name, then rename: readers never see half an
        // entry, and concurrent writers of the same entry write the same bytes.
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        file.write_all(artifact)?;
        file.write_all(&Sha256::digest(artifact))?;
        file.as_file().sync_all()?;
        file.persist(path).map(drop).map_err(|err| err.error)
    }
}
