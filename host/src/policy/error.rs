//! What can go wrong when loading or evaluating a policy.

use std::path::PathBuf;

use warbler_guest_sdk::PolicyError;

/// A policy could not be loaded. Every message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `builtin:NAME` names no built-in policy.
    #[error("there is no built-in policy `{name}`; built-ins are: {available}")]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The names that exist, comma-separated.
        available: String,
    },
    /// An OCI reference is bad, or its artifact could not be pulled.
    #[error(transparent)]
    Registry(crate::oci::OciError),
    /// An OCI reference reached a loader that reads local policies only.
    #[error("{reference} is in a registry; pull it with a PolicyRegistry before loading it")]
    NotPulled {
        /// The reference.
        reference: String,
    },
    /// The policy file could not be read.
    #[error(
        "cannot read policy file {path}: {source}; pass a `.wasm` component path, `oci://REGISTRY/REPOSITORY:TAG` or `builtin:NAME`"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes are a core module or not WebAssembly at all.
    #[error(
        "{what} is not a WebAssembly component ({found}); build policies with `cargo build --target wasm32-wasip2` or wrap a core module with `wasm-tools component new`"
    )]
    NotAComponent {
        /// The policy reference.
        what: String,
        /// What the bytes are instead.
        found: &'static str,
    },
    /// Wasmtime could not compile the component.
    #[error("cannot compile {what}: {message}")]
    Compile {
        /// The policy reference.
        what: String,
        /// Wasmtime's explanation.
        message: String,
    },
    /// The component does not export the analysis interface at all.
    #[error(
        "{what} does not export `warbler:policy/analysis`: is it a Warbler policy? Rust policies export one with `warbler_guest_sdk::export_policy!`"
    )]
    NotAPolicy {
        /// The policy reference.
        what: String,
    },
    /// The component was built for another version of the contract.
    #[error(
        "{what} was built for `warbler:policy@{found}` (in `{interface}`) but this Warbler speaks `warbler:policy@{expected}`; rebuild the policy against a matching warbler-guest-sdk or run a Warbler that speaks {found}"
    )]
    ContractVersion {
        /// The policy reference.
        what: String,
        /// The interface that carries the version.
        interface: String,
        /// The version the component was built for.
        found: String,
        /// The version this host speaks.
        expected: String,
    },
    /// The component imports something the sandbox does not provide.
    #[error(
        "{what} imports `{import}`, which Warbler does not provide: policies may import only `warbler:policy/log` and the WASI 0.2 interfaces a language runtime needs (io, clocks, random, cli, filesystem, sockets; all of them answer without granting access); remove the dependency that pulls `{import}` in"
    )]
    ForbiddenImport {
        /// The policy reference.
        what: String,
        /// The offending import's name.
        import: String,
    },
    /// The component could not be linked or described.
    #[error("cannot start {what}: {message}")]
    Instantiate {
        /// The policy reference.
        what: String,
        /// Why.
        message: String,
    },
}

