//! The release processes a run started, written down in the state
//! directory, so that the next run stops any that outlived Warbler: a
//! `kill -9` gives Warbler no chance to stop them itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// One recorded child: its process group (the child leads it) and when it
/// started, which tells it apart from a later process given the same PID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Recorded {
    start_ticks: u64,
}

/// The file of this run's live children (`PID START-TICKS` a line).
#[derive(Debug)]
pub struct ChildRecord {
    path: PathBuf,
    live: Mutex<BTreeMap<i32, Recorded>>,
}

impl ChildRecord {
    /// The record at `path`; nothing is read or written yet.
    pub fn new(path: &Path) -> Self {
        ChildRecord {
            path: path.to_owned(),
            live: Mutex::new(BTreeMap::new()),
        }
    }

    /// Stop what an earlier run recorded and left running: every process
    /// still in a recorded child's process group that started no earlier
    /// than that child. Returns how many were stopped.
    pub fn stop_leftovers(&self) -> usize {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return 0;
        };
        let groups: Vec<(i32, u64)> = text
            .lines()
            .filter_map(|line| {
                let (pid, start) = line.split_once(' ')?;
                Some((pid.parse().ok()?, start.trim().parse().ok()?))
            })
            .collect();
        let mut stopped = 0;
        for (group, start_ticks) in groups {
            let members: Vec<i32> = processes()
                .filter(|p| p.group == group && p.start_ticks >= start_ticks && !p.zombie)
                .map(|p| p.pid)
                .collect();
            for pid in &members {
                if let Some(pid) = Pid::from_raw(*pid) {
                    let _ = rustix::process::kill_process(pid, Signal::KILL);
                }
            }
            stopped += members.len();
        }
        let _ = std::fs::remove_file(&self.path);
        stopped
    }

    /// Note a child just started.
    pub fn add(&self, pid: u32) {
        let Ok(pid) = i32::try_from(pid) else { return };
        let Some(start_ticks) = stat(pid).map(|s| s.start_ticks) else {
            return;
        };
        let mut live = self.live.lock().expect("child record poisoned");
        live.insert(pid, Recorded { start_ticks });
        self.write(&live);
    }

    /// Note a child stopped and reaped.
    pub fn remove(&self, pid: u32) {
        let Ok(pid) = i32::try_from(pid) else { return };
        let mut live = self.live.lock().expect("child record poisoned");
        if live.remove(&pid).is_some() {
            self.write(&live);
        }
    }

    /// Best effort: a record that cannot be written only weakens the
    /// clean-up after a `kill -9`, which the parent-death signal covers too.
    fn write(&self, live: &BTreeMap<i32, Recorded>) {
        if live.is_empty() {
            let _ = std::fs::remove_file(&self.path);
            return;
        }
        let text: String = live
            .iter()
            .map(|(pid, r)| format!("{pid} {}\n", r.start_ticks))
            .collect();
        if let Err(err) = std::fs::write(&self.path, text) {
            tracing::warn!(
                "cannot record child processes in {}: {err}",
                self.path.display()
            );
        }
    }
}

/// Stop a child's whole process group: SIGTERM, then SIGKILL for what is
/// left after `grace`.
pub async fn stop_group(group: u32, grace: Duration) {
    let Some(group) = i32::try_from(group).ok().and_then(Pid::from_raw) else {
        return;
    };
    if rustix::process::kill_process_group(group, Signal::TERM).is_err() {
        return;
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !processes().any(|p| p.group == group.as_raw_nonzero().get() && !p.zombie) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = rustix::process::kill_process_group(group, Signal::KILL);
}

/// What `/proc/PID/stat` says of a process.
struct Stat {
    pid: i32,
    group: i32,
    start_ticks: u64,
    zombie: bool,
}

fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        pid,
        zombie: fields.first()? == &"Z",
        group: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

fn processes() -> impl Iterator<Item = Stat> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter_map(stat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_start_time_and_a_group() {
        let me = stat(std::process::id() as i32).unwrap();
        assert!(me.start_ticks > 0);
        assert!(me.group > 0);
        assert!(!me.zombie);
    }

    /// A `sleep` leading a process group of its own, as releases are.
    fn sleeping_group() -> std::process::Child {
        use std::os::unix::process::CommandExt;
        std::process::Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .unwrap()
    }

    #[test]
    fn leftovers_of_a_record_are_killed_and_the_record_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("children");
        let mut child = sleeping_group();
        ChildRecord::new(&path).add(child.id());
        assert!(path.exists());
        assert_eq!(ChildRecord::new(&path).stop_leftovers(), 1);
        let status = child.wait().unwrap();
        assert!(!status.success(), "killed: {status:?}");
        assert!(!path.exists());
    }

    #[test]
    fn a_recorded_pid_now_used_by_a_newer_process_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("children");
        let mut child = sleeping_group();
        let started = stat(child.id() as i32).unwrap().start_ticks;
        // The same PID recorded as starting later: a different process.
        std::fs::write(&path, format!("{} {}\n", child.id(), started + 1_000_000)).unwrap();
        assert_eq!(ChildRecord::new(&path).stop_leftovers(), 0);
        assert!(child.try_wait().unwrap().is_none(), "still running");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
