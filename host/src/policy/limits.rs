//! The knobs that bound a policy: CPU, memory, output, logs, concurrency.

use std::path::PathBuf;
use std::time::Duration;

/// How a policy's CPU use is bounded.
///
/// **Fuel or a deadline?** Fuel counts executed WebAssembly instructions, so
/// the same input runs out of fuel at the same point on every machine and
/// under any load: a replayed journal fails exactly where the original did.
/// It costs a few percent of guest speed. A deadline (epoch interruption)
/// bounds wall-clock time, which is what an operator usually means by
/// "at most 100 ms", but a policy near its limit may pass on an idle
/// controller and fail on a busy one. Warbler defaults to fuel because
/// verdicts must be reproducible; choose a deadline when latency matters more
/// than replay fidelity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuBudget {
    /// At most this many units of fuel (about one per instruction).
    Fuel(u64),
    /// At most this much wall-clock time, checked every
    /// [`EPOCH_TICK`] by a background thread.
    Deadline(Duration),
}

impl std::fmt::Display for CpuBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CpuBudget::Fuel(fuel) => write!(f, "{fuel} fuel"),
            CpuBudget::Deadline(d) => write!(f, "{} ms deadline", d.as_millis()),
        }
    }
}

/// How often the epoch ticker advances when a [`CpuBudget::Deadline`] is in
/// force; deadlines are rounded up to whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Bounds and settings of a [`PolicyRuntime`](super::PolicyRuntime).
///
/// The defaults fit every guest language we ship examples for: a Rust policy
/// needs about 4,000 fuel and 2 MiB, a Python one about 200,000 fuel and
/// 16 MiB, a JavaScript one about 1.2 million fuel and 12 MiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// CPU bound of one evaluation. Default: 200 million fuel.
    pub cpu: CpuBudget,
    /// Largest linear memory a policy may grow to, in bytes. Default: 64 MiB.
    /// Growing past it is a [`MemoryLimit`](super::EvalError::MemoryLimit)
    /// error rather than an allocation failure the guest could misreport.
    pub memory_limit: usize,
    /// Evaluations that may run at once; sizes the instance pool, whose
    /// address space is reserved up front (about `memory_limit` plus guard
    /// pages per slot). Default: 64.
    pub max_concurrent_evaluations: u32,
    /// Largest verdict accepted, counting its text. Default: 64 KiB.
    pub max_output_bytes: usize,
    /// Log bytes one evaluation may write through `warbler:policy/log`
    /// before further lines are dropped. Default: 16 KiB.
    pub max_log_bytes: usize,
    /// Bytes of guest stdout/stderr kept per evaluation for the log; what
    /// comes after is counted and dropped, never refused. Default: 8 KiB.
    pub max_guest_output_bytes: usize,
    /// Where precompiled components are cached; `None` compiles in memory
    /// every time the runtime starts.
    pub cache_dir: Option<PathBuf>,
    /// The key sealing cache entries, kept outside the cache directory and
    /// readable by its owner only; [`RuntimeConfig::default_cache_key`]
    /// when `None`.
    pub cache_key: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cpu: CpuBudget::Fuel(200_000_000),
            memory_limit: 64 << 20,
            max_concurrent_evaluations: 64,
            max_output_bytes: 64 << 10,
            max_log_bytes: 16 << 10,
            max_guest_output_bytes: 8 << 10,
            cache_dir: None,
            cache_key: None,
        }
    }
}

impl RuntimeConfig {
    /// The default cache key: `$WARBLER_CACHE_KEY`, else
    /// `$XDG_CONFIG_HOME/warbler/cache.key`, else
    /// `~/.config/warbler/cache.key`.
    pub fn default_cache_key() -> Option<PathBuf> {
        let env = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        env("WARBLER_CACHE_KEY").map(PathBuf::from).or_else(|| {
            env("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".config")))
                .map(|dir| dir.join("warbler").join("cache.key"))
        })
    }

    /// The default cache directory: `$WARBLER_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/warbler`, else `~/.cache/warbler`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        let env = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        env("WARBLER_CACHE_DIR").map(PathBuf::from).or_else(|| {
            env("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .map(|dir| dir.join("warbler"))
        })
    }
}
