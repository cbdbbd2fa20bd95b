//! The dashboard: Warbler's own read-only web pages and JSON API, served
//! by `warbler run`, `warbler demo` and `warbler controller` from the same
//! code. The list of canaries with Flagger's columns, each canary's run
//! (weight over time, each metric's canary and primary series against the
//! threshold, every verdict and why), its past runs from the journal, all
//! updated live through server-sent events. Pages come from the server
//! (charts drawn as SVG there), with a little script for live updates and
//! nothing from elsewhere.

mod board;
mod charts;
mod pages;
mod routes;
mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use board::{Board, LoggedEvent, PolicyFacts, Tracked};
pub use views::{CanaryDetail, CanarySummary, RunSummary};

use crate::local::{Progress, RunObserver};
use crate::ports::{Clock, SystemClock};
use crate::reconciler::policy_label;

/// A dashboard being served; dropping it stops the server.
pub struct Dashboard {
    address: SocketAddr,
    board: Arc<Board>,
    task: tokio::task::JoinHandle<()>,
}

impl Dashboard {
    /// Serve `board` on `listen` (port 0 picks a free one).
    pub async fn start(listen: SocketAddr, board: Arc<Board>) -> std::io::Result<Dashboard> {
        let listener = TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let served = board.clone();
        let task = tokio::spawn(crate::serve::serve(listener, move |request| {
            routes::handle(served.clone(), request)
        }));
        Ok(Dashboard {
            address,
            board,
            task,
        })
    }

    /// Where it is served.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Its address as a link, for the line printed at start.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// What it shows.
    pub fn board(&self) -> &Arc<Board> {
        &self.board
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A [`RunObserver`] that puts a local run's progress on a board, when
/// there is one, and hands it to the terminal display.
pub struct BoardFeed<'a> {
    /// The board.
    pub board: Option<&'a Board>,
    /// The display that also sees the progress.
    pub display: &'a mut dyn RunObserver,
}

impl RunObserver for BoardFeed<'_> {
    fn update(&mut self, progress: &Progress<'_>) {
        if let Some(board) = self.board {
            board.update(
                progress.canary,
                progress.events,
                progress.steps,
                progress.journal.map(ToOwned::to_owned),
                SystemClock.now_ms(),
            );
            if let Some(policy) = progress.policy {
                board.show_policy(
                    &progress.canary.key(),
                    policy_label(progress.canary),
                    policy,
                );
            }
        }
        self.display.update(progress);
    }
}
