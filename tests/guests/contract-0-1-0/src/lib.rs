//! A policy built against `wit/policy.wit` as contract 0.1.0 published it
//! (a frozen copy under `wit/`), with wit-bindgen alone: what a policy
//! author's component of that time is. It logs one line and walks the
//! weights by `stepWeight`, promoting at `maxWeight`.

// wit-bindgen's generated glue exports raw functions; this crate has no
// other code that could be unsafe.
#![allow(unsafe_code)]

/// The bindings of the frozen contract.
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "policy" });
}

use bindings::exports::warbler::policy::analysis::Guest;
use bindings::warbler::policy::log;
use bindings::warbler::policy::types::{Decision, Input, PolicyError, PolicyInfo, Verdict};

struct Walk;

impl Guest for Walk {
    fn describe() -> PolicyInfo {
        PolicyInfo {
            name: "walk".to_owned(),
            version: "0.1.0".to_owned(),
            description: "Walks the weights; built for contract 0.1.0. Tests only.".to_owned(),
            required_metrics: Vec::new(),
            needs_baseline: false,
            config_schema: r#"{"type":["object","null"]}"#.to_owned(),
        }
    }

    fn validate_config(_config: String) -> Result<(), PolicyError> {
        Ok(())
    }

    fn evaluate(input: Input) -> Result<Verdict, PolicyError> {
        let weight = input.state.canary_weight;
        let max = input.analysis.max_weight.unwrap_or(100);
        log::write(
            bindings::warbler::policy::types::Level::Info,
            &format!("walking from {weight}"),
        );
        let decision = if weight >= max {
            Decision::Promote
        } else {
            Decision::Advance((weight + input.analysis.step_weight.unwrap_or(10)).min(max))
        };
        Ok(Verdict {
            decision,
            judgements: Vec::new(),
            score: None,
        })
    }
}

bindings::export!(Walk with_types_in bindings);
