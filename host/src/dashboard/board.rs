//! What the dashboard shows, kept up to date by whoever runs the rollouts:
//! each canary's object and status, its recent events, its last step and
//! where its journal is. Every change is announced to live pages.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use tokio::sync::broadcast;

use crate::canary::Canary;
use crate::journal::FileJournal;
use crate::policy::PolicyPre;
use crate::ports::JournalEntry;
use crate::reconciler::{Event, Severity};

/// Events kept per canary, newest last.
const EVENTS_KEPT: usize = 200;

/// One event as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedEvent {
    /// When it happened (Unix ms).
    pub at_ms: i64,
    /// `Normal` or `Warning`, as Kubernetes events have it.
    pub kind: &'static str,
    /// What happened.
    pub message: String,
}

/// The policy judging a canary, as far as it has loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyFacts {
    /// The reference the Canary gives (`builtin:threshold`, `oci://…`).
    pub reference: String,
    /// The component's sha256, once loaded.
    pub digest: Option<String>,
    /// Its name and version from `describe()`.
    pub name: Option<String>,
    /// Its own description from `describe()`.
    pub description: Option<String>,
}

/// Everything known about one canary.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// The Canary with its latest status.
    pub canary: Canary,
    /// Recent events, oldest first.
    pub events: VecDeque<LoggedEvent>,
    /// Its last analysis step.
    pub last_step: Option<JournalEntry>,
    /// Where its journal is, for the steps and past runs.
    pub journal: Option<PathBuf>,
    /// Its policy.
    pub policy: PolicyFacts,
    /// Bumped at every change: pages ask for charts of this version, so a
    /// browser never shows a stale one from its cache.
    pub version: u64,
}

/// The canaries a dashboard shows, shared between the rollouts and the
/// server.
pub struct Board {
    canaries: RwLock<BTreeMap<String, Tracked>>,
    changes: broadcast::Sender<String>,
    journals: Mutex<HashMap<PathBuf, ReadJournal>>,
}

/// A journal as last read, with the length and modification time it had.
struct ReadJournal {
    stamp: (u64, Option<SystemTime>),
    entries: Arc<Vec<JournalEntry>>,
}

impl Default for Board {
    fn default() -> Self {
        Board {
            canaries: RwLock::new(BTreeMap::new()),
            // A page that falls this far behind reloads everything.
            changes: broadcast::channel(256).0,
            journals: Mutex::new(HashMap::new()),
        }
    }
}

impl Board {
    /// Record `canary` (its object and status) and what happened to it:
    /// `events` at `now_ms`, the `steps` it judged. `journal` says where the
    /// rest of its steps are; the last step is read from it the first time.
    pub fn update(
        &self,
        canary: &Canary,
        events: &[Event],
        steps: &[JournalEntry],
        journal: Option<PathBuf>,
        now_ms: i64,
    ) {
        let key = canary.key();
        {
            let mut canaries = self.canaries.write().expect("not poisoned");
            let tracked = canaries.entry(key.clone()).or_insert_with(|| Tracked {
                canary: canary.clone(),
                events: VecDeque::new(),
                last_step: journal.as_deref().and_then(|path| last_entry(path, &key)),
                journal: journal.clone(),
                policy: PolicyFacts::default(),
                version: 0,
            });
            tracked.canary = canary.clone();
            tracked.journal = journal.or(tracked.journal.take());
            for event in events {
                if tracked.events.len() == EVENTS_KEPT {
                    tracked.events.pop_front();
                }
                tracked.events.push_back(LoggedEvent {
                    at_ms: now_ms,
                    kind: match event.severity {
                        Severity::Info => "Normal",
                        Severity::Warning => "Warning",
                    },
                    message: event.message.clone(),
                });
            }
            if let Some(step) = steps.last() {
                tracked.last_step = Some(step.clone());
            }
            tracked.version += 1;
        }
        let _ = self.changes.send(key);
    }