/// An evaluation ended without a verdict. All of these fail safe: the caller
/// counts them as a failed check (or rolls back, if so configured).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The policy used up its CPU budget (fuel or wall-clock deadline).
    #[error(
        "policy `{policy}` exceeded its CPU budget ({budget}); it may loop forever, or raise the budget with --fuel / --deadline-ms"
    )]
    CpuBudgetExhausted {
        /// The policy's name.
        policy: String,
        /// The budget as configured, e.g. `100000000 fuel`.
        budget: String,
    },
    /// The policy tried to grow its memory beyond the cap.
    #[error(
        "policy `{policy}` tried to grow its memory to {requested} bytes, over the cap of {limit} bytes; raise the cap with --memory-mib if it really needs that much"
    )]
    MemoryLimit {
        /// The policy's name.
        policy: String,
        /// Bytes requested.
        requested: usize,
        /// The cap.
        limit: usize,
    },
    /// The policy trapped (panic, stack overflow, out-of-bounds access...).
    #[error("policy `{policy}` crashed: {trap}{}", output_suffix(.output))]
    Trap {
        /// The policy's name.
        policy: String,
        /// Wasmtime's description of the trap.
        trap: String,
        /// What the guest wrote to stdout/stderr (a panic message, say).
        output: String,
    },
    /// The verdict was larger than the host accepts.
    #[error(
        "policy `{policy}` returned {bytes} bytes of verdict, over the limit of {limit}; shorten reasons and judgements"
    )]
    OutputTooLarge {
        /// The policy's name.
        policy: String,
        /// Size of the verdict's text.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The verdict made no sense (e.g. a weight over 100).
    #[error("policy `{policy}` returned an invalid verdict: {reason}")]
    InvalidVerdict {
        /// The policy's name.
        policy: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `validate-config` answered with an error: the config is refused.
    #[error(
        "policy `{policy}` refused the config: {}; fix spec.analysis.policy.config (`warbler policy inspect` prints the policy's config schema)",
        config_refusal(.error)
    )]
    ConfigRefused {
        /// The policy's name.
        policy: String,
        /// The policy's own error.
        error: PolicyError,
    },
    /// `evaluate` answered with an error.
    #[error("policy `{policy}` refused to decide: {error}")]
    Refused {
        /// The policy's name.
        policy: String,
        /// The policy's own error.
        error: PolicyError,
    },
    /// Every evaluation slot of the instance pool is in use.
    #[error(
        "no free policy instance slot: all {slots} are in use; raise --max-concurrent-evaluations"
    )]
    PoolExhausted {
        /// Slots configured.
        slots: u32,
    },
    /// The host failed around the call; a bug or a resource problem.
    #[error("evaluating policy `{policy}` failed in the host: {message}")]
    Host {
        /// The policy's name.
        policy: String,
        /// Why.
        message: String,
    },
}

/// What kind of failure an [`EvalError`] is, as case tables name it in
/// `expectError.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The policy refused its config (from `validate-config` or `evaluate`).
    InvalidConfig,
    /// The policy found its input lacking.
    InvalidInput,
    /// The policy failed in its own way.
    Internal,
    /// The guest crashed: a panic, an uncaught exception, a stack overflow.
    Trap,
    /// The guest ran out of fuel or time.
    CpuBudget,
    /// The guest asked for more memory than the cap.
    MemoryLimit,
    /// The verdict was over the size limit.
    OutputTooLarge,
    /// The verdict made no sense (a weight over 100, a score that is NaN).
    InvalidVerdict,
    /// The host failed around the call.
    Host,
}

impl ErrorKind {
    /// The kind's name as written in case tables.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidConfig => "invalid-config",
            ErrorKind::InvalidInput => "invalid-input",
            ErrorKind::Internal => "internal",
            ErrorKind::Trap => "trap",
            ErrorKind::CpuBudget => "cpu-budget",
            ErrorKind::MemoryLimit => "memory-limit",
            ErrorKind::OutputTooLarge => "output-too-large",
            ErrorKind::InvalidVerdict => "invalid-verdict",
            ErrorKind::Host => "host",
        }
    }
}

impl EvalError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EvalError::ConfigRefused { error, .. } | EvalError::Refused { error, .. } => {
                match error {
                    PolicyError::InvalidConfig(_) => ErrorKind::InvalidConfig,
                    PolicyError::InvalidInput(_) => ErrorKind::InvalidInput,
                    PolicyError::Internal(_) => ErrorKind::Internal,
                }
            }
            EvalError::Trap { .. } => ErrorKind::Trap,
            EvalError::CpuBudgetExhausted { .. } => ErrorKind::CpuBudget,
            EvalError::MemoryLimit { .. } => ErrorKind::MemoryLimit,
            EvalError::OutputTooLarge { .. } => ErrorKind::OutputTooLarge,
            EvalError::InvalidVerdict { .. } => ErrorKind::InvalidVerdict,
            EvalError::PoolExhausted { .. } | EvalError::Host { .. } => ErrorKind::Host,
        }
    }
}

/// An `invalid-config` error's own text (the error already says the config
/// is refused); any other kind with its name.
fn config_refusal(error: &PolicyError) -> String {
    match error {
        PolicyError::InvalidConfig(message) => message.clone(),
        other => other.to_string(),
    }
}

fn output_suffix(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!("; it wrote: {output}")
    }
}

/// The policy engine could not be set up.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot start the policy engine: {message}; if address space is short, lower --max-concurrent-evaluations or --memory-mib"
)]
pub struct EngineError {
    /// Wasmtime's explanation.
    pub message: String,
}
