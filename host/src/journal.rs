//! The step journal on disk: one JSON line per analysis step, appended and
//! flushed before the verdict is applied, so any rollout can be replayed
//! against another policy.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::Mutex;
use warbler_guest_sdk::EarlierStep;

use crate::earlier_steps::RunSteps;
use crate::ports::{Journal, JournalEntry, PortError};

/// A JSON-lines journal file. Each append opens the file anew, so a journal
/// moved, removed or replaced under a running Warbler is noticed (and a
/// failure reported) instead of written into a file nobody will read.
pub struct FileJournal {
    path: PathBuf,
    last: Mutex<Option<LastEntry>>,
    /// The current run of each canary whose earlier steps were asked for:
    /// read from the file once, then kept up to date by each append.
    runs: Mutex<HashMap<String, RunSteps>>,
}

/// The journal's last entry: its step, and where it starts and ends.
struct LastEntry {
    key: StepKey,
    start: u64,
    end: u64,
}

/// What identifies a step: the canary, its run's start, its number.
type StepKey = (String, i64, u32);

fn key_of(entry: &JournalEntry) -> Option<StepKey> {
    (entry.step > 0).then(|| (entry.canary.clone(), entry.run_started_ms, entry.step))
}

impl FileJournal {
    /// Open (or create) the journal at `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = Self::append_to(path)?;
        let mut bytes = std::fs::read(path)?;
        // A torn last line (a crash mid-write) is cut, so that the next
        // entry starts on a line of its own.
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            let whole = bytes
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |at| at + 1);
            file.set_len(whole as u64)?;
            bytes.truncate(whole);
        }
        Ok(FileJournal {
            path: path.to_owned(),
            last: Mutex::new(last_entry(&bytes)),
            runs: Mutex::new(HashMap::new()),
        })
    }

    fn append_to(path: &Path) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    }

    /// The steps of one run of `canary` in the file. A line that does not
    /// parse (edited by hand, or by a newer Warbler) is skipped with a
    /// warning: its step's metrics are missing, the rollout goes on.
    fn read_run(&self, canary: &str, run_started_ms: i64) -> Result<RunSteps, PortError> {
        let text = std::fs::read_to_string(&self.path).map_err(|err| PortError {
            port: "journal",
            message: format!(
                "cannot read {}: {err}; check the path's permissions",
                self.path.display()
            ),
        })?;
        let entries: Vec<JournalEntry> = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .filter_map(|(n, line)| {
                serde_json::from_str(line)
                    .inspect_err(|err| {
                        tracing::warn!(journal = %self.path.display(), line = n + 1, "a journal line does not parse, its step is left out of earlier steps: {err}");
                    })
                    .ok()
            })
            .collect();
        Ok(RunSteps::of_run(&entries, canary, run_started_ms))
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

/// The last complete entry in `bytes`, if it has a step.
fn last_entry(bytes: &[u8]) -> Option<LastEntry> {
    let body = bytes.strip_suffix(b"\n")?;
    let start = body
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |at| at + 1);
    let entry: JournalEntry = serde_json::from_slice(&body[start..]).ok()?;
    Some(LastEntry {
        key: key_of(&entry)?,
        start: start as u64,
        end: bytes.len() as u64,
    })
}

impl Journal for FileJournal {
    async fn append(&self, entry: &JournalEntry) -> Result<(), PortError> {
        let mut line = serde_json::to_vec(entry).expect("journal entries serialize");
        line.push(b'\n');
        let mut last = self.last.lock().await;
        let key = key_of(entry);
        let written = (|| {
            let mut file = Self::append_to(&self.path)?;
            let mut start = file.metadata()?.len();
            // The same step again replaces its entry, if that entry is
            // still the file's last (the file was not changed meanwhile).
            if let (Some(key), Some(seen)) = (&key, &*last)
                && *key == seen.key
                && seen.end == start
            {
                file.set_len(seen.start)?;
                start = seen.start;
            }
            file.write_all(&line)?;
            file.flush()?;
            Ok::<_, std::io::Error>(start)
        })();
        let start = written.map_err(|err| PortError {
            port: "journal",
            message: format!(
                "cannot append to {}: {err}; check the disk and the path's permissions",
                self.path.display()
            ),
        })?;
        *last = key.map(|key| LastEntry {
            key,
            start,
            end: start + line.len() as u64,
        });
        drop(last);
        if let Some(run) = self.runs.lock().await.get_mut(&entry.canary)
            && run.run_started_ms() == entry.run_started_ms
        {
            run.record(entry.step, &entry.input);
        }
        Ok(())
    }

