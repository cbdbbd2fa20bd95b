//! The local [`Platform`]: the primary and the canary are upstream URLs or
//! supervised child processes, and "promotion" starts the primary again with
//! the canary's release.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::http::uri::Authority;
use serde_json::Value;
use tokio::sync::Mutex;

use super::children::ChildRecord;
use super::process::Process;
use super::proxy::WeightedProxy;
use crate::canary::{BackendKind, Canary, LocalBackend, LocalSpec};
use crate::ports::{Platform, PortError, Readiness};

/// A release as it runs here.
#[derive(Debug)]
struct Running {
    release: LocalBackend,
    instance: Instance,
}

#[derive(Debug)]
enum Instance {
    Url(Authority),
    Process(Box<Process>),
}

impl Running {
    fn authority(&self) -> Authority {
        match &self.instance {
            Instance::Url(authority) => authority.clone(),
            Instance::Process(process) => process
                .address()
                .to_string()
                .parse()
                .expect("a socket address is an authority"),
        }
    }

    async fn stop(self) {
        if let Instance::Process(process) = self.instance {
            process.stop().await;
        }
    }
}

#[derive(Debug, Default)]
struct Slots {
    /// What the primary runs (changed by promotion).
    primary_release: Option<LocalBackend>,
    primary: Option<Running>,
    /// The primary restarted with a promoted release, until it is ready.
    promoted: Option<Running>,
    canary: Option<Running>,
}

/// Workloads on this machine.
#[derive(Debug, Clone)]
pub struct LocalPlatform {
    slots: Arc<Mutex<Slots>>,
    proxy: WeightedProxy,
    probe: reqwest::Client,
    logs: PathBuf,
    record: Arc<ChildRecord>,
}

fn port_error(message: String) -> PortError {
    PortError {
        port: "platform",
        message,
    }
}

fn local(canary: &Canary) -> Result<&LocalSpec, PortError> {
    canary.spec.local.as_ref().ok_or_else(|| {
        port_error(
            "spec.local is missing; local mode needs the primary and canary releases there"
                .to_owned(),
        )
    })
}

impl LocalPlatform {
    /// A platform that points `proxy` at what it runs, writes process logs
    /// into `logs` and notes the processes it starts in `record`. The
    /// primary runs `primary_release` (the state file's after a restart,
    /// else `spec.local.primary`).
    pub fn new(
        proxy: WeightedProxy,
        logs: PathBuf,
        record: Arc<ChildRecord>,
        primary_release: Option<LocalBackend>,
    ) -> Self {
        LocalPlatform {
            slots: Arc::new(Mutex::new(Slots {
                primary_release,
                ..Slots::default()
            })),
            proxy,
            probe: crate::http::client(Duration::from_secs(2)),
            logs,
            record,
        }
    }

    /// Restart whichever release process has exited, in any phase and
    /// between runs, and point the proxy at a restarted primary or canary
    /// once it answers. Called every second while Warbler runs, so a
    /// release that dies is back without waiting for the next analysis
    /// step.
    pub async fn supervise(&self, readiness_path: &str) {
        let mut slots = self.slots.lock().await;
        let slots = &mut *slots;
        if let Some(primary) = slots.primary.as_mut()
            && let Ok(Readiness::Ready) = self.readiness(primary, readiness_path, "primary").await
        {
            self.proxy.set_primary(Some(primary.authority()));
        }
        if let Some(canary) = slots.canary.as_mut()
            && let Ok(Readiness::Ready) = self.readiness(canary, readiness_path, "canary").await
        {
            self.proxy.set_canary(Some(canary.authority()));
        }
        if let Some(promoted) = slots.promoted.as_mut() {
            let _ = self.readiness(promoted, readiness_path, "primary").await;
        }
    }

    /// The release the primary runs.
    pub async fn primary_release(&self) -> Option<LocalBackend> {
        self.slots.lock().await.primary_release.clone()
    }

    fn start(&self, release: &LocalBackend, deployment: &str) -> Result<Running, String> {
        let instance = match release.kind(deployment)? {
            BackendKind::Url(authority) => Instance::Url(authority.parse().map_err(|err| {
                format!("spec.local.{deployment}.url: `{authority}` is not HOST:PORT: {err}")
            })?),
            BackendKind::Command(command) => {
                std::fs::create_dir_all(&self.logs)
                    .map_err(|err| format!("cannot create {}: {err}", self.logs.display()))?;
                let log = self.logs.join(format!("{deployment}.log"));
                Instance::Process(Box::new(Process::start(
                    command,
                    &release.env,
                    &log,
                    self.record.clone(),
                )?))
            }
        };
        Ok(Running {
            release: release.clone(),
            instance,
        })
    }

