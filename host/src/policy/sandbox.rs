//! The per-evaluation store data: WASI with nothing granted and every answer
//! deterministic, the memory cap, and the bounded log import.

use std::sync::Arc;
use std::time::Duration;

use super::guest_output::GuestOutput;
use sha2::{Digest, Sha256};
use warbler_guest_sdk::{EarlierStep, Input};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{
    Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView,
};

use super::bindings::warbler::policy::{log, run, types};
use super::limits::RuntimeConfig;

/// What one evaluation's `Store` holds.
pub(crate) struct Sandbox {
    /// Built on the guest's first WASI call: a Rust policy typically makes
    /// none (the built-ins import no WASI at all), and building it (random
    /// sources, clocks, stdio) is about a microsecond of a fresh instance.
    wasi: Option<WasiCtx>,
    seed: [u8; 32],
    now_ms: i64,
    table: ResourceTable,
    pub(crate) memory: MemoryCap,
    policy: Arc<str>,
    log_budget: usize,
    logs_dropped: usize,
    pub(crate) guest_output: GuestOutput,
    /// What `run.earlier-steps` answers: the evaluated step's run so far.
    earlier_steps: Vec<EarlierStep>,
}

impl Sandbox {
    /// A sandbox whose clocks read `now_ms` and whose randomness derives from
    /// `seed`, so that two runs of the same input cannot be told apart.
    pub(crate) fn new(
        policy: Arc<str>,
        config: &RuntimeConfig,
        seed: [u8; 32],
        now_ms: i64,
    ) -> Self {
        Sandbox {
            wasi: None,
            seed,
            now_ms,
            table: ResourceTable::new(),
            memory: MemoryCap {
                limit: config.memory_limit,
            },
            policy,
            log_budget: config.max_log_bytes,
            logs_dropped: 0,
            guest_output: GuestOutput::new(config.max_guest_output_bytes),
            earlier_steps: Vec::new(),
        }
    }

    /// The same sandbox, answering `run.earlier-steps` with `steps`.
    pub(crate) fn with_earlier_steps(mut self, steps: Vec<EarlierStep>) -> Self {
        self.earlier_steps = steps;
        self
    }

    /// Report lines the log bound dropped, once the evaluation is over.
    pub(crate) fn finish_logs(&self) {
        if self.logs_dropped > 0 {
            tracing::warn!(policy = %self.policy, dropped = self.logs_dropped, "policy log lines dropped: the per-evaluation log limit was reached");
        }
    }
}

/// The randomness seed for an input: a digest of what identifies the step, so
/// the same step always sees the same random bytes.
pub(crate) fn seed_for(input: &Input) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in [
        input.canary.namespace.as_bytes(),
        input.canary.name.as_bytes(),
        input.canary.revision.as_bytes(),
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.update(input.state.iteration.to_le_bytes());
    hasher.update(input.state.canary_weight.to_le_bytes());
    hasher.update(input.now_ms.to_le_bytes());
    hasher.finalize().into()
}

/// Both WASI clocks stopped at the snapshot's timestamp.
#[derive(Clone, Copy)]
struct FixedClock(Duration);

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        self.0
    }
}

impl HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        self.0.as_nanos() as u64
    }
}

/// WASI with nothing granted: the builder's defaults deny files, sockets,
/// environment, arguments and stdin; only the answers that must be
/// deterministic are set.
fn wasi_ctx(seed: [u8; 32], now_ms: i64, guest_output: &GuestOutput) -> WasiCtx {
    let clock = FixedClock(Duration::from_millis(now_ms.max(0) as u64));
    let mut insecure_seed = [0u8; 16];
    insecure_seed.copy_from_slice(&seed[..16]);
    WasiCtx::builder()
        .stdout(guest_output.clone())
        .stderr(guest_output.clone())
        .secure_random(Deterministic::new(seed.to_vec()))
        .insecure_random(Deterministic::new(seed.iter().rev().copied().collect()))
        .insecure_random_seed(u128::from_le_bytes(insecure_seed))
        .wall_clock(clock)
        .monotonic_clock(clock)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (seed, now_ms, output) = (self.seed, self.now_ms, &self.guest_output);
        WasiCtxView {
            ctx: self
                .wasi
                .get_or_insert_with(|| wasi_ctx(seed, now_ms, output)),
            table: &mut self.table,
        }
    }
}

impl types::Host for Sandbox {}

impl log::Host for Sandbox {
    fn write(&mut self, level: types::Level, message: String) {
        let cost = message.len().max(1);
        if cost > self.log_budget {
            self.log_budget = 0;
            self.logs_dropped += 1;
            return;
        }
        self.log_budget -= cost;
        let policy = &*self.policy;
        match level {
            types::Level::Debug => tracing::debug!(target: "warbler::policy", policy, "{message}"),
            types::Level::Info => tracing::info!(target: "warbler::policy", policy, "{message}"),
            types::Level::Warn => tracing::warn!(target: "warbler::policy", policy, "{message}"),
        }
    }
}

impl run::Host for Sandbox {
    fn earlier_steps(&mut self) -> Vec<types::EarlierStep> {
        self.earlier_steps.iter().map(Into::into).collect()
    }
}

/// Caps linear memory growth with a typed error, so an exhausted cap is told
/// apart from any other trap.
pub(crate) struct MemoryCap {
    limit: usize,
}

/// Raised inside the guest when it grows memory past the cap.
#[derive(Debug, thiserror::Error)]
#[error("memory cap of {limit} bytes exceeded: {requested} bytes requested")]
pub(crate) struct MemoryCapExceeded {
    pub(crate) requested: usize,
    pub(crate) limit: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(wasmtime::Error::new(MemoryCapExceeded {
                requested: desired,
                limit: self.limit,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a policy needs a few thousand.
        Ok(desired <= 100_000)
    }
}
