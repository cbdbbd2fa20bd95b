//! Analysis policies: WebAssembly components that decide each step of a
//! rollout, run in a sandbox.
//!
//! [`PolicyRuntime`] loads components (from a file or the built-ins, through
//! an on-disk cache of precompiled code), checks them against the contract
//! and links them once into a [`PolicyPre`]; [`PolicyPre::evaluate`] then
//! runs one decision in a fresh, bounded instance.

mod bindings;
mod cache;
mod contract;
mod convert;
mod error;
mod evaluation;
mod guest_output;
mod limits;
mod runtime;
mod sandbox;
mod source;

pub use contract::{CONTRACT_VERSION, World};
pub use error::{EngineError, ErrorKind, EvalError, LoadError};
pub use evaluation::PolicyPre;
pub use limits::{CpuBudget, EPOCH_TICK, RuntimeConfig};
pub use runtime::PolicyRuntime;
pub use source::PolicySource;