    async fn earlier_steps(
        &self,
        canary: &str,
        run_started_ms: i64,
        step: u32,
    ) -> Result<Vec<EarlierStep>, PortError> {
        let mut runs = self.runs.lock().await;
        if let Some(run) = runs.get(canary)
            && run.run_started_ms() == run_started_ms
        {
            return Ok(run.before(step));
        }
        let run = self.read_run(canary, run_started_ms)?;
        let earlier = run.before(step);
        runs.insert(canary.to_owned(), run);
        Ok(earlier)
    }
}

#[cfg(test)]
mod tests {
    use warbler_guest_sdk::{Input, Verdict};

    use super::*;

    fn entry(weight: u32) -> JournalEntry {
        step_entry(weight / 10, weight)
    }

    fn step_entry(step: u32, weight: u32) -> JournalEntry {
        let input: Input =
            serde_json::from_str(include_str!("../../examples/inputs/frontend-step.json")).unwrap();
        JournalEntry {
            shadows: Vec::new(),
            canary: "podinfo/frontend".to_owned(),
            policy: "builtin:threshold".to_owned(),
            policy_digest: None,
            run_started_ms: 1_000,
            step,
            at_ms: 1_000 + i64::from(step) * 10_000,
            input,
            outcome: Ok(Verdict::advance(weight)),
        }
    }

    /// Step `step` of run `run`, judged at canary weight `weight`.
    fn measured(run: i64, step: u32, weight: u32) -> JournalEntry {
        let mut entry = step_entry(step, weight);
        entry.run_started_ms = run;
        entry.input.state.canary_weight = weight;
        entry
    }

    fn weights(steps: &[EarlierStep]) -> Vec<u32> {
        steps.iter().map(|step| step.canary_weight).collect()
    }

