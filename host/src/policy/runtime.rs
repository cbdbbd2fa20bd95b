//! The policy runtime: one engine, one linker, loaded policies shared by
//! digest. Loading (compile, cache, check, link) lives here; running a policy
//! lives in [`super::evaluation`].

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings;
use super::cache::ArtifactCache;
use super::contract;
use super::error::{EngineError, LoadError};
use super::evaluation::PolicyPre;
use super::limits::{CpuBudget, EPOCH_TICK, RuntimeConfig};
use super::sandbox::Sandbox;
use super::source::PolicySource;

/// Loads policy components and hands out [`PolicyPre`]s that evaluate them.
///
/// Create one per process: it owns the wasmtime engine, whose instance pool
/// and compiled code are shared by every policy and every evaluation.
pub struct PolicyRuntime {
    engine: Engine,
    linker: Linker<Sandbox>,
    config: Arc<RuntimeConfig>,
    cache: Option<ArtifactCache>,
    loaded: Mutex<HashMap<String, Arc<PolicyPre>>>,
    _ticker: Option<EpochTicker>,
}

impl PolicyRuntime {
    /// A runtime with these bounds.
    pub fn new(config: RuntimeConfig) -> Result<Self, EngineError> {
        let engine = Engine::new(&engine_config(&config)).map_err(engine_error)?;
        let mut linker = Linker::new(&engine);
        bindings::Policy::add_to_linker::<_, HasSelf<Sandbox>>(&mut linker, |sandbox| sandbox)
            .map_err(engine_error)?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_error)?;
        let key = config
            .cache_key
            .clone()
            .or_else(RuntimeConfig::default_cache_key);
        let cache = match (config.cache_dir.clone(), key) {
            (Some(dir), Some(key)) => ArtifactCache::open(dir, &key, &engine)
                .inspect_err(|err| {
                    tracing::warn!("policy cache not used: {err}; policies are compiled in memory")
                })
                .ok(),
            (Some(dir), None) => {
                tracing::warn!(
                    "policy cache {} not used: no place for its key (set WARBLER_CACHE_KEY or HOME)",
                    dir.display()
                );
                None
            }
            (None, _) => None,
        };
        let ticker =
            matches!(config.cpu, CpuBudget::Deadline(_)).then(|| EpochTicker::start(&engine));
        Ok(PolicyRuntime {
            engine,
            linker,
            config: Arc::new(config),
            cache,
            loaded: Mutex::new(HashMap::new()),
            _ticker: ticker,
        })
    }

    /// Load the policy `source` refers to. Loading the same component twice
    /// (by content) returns the same [`PolicyPre`].
    pub fn load(&self, source: &PolicySource) -> Result<Arc<PolicyPre>, LoadError> {
        self.load_bytes(&source.to_string(), &source.read()?)
    }

    /// Load a component from its bytes; `what` names it in errors and logs.
    pub fn load_bytes(&self, what: &str, wasm: &[u8]) -> Result<Arc<PolicyPre>, LoadError> {
        let digest = format!("{:x}", Sha256::digest(wasm));
        if let Some(pre) = self
            .loaded
            .lock()
            .expect("policy map poisoned")
            .get(&digest)
        {
            return Ok(pre.clone());
        }
        check_is_component(what, wasm)?;
        let component = self.compile(what, &digest, wasm)?;
        let world = contract::check(&self.engine, &component, what)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(bindings::PolicyPre::new)
            .map_err(|err| LoadError::Instantiate {
                what: what.to_owned(),
                message: format!("{err:#}"),
            })?;
        let pre = Arc::new(PolicyPre::new(
            what,
            instance_pre,
            self.config.clone(),
            digest.clone(),
            wasm.len(),
            world,
        ));
        // A policy that cannot describe itself will not evaluate either:
        // fail at load time, where the operator is looking.
        pre.describe().map_err(|err| LoadError::Instantiate {
            what: what.to_owned(),
            message: err.to_string(),
        })?;
        self.loaded
            .lock()
            .expect("policy map poisoned")
            .insert(digest, pre.clone());
        Ok(pre)
    }

    fn compile(&self, what: &str, digest: &str, wasm: &[u8]) -> Result<Component, LoadError> {
        let compiled = match &self.cache {
            Some(cache) => match cache.load(&self.engine, digest) {
                Some(component) => return Ok(component),
                None => cache.compile_and_store(&self.engine, digest, wasm),
            },
            None => Component::new(&self.engine, wasm),
        };
        compiled.map_err(|err| LoadError::Compile {
            what: what.to_owned(),
            message: format!("{err:#}"),
        })
    }
}

/// Memory kept resident per freed slot when dirty pages can be tracked: the
/// initial memory our Rust policies are linked with (`.cargo/config.toml`).
const KEEP_RESIDENT_WITH_PAGEMAP: usize = 2 << 20;
/// Memory zeroed with memset per freed slot otherwise: a policy's 64 KiB
/// stack and its static data.
const KEEP_RESIDENT_WITHOUT_PAGEMAP: usize = 128 << 10;
/// Table bytes reset with memset per freed slot.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

fn engine_config(config: &RuntimeConfig) -> Config {
    let mut engine = Config::new();
    engine.wasm_component_model(true);
    match config.cpu {
        CpuBudget::Fuel(_) => engine.consume_fuel(true),
        CpuBudget::Deadline(_) => engine.epoch_interruption(true),
    };
    let slots = config.max_concurrent_evaluations.max(1);
    let mut pool = PoolingAllocationConfig::new();
    // A component holds several core instances, memories and tables (a
    // language runtime and its adapters); size the pool for the largest
    // guests we ship examples for. Evaluations are synchronous, so no fiber
    // stacks are needed (each would cost guard-page syscalls at start-up).
    pool.total_component_instances(slots)
        .total_core_instances(slots * 16)
        .total_memories(slots * 4)
        .total_tables(slots * 8)
        .total_stacks(0)
        .max_memory_size(config.memory_limit)
        .table_keep_resident(TABLE_KEEP_RESIDENT);
    // Freed memory slots are reset for the next instance. Where Linux can
    // report which pages were dirtied (PAGEMAP_SCAN), only those are zeroed,
    // so the whole initial memory of a typical policy stays resident and an
    // evaluation costs no madvise and no page faults. Elsewhere memset only
    // the first pages (where a policy's stack and data live) and madvise the
    // rest.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT_WITH_PAGEMAP);
    } else {
        pool.linear_memory_keep_resident(KEEP_RESIDENT_WITHOUT_PAGEMAP);
    }
    engine.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    engine
}

fn engine_error(err: wasmtime::Error) -> EngineError {
    EngineError {
        message: format!("{err:#}"),
    }
}

/// Tell components from core modules and non-Wasm bytes by their header.
fn check_is_component(what: &str, wasm: &[u8]) -> Result<(), LoadError> {
    let found = match wasm.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => return Ok(()),
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => "a core WebAssembly module",
        _ => "not WebAssembly at all",
    };
    Err(LoadError::NotAComponent {
        what: what.to_owned(),
        found,
    })
}

/// Advances the engine's epoch every [`EPOCH_TICK`] while alive, for
/// [`CpuBudget::Deadline`].
struct EpochTicker {
    _stop: mpsc::Sender<()>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let engine = engine.clone();
        std::thread::Builder::new()
            .name("warbler-epoch".to_owned())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                    engine.increment_epoch();
                }
            })
            .expect("cannot start the epoch thread");
        EpochTicker { _stop: stop }
    }
}
