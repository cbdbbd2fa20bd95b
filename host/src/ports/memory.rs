//! In-memory ports: a platform, router, metrics, hooks, journal and clock
//! that live in process memory and record what was done to them. The
//! reconciler's tests drive them; so can a simulation of many canaries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};
use warbler_guest_sdk::{EarlierStep, Phase, WebhookResult};

use super::{
    Clock, Hooks, Journal, JournalEntry, Measurement, MetricSource, Platform, PortError, Readiness,
    Router, payload_phase,
};
use crate::canary::{Canary, MetricSpec, WebhookSpec};
use crate::earlier_steps::RunSteps;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().expect("in-memory port poisoned")
}

/// Workloads as values: the target's template, the primary's, replicas and
/// readiness.
#[derive(Debug)]
pub struct MemoryPlatform {
    state: Mutex<PlatformState>,
}

#[derive(Debug, Clone)]
struct PlatformState {
    target: Option<Value>,
    primary: Option<Value>,
    canary_up: bool,
    canary_ready: bool,
    primary_ready: bool,
    promotions: u32,
}

impl MemoryPlatform {
    /// A platform whose target runs `image`, everything ready.
    pub fn with_target(image: &str) -> Self {
        MemoryPlatform {
            state: Mutex::new(PlatformState {
                target: Some(json!({ "image": image })),
                primary: None,
                canary_up: true,
                canary_ready: true,
                primary_ready: true,
                promotions: 0,
            }),
        }
    }

    /// Deploy a new image to the target: a new revision.
    pub fn deploy(&self, image: &str) {
        lock(&self.state).target = Some(json!({ "image": image }));
    }

    /// Make the canary ready or not.
    pub fn set_canary_ready(&self, ready: bool) {
        lock(&self.state).canary_ready = ready;
    }

    /// Make the primary ready or not.
    pub fn set_primary_ready(&self, ready: bool) {
        lock(&self.state).primary_ready = ready;
    }

    /// The primary's image, if it exists.
    pub fn primary_image(&self) -> Option<String> {
        lock(&self.state)
            .primary
            .as_ref()
            .and_then(|p| p["image"].as_str().map(str::to_owned))
    }

    /// Whether the canary is scaled up.
    pub fn canary_up(&self) -> bool {
        lock(&self.state).canary_up
    }

    /// How many times a promotion copied the target to the primary.
    pub fn promotions(&self) -> u32 {
        lock(&self.state).promotions
    }
}

impl Platform for MemoryPlatform {
    async fn target_template(&self, _canary: &Canary) -> Result<Option<Value>, PortError> {
        Ok(lock(&self.state).target.clone())
    }

    async fn ensure_primary(&self, _canary: &Canary) -> Result<Readiness, PortError> {
        let mut state = lock(&self.state);
        if state.primary.is_none() {
            state.primary = state.target.clone();
        }
        Ok(readiness(state.primary_ready, "primary"))
    }

    async fn scale_canary(&self, _canary: &Canary, up: bool) -> Result<(), PortError> {
        lock(&self.state).canary_up = up;
        Ok(())
    }

    async fn canary_readiness(&self, _canary: &Canary) -> Result<Readiness, PortError> {
        let state = lock(&self.state);
        Ok(readiness(state.canary_up && state.canary_ready, "canary"))
    }

    async fn promote(&self, _canary: &Canary) -> Result<(), PortError> {
        let mut state = lock(&self.state);
        state.primary = state.target.clone();
        state.promotions += 1;
        Ok(())
    }

    async fn primary_readiness(&self, _canary: &Canary) -> Result<Readiness, PortError> {
        Ok(readiness(lock(&self.state).primary_ready, "primary"))
    }
}

fn readiness(ready: bool, what: &str) -> Readiness {
    if ready {
        Readiness::Ready
    } else {
        Readiness::NotReady(format!("0 of 1 {what} replicas ready"))
    }
}

