//! A release run as a child process: started on a free loopback port, its
//! output kept in a log file, stopped (and reaped) on request or when
//! Warbler exits.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

/// A running child process serving one release.
#[derive(Debug)]
pub struct Process {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

impl Process {
    /// Start `command` with `${PORT}` (in its arguments) and `PORT` (in its
    /// environment) set to a free loopback port; stdout and stderr go to
    /// `log`. The child gets its own process group so that a Ctrl-C reaches
    /// Warbler first, which then stops it in order.
    pub fn start(
        command: &[String],
        env: &BTreeMap<String, String>,
        log: &Path,
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
        let child = Command::new(program)
            .args(args.iter().map(|arg| arg.replace("${PORT}", &port_text)))
            .envs(env)
            .env("PORT", &port_text)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| format!("cannot start `{program}`: {err}; check the command's path"))?;
        Ok(Process {
            child,
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            log: log.to_owned(),
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

    /// Kill the process and wait for it, so that no zombie is left.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// A loopback port nothing listens on right now.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
