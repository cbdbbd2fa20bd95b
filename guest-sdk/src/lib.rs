//! Write [Warbler](https://github.com/warbler-dev/warbler) canary-analysis
//! policies in Rust.
//!
//! A policy is a WebAssembly component that Warbler asks, at every analysis
//! step of a canary rollout, what to do next: advance the canary's traffic
//! weight, hold, promote or roll back. Warbler gathers every fact (metrics for
//! the canary and the primary, webhook results, the rollout's state) and hands
//! them to the policy as an [`Input`]; the policy answers with a [`Verdict`].
//! It runs sandboxed: no network, no files, no clock, bounded CPU and memory.
//! Same input, same verdict, so journals replay exactly.
//!
//! # A complete policy
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "error-budget"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! serde = { version = "1", features = ["derive"] }
//! warbler-guest-sdk = "0.1"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use serde::Deserialize;
//! use warbler_guest_sdk::{export_policy, Input, Policy, PolicyError, PolicyInfo, Verdict};
//!
//! /// Promote when the canary's success rate stays above a floor.
//! pub struct ErrorBudget;
//!
//! #[derive(Deserialize)]
//! #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
//! struct Config {
//!     min_success_rate: f64,
//! }
//!
//! impl Default for Config {
//!     fn default() -> Self {
//!         Config { min_success_rate: 99.0 }
//!     }
//! }
//!
//! impl Policy for ErrorBudget {
//!     fn describe() -> PolicyInfo {
//!         PolicyInfo::named("error-budget", "0.1.0", "Success-rate floor.")
//!             .requiring(&["request-success-rate"])
//!     }
//!
//!     fn validate_config(config: &str) -> Result<(), PolicyError> {
//!         warbler_guest_sdk::parse_config::<Config>(config).map(drop)
//!     }
//!
//!     fn evaluate(input: &Input) -> Result<Verdict, PolicyError> {
//!         let config: Config = input.config()?;
//!         let Some(rate) = input.metric("request-success-rate").and_then(|m| m.canary_value()) else {
//!             return Ok(Verdict::fail("no values found for request-success-rate"));
//!         };
//!         if rate < config.min_success_rate {
//!             return Ok(Verdict::fail(format!("success rate {rate} < {}", config.min_success_rate)));
//!         }
//!         let weight = input.analysis.next_weight(input.state.canary_weight);
//!         Ok(if input.state.canary_weight >= input.analysis.max_weight() {
//!             Verdict::promote()
//!         } else {
//!             Verdict::advance(weight)
//!         })
//!     }
//! }
//!
//! export_policy!(ErrorBudget);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` and try it
//! with `warbler policy eval --policy target/wasm32-wasip2/release/error_budget.wasm
//! --input input.json`. Because the crate is also an `rlib`, the same logic
//! unit-tests natively with plain `cargo test`.
//!
//! # What the types mean
//!
//! The field-by-field contract is `wit/policy.wit`; the types here mirror it
//! with Rust names and serde support (camelCase JSON, the format of
//! `warbler policy eval --input` and of journals).

extern crate self as warbler_guest_sdk;

// The one place the SDK needs `unsafe`: a global allocator.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#[allow(unsafe_code)]
mod allocator;
mod config;
mod input;
pub mod log;
mod policy;
mod verdict;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod component;

/// Plumbing for [`export_policy!`]; not part of the API.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub use component as __component;

pub use input::{
    Analysis, CanaryRef, EarlierStep, Input, Metric, PastStep, Phase, RolloutState, Series,
    ThresholdRange, WebhookKind, WebhookResult,
};
pub use policy::{Policy, PolicyError, PolicyInfo};
pub use verdict::{Decision, Judgement, Outcome, Verdict};

/// Parse a configuration (JSON text, `null` for none) as `T`, `T::default()`
/// for none. The error names the offending field; use it in
/// [`Policy::validate_config`].
pub fn parse_config<T>(config: &str) -> Result<T, PolicyError>
where
    T: serde::de::DeserializeOwned + Default,
{
    config::parse(config)
}

/// Export a type that implements [`Policy`] as the component's
/// `warbler:policy/analysis` interface. Use it once per policy crate. When
/// the crate is compiled natively (for unit tests) it expands to nothing.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WarblerComponent;

            impl $crate::__component::Guest for WarblerComponent {
                fn describe() -> $crate::__component::bindings::warbler::policy::types::PolicyInfo {
                    $crate::__component::describe::<$policy>()
                }

                fn validate_config(
                    config: ::std::string::String,
                ) -> ::std::result::Result<(), $crate::__component::bindings::warbler::policy::types::PolicyError> {
                    $crate::__component::validate_config::<$policy>(config)
                }

                fn evaluate(
                    input: $crate::__component::bindings::warbler::policy::types::Input,
                ) -> ::std::result::Result<
                    $crate::__component::bindings::warbler::policy::types::Verdict,
                    $crate::__component::bindings::warbler::policy::types::PolicyError,
                > {
                    $crate::__component::evaluate::<$policy>(input)
                }
            }

            $crate::__component::bindings::__export_component!(WarblerComponent with_types_in $crate::__component::bindings);
        };
    };
}