/// Records every weight it is told to route.
#[derive(Debug, Default)]
pub struct MemoryRouter {
    weights: Mutex<Vec<u32>>,
}

impl MemoryRouter {
    /// Every weight set so far, in order.
    pub fn history(&self) -> Vec<u32> {
        lock(&self.weights).clone()
    }

    /// The weight now on the canary.
    pub fn weight(&self) -> u32 {
        lock(&self.weights).last().copied().unwrap_or(0)
    }
}

impl Router for MemoryRouter {
    async fn set_canary_weight(&self, _canary: &Canary, weight: u32) -> Result<(), PortError> {
        lock(&self.weights).push(weight);
        Ok(())
    }
}

/// Metric values set by hand, by metric name; unset metrics have no value.
#[derive(Debug, Default)]
pub struct ScriptedMetrics {
    values: Mutex<HashMap<String, f64>>,
}

impl ScriptedMetrics {
    /// From now on, `metric` measures `value` for the canary.
    pub fn set(&self, metric: &str, value: f64) {
        lock(&self.values).insert(metric.to_owned(), value);
    }

    /// From now on, `metric` has no value.
    pub fn clear(&self, metric: &str) {
        lock(&self.values).remove(metric);
    }
}

impl MetricSource for ScriptedMetrics {
    async fn measure(&self, _canary: &Canary, metric: &MetricSpec, _now_ms: i64) -> Measurement {
        let value = lock(&self.values).get(&metric.name).copied();
        Measurement {
            canary: value,
            note: if value.is_none() {
                format!("no values found for {}", metric.name)
            } else {
                String::new()
            },
            ..Measurement::default()
        }
    }
}

/// Webhooks that pass unless told to fail, by hook name; records calls.
#[derive(Debug, Default)]
pub struct ScriptedHooks {
    failing: Mutex<HashMap<String, bool>>,
    calls: Mutex<Vec<(String, Phase)>>,
}

impl ScriptedHooks {
    /// Make the hook called `name` pass or fail from now on.
    pub fn set_passing(&self, name: &str, passing: bool) {
        lock(&self.failing).insert(name.to_owned(), !passing);
    }

    /// Names of the hooks called so far, in order.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls)
            .iter()
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The phase each call's payload carried, with the hook's name.
    pub fn payload_phases(&self) -> Vec<(String, Phase)> {
        lock(&self.calls).clone()
    }
}

impl Hooks for ScriptedHooks {
    async fn call(&self, canary: &Canary, hook: &WebhookSpec) -> WebhookResult {
        lock(&self.calls).push((hook.name.clone(), payload_phase(canary, hook.kind)));
        let failing = lock(&self.failing)
            .get(&hook.name)
            .copied()
            .unwrap_or(false);
        WebhookResult {
            name: hook.name.clone(),
            kind: hook.kind,
            passed: !failing,
            status_code: Some(if failing { 403 } else { 200 }),
            message: if failing { "forbidden" } else { "ok" }.to_owned(),
        }
    }
}

/// Keeps journal entries in a vector.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    entries: Mutex<Vec<JournalEntry>>,
}

impl MemoryJournal {
    /// Every entry so far.
    pub fn entries(&self) -> Vec<JournalEntry> {
        lock(&self.entries).clone()
    }
}

impl Journal for MemoryJournal {
    async fn append(&self, entry: &JournalEntry) -> Result<(), PortError> {
        lock(&self.entries).push(entry.clone());
        Ok(())
    }

    async fn earlier_steps(
        &self,
        canary: &str,
        run_started_ms: i64,
        step: u32,
    ) -> Result<Vec<EarlierStep>, PortError> {
        Ok(RunSteps::of_run(lock(&self.entries).iter(), canary, run_started_ms).before(step))
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// A clock reading `now_ms`.
    pub fn at(now_ms: i64) -> Self {
        ManualClock {
            now_ms: AtomicI64::new(now_ms),
        }
    }

    /// Move the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        self.now_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}
