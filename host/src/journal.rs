//! The step journal on disk: one JSON line per analysis step, appended and
//! flushed before the verdict is applied, so any rollout can be replayed
//! against another policy.

use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::Mutex;

use crate::ports::{Journal, JournalEntry, PortError};

/// A JSON-lines journal file.
pub struct FileJournal {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl FileJournal {
    /// Open (or create) the journal at `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(FileJournal {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Read every entry of the journal at `path`; a malformed line is an
    /// error naming its number.
    pub fn read(path: &Path) -> Result<Vec<JournalEntry>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read journal {}: {err}", path.display()))?;
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                serde_json::from_str(line)
                    .map_err(|err| format!("journal {} line {}: {err}", path.display(), n + 1))
            })
            .collect()
    }
}

impl Journal for FileJournal {
    async fn append(&self, entry: &JournalEntry) -> Result<(), PortError> {
        let mut line = serde_json::to_vec(entry).expect("journal entries serialize");
        line.push(b'\n');
        let mut file = self.file.lock().await;
        file.write_all(&line)
            .and_then(|()| file.flush())
            .map_err(|err| PortError {
                port: "journal",
                message: format!(
                    "cannot append to {}: {err}; check the disk and the path's permissions",
                    self.path.display()
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use warbler_guest_sdk::{Input, Verdict};

    use super::*;

    fn entry(weight: u32) -> JournalEntry {
        let input: Input =
            serde_json::from_str(include_str!("../../examples/inputs/frontend-step.json")).unwrap();
        JournalEntry {
            canary: "podinfo/frontend".to_owned(),
            policy: "builtin:threshold".to_owned(),
            input,
            outcome: Ok(Verdict::advance(weight)),
        }
    }

    #[tokio::test]
    async fn appended_entries_read_back_in_order_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs/frontend.jsonl");
        FileJournal::open(&path)
            .unwrap()
            .append(&entry(10))
            .await
            .unwrap();
        let journal = FileJournal::open(&path).unwrap();
        journal.append(&entry(20)).await.unwrap();
        assert_eq!(
            FileJournal::read(&path).unwrap(),
            vec![entry(10), entry(20)]
        );
    }

    #[test]
    fn a_malformed_line_is_named_by_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, "{}\n").unwrap();
        let err = FileJournal::read(&path).unwrap_err();
        assert!(err.contains("line 1"), "{err}");
    }
}