    #[tokio::test]
    async fn earlier_steps_of_a_run_journaled_by_an_earlier_process_are_read_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let before_restart = FileJournal::open(&path).unwrap();
        for entry in [measured(1, 1, 0), measured(2, 1, 0), measured(2, 2, 10)] {
            before_restart.append(&entry).await.unwrap();
        }
        let journal = FileJournal::open(&path).unwrap();
        let earlier = journal
            .earlier_steps("podinfo/frontend", 2, 3)
            .await
            .unwrap();
        assert_eq!(weights(&earlier), [0, 10], "run 2's steps only");
        assert!(
            journal
                .earlier_steps("podinfo/other", 2, 3)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn steps_appended_after_the_first_read_are_earlier_steps_too() {
        let dir = tempfile::tempdir().unwrap();
        let journal = FileJournal::open(&dir.path().join("journal.jsonl")).unwrap();
        journal.append(&measured(1, 1, 0)).await.unwrap();
        let canary = "podinfo/frontend";
        assert_eq!(
            weights(&journal.earlier_steps(canary, 1, 2).await.unwrap()),
            [0]
        );
        journal.append(&measured(1, 2, 10)).await.unwrap();
        journal.append(&measured(1, 3, 20)).await.unwrap();
        assert_eq!(
            weights(&journal.earlier_steps(canary, 1, 4).await.unwrap()),
            [0, 10, 20]
        );
        journal.append(&measured(7, 1, 0)).await.unwrap();
        assert_eq!(
            weights(&journal.earlier_steps(canary, 7, 2).await.unwrap()),
            [0],
            "a new run starts afresh"
        );
    }

    #[tokio::test]
    async fn a_journal_line_that_does_not_parse_leaves_out_its_step_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let written = FileJournal::open(&path).unwrap();
        written.append(&measured(1, 1, 0)).await.unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"canary\": \"podinfo/frontend\", \"edited\": \"by hand\"}\n");
        std::fs::write(&path, text).unwrap();
        let journal = FileJournal::open(&path).unwrap();
        journal.append(&measured(1, 2, 10)).await.unwrap();
        assert_eq!(
            weights(
                &journal
                    .earlier_steps("podinfo/frontend", 1, 3)
                    .await
                    .unwrap()
            ),
            [0, 10]
        );
    }

    #[tokio::test]
    async fn a_step_judged_again_replaces_its_entry_even_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let journal = FileJournal::open(&path).unwrap();
        journal.append(&step_entry(1, 10)).await.unwrap();
        journal.append(&step_entry(2, 20)).await.unwrap();
        FileJournal::open(&path)
            .unwrap()
            .append(&step_entry(2, 30))
            .await
            .unwrap();
        assert_eq!(
            FileJournal::read(&path).unwrap(),
            vec![step_entry(1, 10), step_entry(2, 30)]
        );
    }

    #[tokio::test]
    async fn a_torn_last_line_is_cut_before_the_next_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        FileJournal::open(&path)
            .unwrap()
            .append(&step_entry(1, 10))
            .await
            .unwrap();
        let mut torn = std::fs::read(&path).unwrap();
        torn.extend_from_slice(br#"{"canary":"podinfo/fr"#);
        std::fs::write(&path, torn).unwrap();
        FileJournal::open(&path)
            .unwrap()
            .append(&step_entry(2, 20))
            .await
            .unwrap();
        assert_eq!(
            FileJournal::read(&path).unwrap(),
            vec![step_entry(1, 10), step_entry(2, 20)]
        );
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
    fn an_outcome_is_written_as_a_verdict_or_an_error() {
        let judged = serde_json::to_value(entry(10)).unwrap();
        assert_eq!(
            judged["outcome"]["verdict"]["decision"]["action"],
            "advance"
        );
        let mut failed = entry(10);
        failed.outcome = Err("policy `p` crashed".to_owned());
        let failed = serde_json::to_value(failed).unwrap();
        assert_eq!(
            failed["outcome"],
            serde_json::json!({ "error": "policy `p` crashed" })
        );
    }

    #[test]
    fn an_outcome_written_as_ok_or_err_by_earlier_builds_is_read() {
        let mut old = serde_json::to_value(entry(10)).unwrap();
        let verdict = old["outcome"]["verdict"].take();
        old["outcome"] = serde_json::json!({ "Ok": verdict });
        let read: JournalEntry = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(read, entry(10));
        old["outcome"] = serde_json::json!({ "Err": "trap" });
        let read: JournalEntry = serde_json::from_value(old).unwrap();
        assert_eq!(read.outcome, Err("trap".to_owned()));
    }

    #[test]
    fn every_sample_reads_back_bit_for_bit_so_replays_see_what_the_policy_saw() {
        // serde_json's default float parser may be one unit in the last
        // place off, which turns 0.9899999999999999 into 0.99: a tie a rank
        // test then counts differently. Thousands of values with every
        // exponent a latency or rate has.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let values: Vec<f64> = (0..5_000)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let mantissa = (state >> 11) as f64 / (1u64 << 53) as f64;
                mantissa * 10f64.powi((state % 9) as i32 - 3)
            })
            .chain([0.99_f64.next_down(), 1.2_f64.next_up(), 99.9_f64.next_up()])
            .collect();
        let mut step = entry(10);
        step.input.metrics[0].canary_series = Some(warbler_guest_sdk::Series {
            start_ms: 0,
            step_ms: 1_000,
            values: values.clone(),
        });
        let text = serde_json::to_string(&step).unwrap();
        let read: JournalEntry = serde_json::from_str(&text).unwrap();
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let series = read.input.metrics[0].canary_series.as_ref().unwrap();
        assert_eq!(bits(&series.values), bits(&values));
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
