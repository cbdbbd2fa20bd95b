//! A release run as a child process: started on a free loopback port, its
//! output kept in a log file, stopped (and reaped) on request or when
//! Warbler exits.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::children::{ChildRecord, stop_group};

/// A running child process serving one release.
#[derive(Debug)]
pub struct Process {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
    record: Arc<ChildRecord>,
}

/// How long a release has to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The program to run for `program`: `warbler` is this very binary, so a
/// file whose releases run `warbler sample-app` works from `cargo run` or
/// any install path without `warbler` on `PATH`; anything else is run as
/// written.
fn resolve_program(program: &str) -> std::path::PathBuf {
    if program == "warbler"
        && let Ok(exe) = std::env::current_exe()
    {
        return exe;
    }
    program.into()
}

impl Process {
    /// Start `command` with `${PORT}` (in its arguments) and `PORT` (in its
    /// environment) set to a free loopback port; stdout and stderr go to
    /// `log`. The child gets its own process group so that a Ctrl-C reaches
    /// Warbler first, which then stops it in order; it is killed by the
    /// kernel if Warbler dies first, and noted in `record` so that the next
    /// run stops whatever it started in turn.
    pub fn start(
        command: &[String],
        env: &BTreeMap<String, String>,
        log: &Path,
        record: Arc<ChildRecord>,
    ) -> Result<Process, String> {
        let (program, args) = command
            .split_first()
            .ok_or("the command is empty; give the program and its arguments")?;
        let port = free_port().map_err(|err| format!("cannot find a free port: {err}"))?;
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|err| format!("cannot open log {}: {err}", log.display()))?;
        let errors = output
            .try_clone()
            .map_err(|err| format!("cannot open log {}: {err}", log.display()))?;
        let port_text = port.to_string();
        let mut command = Command::new(resolve_program(program));
        command
            .args(args.iter().map(|arg| arg.replace("${PORT}", &port_text)))
            .envs(env)
            .env("PORT", &port_text)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .process_group(0)
            .kill_on_drop(true);
        die_with_parent(&mut command);
        let child = command
            .spawn()
            .map_err(|err| format!("cannot start `{program}`: {err}; check the command's path"))?;
        if let Some(pid) = child.id() {
            record.add(pid);
        }
        Ok(Process {
            child,
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            log: log.to_owned(),
            record,
        })
    }

    /// Where the process should be listening.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The log file holding its output.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stop the process and everything it started (its process group), and
    /// wait for it, so that no zombie is left.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            stop_group(pid, STOP_GRACE).await;
            let _ = self.child.start_kill();
            let _ = tokio::time::timeout(STOP_GRACE, self.child.wait()).await;
            self.record.remove(pid);
        }
    }
}

/// Have the kernel kill the child when Warbler dies, even by SIGKILL.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs in the forked child before exec and makes only
    // async-signal-safe system calls (prctl, getppid), allocating nothing.
    // The kernel sends the signal when the thread that forked exits: the
    // releases are started from the async runtime's worker threads, which
    // live as long as Warbler.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            // Warbler may have died between fork and prctl.
            if rustix::process::getppid() != Some(parent) {
                return Err(std::io::Error::other(
                    "warbler exited while starting the release",
                ));
            }
            Ok(())
        });
    }
}

/// A loopback port nothing listens on right now.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_warbler_is_this_binary() {
        assert_eq!(resolve_program("warbler"), std::env::current_exe().unwrap());
    }

    #[test]
    fn any_other_program_runs_as_written() {
        assert_eq!(
            resolve_program("python3"),
            std::path::PathBuf::from("python3")
        );
    }
}
