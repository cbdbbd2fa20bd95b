//! The content-addressed store of pulled artifacts: blobs (manifests,
//! configs, layers) under `blobs/sha256/<hex>`, and the digest each tag
//! resolved to under `tags/<registry>/<repository>/<tag>`.
//!
//! Every write goes to a temporary file that is renamed into place, so a
//! reader sees a whole blob or none, and two processes pulling the same
//! blob at once both succeed. Every read is hashed again: a blob that no
//! longer matches its name is removed and reported missing, so it is
//! fetched again instead of run.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::OciError;
use super::digest::{sha256, sha256_hex};
use super::reference::OciReference;

/// A directory of blobs named by their sha256.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// The store in `dir`, created (owner-only) when missing.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, OciError> {
        let dir = dir.into();
        for sub in ["blobs/sha256", "tags", "tmp"] {
            let path = dir.join(sub);
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&path)
                .map_err(|err| store_error(&path, err))?;
        }
        Ok(BlobStore { dir })
    }

    fn blob_path(&self, digest: &str) -> Option<PathBuf> {
        sha256_hex(digest).map(|hex| self.dir.join("blobs/sha256").join(hex))
    }

    /// The blob named `digest`, if the store holds a sound copy.
    pub fn get(&self, digest: &str) -> Option<Vec<u8>> {
        let path = self.blob_path(digest)?;
        let bytes = std::fs::read(&path).ok()?;
        if sha256(&bytes) == digest {
            return Some(bytes);
        }
        tracing::warn!(path = %path.display(), "cached blob does not match its digest; removing it so it is fetched again");
        let _ = std::fs::remove_file(&path);
        None
    }

    /// Store `bytes` as `digest`, refusing bytes that do not match it.
    pub fn put(&self, digest: &str, bytes: &[u8]) -> Result<(), OciError> {
        let path = self.blob_path(digest).ok_or_else(|| OciError::Store {
            path: self.dir.display().to_string(),
            message: format!("`{digest}` is not a sha256 digest"),
        })?;
        let actual = sha256(bytes);
        if actual != digest {
            return Err(OciError::Store {
                path: path.display().to_string(),
                message: format!("refusing to store bytes of {actual} as {digest}"),
            });
        }
        self.write_atomically(&path, bytes)
    }

    /// The manifest digest `reference`'s tag resolved to when last pulled.
    pub fn tag(&self, reference: &OciReference) -> Option<String> {
        let digest = std::fs::read_to_string(self.tag_path(reference)?).ok()?;
        let digest = digest.trim();
        sha256_hex(digest).map(|_| digest.to_owned())
    }

    /// Record that `reference`'s tag resolved to `digest`.
    pub fn set_tag(&self, reference: &OciReference, digest: &str) -> Result<(), OciError> {
        let Some(path) = self.tag_path(reference) else {
            return Ok(());
        };
        if let Some(parent) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|err| store_error(parent, err))?;
        }
        self.write_atomically(&path, digest.as_bytes())
    }

    /// `tags/<registry>/<repository>/<tag>`. The reference parser allows
    /// no `..` or empty segment in a repository, and a tag has no `/`.
    fn tag_path(&self, reference: &OciReference) -> Option<PathBuf> {
        let tag = reference.tag()?;
        Some(
            self.dir
                .join("tags")
                .join(reference.registry())
                .join(reference.repository())
                .join(tag),
        )
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), OciError> {
        let tmp = self.dir.join("tmp");
        let mut file = tempfile::NamedTempFile::new_in(&tmp).map_err(|e| store_error(&tmp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.as_file().sync_all())
            .map_err(|err| store_error(file.path(), err))?;
        file.persist(path)
            .map_err(|err| store_error(path, err.error))?;
        Ok(())
    }
}

fn store_error(path: &Path, err: std::io::Error) -> OciError {
    OciError::Store {
        path: path.display().to_string(),
        message: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("oci")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_stored_blob_reads_back() {
        let (_dir, store) = store();
        let digest = sha256(b"policy");
        store.put(&digest, b"policy").unwrap();
        assert_eq!(store.get(&digest).as_deref(), Some(&b"policy"[..]));
    }

    #[test]
    fn bytes_that_do_not_match_their_digest_are_not_stored() {
        let (_dir, store) = store();
        let digest = sha256(b"policy");
        assert!(store.put(&digest, b"tampered").is_err());
        assert_eq!(store.get(&digest), None);
    }

    #[test]
    fn a_blob_corrupted_on_disk_is_removed_and_reported_missing() {
        let (_dir, store) = store();
        let digest = sha256(b"policy");
        store.put(&digest, b"policy").unwrap();
        let path = store.blob_path(&digest).unwrap();
        std::fs::write(&path, b"policx").unwrap();
        assert_eq!(store.get(&digest), None);
        assert!(!path.exists());
    }

    #[test]
    fn a_tag_remembers_its_digest() {
        let (_dir, store) = store();
        let reference: OciReference = "oci://127.0.0.1:5000/team/p:1.0".parse().unwrap();
        let digest = sha256(b"manifest");
        store.set_tag(&reference, &digest).unwrap();
        assert_eq!(store.tag(&reference), Some(digest));
    }
}