    /// Record a step just written to the journal of a canary on the board.
    pub fn record_step(&self, entry: &JournalEntry) {
        let recorded = {
            let mut canaries = self.canaries.write().expect("not poisoned");
            match canaries.get_mut(&entry.canary) {
                Some(tracked) => {
                    tracked.last_step = Some(entry.clone());
                    tracked.version += 1;
                    true
                }
                None => false,
            }
        };
        if recorded {
            let _ = self.changes.send(entry.canary.clone());
        }
    }

    /// Show `policy`, named `reference` in its Canary, as the policy judging
    /// the canary `key`, with what it said of itself when it loaded.
    pub fn show_policy(&self, key: &str, reference: String, policy: &PolicyPre) {
        let shown = |tracked: &Tracked| {
            tracked.policy.reference == reference
                && tracked.policy.digest.as_deref() == Some(policy.digest())
        };
        {
            let canaries = self.canaries.read().expect("not poisoned");
            if canaries.get(key).is_none_or(shown) {
                return;
            }
        }
        let info = policy.described();
        let facts = PolicyFacts {
            reference,
            digest: Some(policy.digest().to_owned()),
            name: info.map(|i| format!("{} {}", i.name, i.version)),
            description: info.map(|i| i.description.clone()),
        };
        {
            let mut canaries = self.canaries.write().expect("not poisoned");
            let Some(tracked) = canaries.get_mut(key) else {
                return;
            };
            tracked.policy = facts;
            tracked.version += 1;
        }
        let _ = self.changes.send(key.to_owned());
    }

    /// Forget the canary `key` (its object was deleted).
    pub fn remove(&self, key: &str) {
        let removed = self
            .canaries
            .write()
            .expect("not poisoned")
            .remove(key)
            .is_some();
        if removed {
            self.journals.lock().expect("not poisoned").clear();
            let _ = self.changes.send(key.to_owned());
        }
    }

    /// Every canary, by `namespace/name`.
    pub fn all(&self) -> Vec<Tracked> {
        let canaries = self.canaries.read().expect("not poisoned");
        canaries.values().cloned().collect()
    }

    /// The canary `key`.
    pub fn get(&self, key: &str) -> Option<Tracked> {
        let canaries = self.canaries.read().expect("not poisoned");
        canaries.get(key).cloned()
    }

    /// The keys of canaries as they change.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }
}

impl Board {
    /// Every step of `tracked` in its journal, oldest first; none when
    /// there is no journal yet. A journal is parsed again only once it has
    /// changed: a page and its charts ask for the same steps at once.
    pub fn steps(&self, tracked: &Tracked) -> Result<Vec<JournalEntry>, String> {
        let Some(path) = &tracked.journal else {
            return Ok(Vec::new());
        };
        let Ok(metadata) = std::fs::metadata(path) else {
            return Ok(Vec::new());
        };
        let stamp = (metadata.len(), metadata.modified().ok());
        let cached = {
            let journals = self.journals.lock().expect("not poisoned");
            journals
                .get(path)
                .filter(|read| read.stamp == stamp)
                .map(|read| read.entries.clone())
        };
        let entries = match cached {
            Some(entries) => entries,
            None => {
                let entries = Arc::new(FileJournal::read(path)?);
                let mut journals = self.journals.lock().expect("not poisoned");
                journals.insert(
                    path.clone(),
                    ReadJournal {
                        stamp,
                        entries: entries.clone(),
                    },
                );
                entries
            }
        };
        let key = tracked.canary.key();
        Ok(entries
            .iter()
            .filter(|entry| entry.canary == key)
            .cloned()
            .collect())
    }
}

fn last_entry(path: &std::path::Path, key: &str) -> Option<JournalEntry> {
    FileJournal::read(path)
        .ok()?
        .into_iter()
        .rev()
        .find(|entry| entry.canary == key)
}