    /// Ready when the process is alive and the readiness path answers 2xx or
    /// 3xx. A process that exited is started again (it is supervised).
    async fn readiness(
        &self,
        running: &mut Running,
        path: &str,
        deployment: &str,
    ) -> Result<Readiness, PortError> {
        if let Instance::Process(process) = &mut running.instance
            && let Some(status) = process.exited()
        {
            let log = process.log().display().to_string();
            let restarted = self
                .start(&running.release, deployment)
                .map_err(port_error)?;
            let old = std::mem::replace(running, restarted);
            old.stop().await;
            tracing::warn!(
                "the {deployment} release exited ({status}) and was restarted; its output is in {log}"
            );
            return Ok(Readiness::NotReady(format!(
                "{deployment} exited ({status}) and was restarted; its output is in {log}"
            )));
        }
        let url = format!("http://{}{path}", running.authority());
        Ok(match self.probe.get(&url).send().await {
            Ok(response)
                if response.status().is_success() || response.status().is_redirection() =>
            {
                Readiness::Ready
            }
            Ok(response) => Readiness::NotReady(format!(
                "{deployment} answered {} at {url}",
                response.status()
            )),
            Err(_) => Readiness::NotReady(format!("{deployment} does not answer at {url} yet")),
        })
    }

    /// Stop everything this platform started and take the proxy off it.
    pub async fn shutdown(&self) {
        let mut slots = self.slots.lock().await;
        self.proxy.set_canary(None);
        self.proxy.set_primary(None);
        for running in [
            slots.canary.take(),
            slots.promoted.take(),
            slots.primary.take(),
        ]
        .into_iter()
        .flatten()
        {
            running.stop().await;
        }
    }
}

impl Platform for LocalPlatform {
    async fn target_template(&self, canary: &Canary) -> Result<Option<Value>, PortError> {
        let release = &local(canary)?.canary;
        Ok(Some(
            serde_json::to_value(release).expect("a local release serializes"),
        ))
    }

    async fn ensure_primary(&self, canary: &Canary) -> Result<Readiness, PortError> {
        let spec = local(canary)?;
        let mut slots = self.slots.lock().await;
        let release = slots
            .primary_release
            .get_or_insert_with(|| spec.primary.clone())
            .clone();
        let primary = match &mut slots.primary {
            Some(running) => running,
            empty => empty.insert(self.start(&release, "primary").map_err(port_error)?),
        };
        let readiness = self
            .readiness(primary, &spec.readiness_path, "primary")
            .await?;
        if readiness == Readiness::Ready {
            self.proxy.set_primary(Some(primary.authority()));
        }
        Ok(readiness)
    }

    async fn scale_canary(&self, canary: &Canary, up: bool) -> Result<(), PortError> {
        let release = &local(canary)?.canary;
        let mut slots = self.slots.lock().await;
        let current = slots
            .canary
            .as_ref()
            .is_some_and(|running| &running.release == release);
        if up && current {
            return Ok(());
        }
        self.proxy.set_canary(None);
        if let Some(old) = slots.canary.take() {
            old.stop().await;
        }
        if up {
            slots.canary = Some(self.start(release, "canary").map_err(port_error)?);
        }
        Ok(())
    }

    async fn canary_readiness(&self, canary: &Canary) -> Result<Readiness, PortError> {
        let spec = local(canary)?;
        let mut slots = self.slots.lock().await;
        let Some(running) = slots.canary.as_mut() else {
            return Ok(Readiness::NotReady("the canary is not running".to_owned()));
        };
        let readiness = self
            .readiness(running, &spec.readiness_path, "canary")
            .await?;
        if readiness == Readiness::Ready {
            self.proxy.set_canary(Some(running.authority()));
        }
        Ok(readiness)
    }

    async fn promote(&self, canary: &Canary) -> Result<(), PortError> {
        let release = local(canary)?.canary.clone();
        let mut slots = self.slots.lock().await;
        if slots.primary_release.as_ref() == Some(&release) {
            return Ok(());
        }
        if let Some(stale) = slots.promoted.take() {
            stale.stop().await;
        }
        slots.promoted = Some(self.start(&release, "primary").map_err(port_error)?);
        slots.primary_release = Some(release);
        Ok(())
    }

    async fn primary_readiness(&self, canary: &Canary) -> Result<Readiness, PortError> {
        let spec = local(canary)?;
        let mut slots = self.slots.lock().await;
        let slots = &mut *slots;
        let (running, promoting) = match (slots.promoted.as_mut(), slots.primary.as_mut()) {
            (Some(promoted), _) => (promoted, true),
            (None, Some(primary)) => (primary, false),
            (None, None) => {
                return Ok(Readiness::NotReady("the primary is not running".to_owned()));
            }
        };
        let readiness = self
            .readiness(running, &spec.readiness_path, "primary")
            .await?;
        if readiness == Readiness::Ready {
            self.proxy.set_primary(Some(running.authority()));
            // The promoted instance takes over; the old primary stops only
            // once no new request can reach it.
            if promoting {
                let promoted = slots.promoted.take();
                if let Some(old) = std::mem::replace(&mut slots.primary, promoted) {
                    old.stop().await;
                }
            }
        }
        Ok(readiness)
    }
}
