//! The controller's journal: one JSON-lines file per Canary,
//! `<dir>/<namespace>/<name>.jsonl`, in the format `warbler run` writes, so
//! `policy replay` reads both.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use warbler_guest_sdk::EarlierStep;

use crate::dashboard::Board;
use crate::journal::FileJournal;
use crate::ports::{Journal, JournalEntry, PortError};

/// Journals of every Canary, under one directory.
pub struct DirJournal {
    dir: PathBuf,
    open: Mutex<HashMap<String, Arc<FileJournal>>>,
    /// The dashboard's board, shown each step as it is written.
    board: Option<Arc<Board>>,
}

impl DirJournal {
    /// Journals under `dir` (created when first written).
    pub fn new(dir: PathBuf) -> Self {
        DirJournal {
            dir,
            open: Mutex::new(HashMap::new()),
            board: None,
        }
    }

    /// The same journal, showing each step on `board` once written.
    pub fn with_board(mut self, board: Option<Arc<Board>>) -> Self {
        self.board = board;
        self
    }

    /// The journal file of the Canary `namespace/name`.
    pub fn path_of(&self, canary: &str) -> PathBuf {
        let (namespace, name) = canary.split_once('/').unwrap_or(("default", canary));
        self.dir.join(namespace).join(format!("{name}.jsonl"))
    }

    fn journal(&self, canary: &str) -> Result<Arc<FileJournal>, PortError> {
        let mut open = self.open.lock().expect("not poisoned");
        if let Some(journal) = open.get(canary) {
            return Ok(journal.clone());
        }
        let path = self.path_of(canary);
        let journal = FileJournal::open(&path).map_err(|err| PortError {
            port: "journal",
            message: format!(
                "cannot open {}: {err}; give the controller a writable --journal-dir",
                path.display()
            ),
        })?;
        let journal = Arc::new(journal);
        open.insert(canary.to_owned(), journal.clone());
        Ok(journal)
    }
}

impl Journal for DirJournal {
    async fn append(&self, entry: &JournalEntry) -> Result<(), PortError> {
        let journal = self.journal(&entry.canary)?;
        journal.append(entry).await?;
        if let Some(board) = &self.board {
            board.record_step(entry);
        }
        Ok(())
    }

    async fn earlier_steps(
        &self,
        canary: &str,
        run_started_ms: i64,
        step: u32,
    ) -> Result<Vec<EarlierStep>, PortError> {
        self.journal(canary)?
            .earlier_steps(canary, run_started_ms, step)
            .await
    }
}
