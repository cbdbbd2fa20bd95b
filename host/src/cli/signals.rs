//! SIGINT and SIGTERM for the long-running commands: both stop a run
//! cleanly (Kubernetes sends SIGTERM), and the exit code says which came.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use super::CliError;

/// Exit code after SIGINT (Ctrl-C), as shells report it.
pub(super) const EXIT_INTERRUPTED: u8 = 130;
/// Exit code after SIGTERM, as shells report it.
pub(super) const EXIT_TERMINATED: u8 = 143;

/// Whether a stop signal has come, and which; clones share it.
#[derive(Clone)]
pub(super) struct StopSignal {
    received: watch::Receiver<Option<u8>>,
}

impl StopSignal {
    /// Listen for SIGINT and SIGTERM from now on: from here a signal no
    /// longer kills the process outright, it is this handle's to act on.
    /// Call inside the async runtime, before anything is started.
    pub(super) fn install() -> Result<Self, CliError> {
        let listen = |kind: SignalKind| {
            signal(kind).map_err(|err| {
                CliError::cannot_proceed(anyhow::anyhow!("cannot listen for signals: {err}"))
            })
        };
        let (mut interrupt, mut terminate) = (
            listen(SignalKind::interrupt())?,
            listen(SignalKind::terminate())?,
        );
        let (sender, received) = watch::channel(None);
        tokio::spawn(async move {
            let code = tokio::select! {
                _ = interrupt.recv() => EXIT_INTERRUPTED,
                _ = terminate.recv() => EXIT_TERMINATED,
            };
            let _ = sender.send(Some(code));
        });
        Ok(StopSignal { received })
    }

    /// Wait for the signal; its exit code.
    pub(super) async fn wait(&self) -> u8 {
        let mut received = self.received.clone();
        let code = *received
            .wait_for(Option::is_some)
            .await
            .expect("the signal task keeps its sender until it sends");
        code.expect("waited for Some")
    }

    /// The failure a stopped command ends with.
    pub(super) fn stopped(code: u8, what: &str) -> CliError {
        let signal = if code == EXIT_TERMINATED {
            "terminated (SIGTERM)"
        } else {
            "interrupted"
        };
        CliError {
            error: anyhow::anyhow!("{signal}: {what}"),
            hint: None,
            code,
        }
    }
}
