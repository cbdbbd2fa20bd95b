//! The [`Judge`] that runs real policy components through the
//! [`PolicyRuntime`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use warbler_guest_sdk::{Input, Verdict};

use crate::canary::Canary;
use crate::policy::{PolicyPre, PolicyRuntime, PolicySource};
use crate::ports::Judge;
use crate::reconciler::{policy_config, policy_ref};

/// Judges each step with the policy the Canary names (`builtin:threshold`
/// when it names none).
pub struct RuntimeJudge {
    runtime: Arc<PolicyRuntime>,
    /// Built-ins never change while the process runs: load each once instead
    /// of hashing its bytes at every step of every canary.
    builtins: Mutex<HashMap<&'static str, Arc<PolicyPre>>>,
}

impl RuntimeJudge {
    /// A judge over `runtime`.
    pub fn new(runtime: Arc<PolicyRuntime>) -> Self {
        RuntimeJudge {
            runtime,
            builtins: Mutex::new(HashMap::new()),
        }
    }

    fn policy(&self, source: &PolicySource) -> Result<Arc<PolicyPre>, String> {
        let PolicySource::Builtin(name) = source else {
            return self.runtime.load(source).map_err(|e| e.to_string());
        };
        let mut builtins = self.builtins.lock().expect("judge cache poisoned");
        if let Some(policy) = builtins.get(name) {
            return Ok(policy.clone());
        }
        let policy = self.runtime.load(source).map_err(|e| e.to_string())?;
        builtins.insert(name, policy.clone());
        Ok(policy)
    }
}

impl RuntimeJudge {
    /// Load the policy `canary` names and have it check its configuration,
    /// so that a bad policy or config stops a run before it starts.
    pub fn check(&self, canary: &Canary) -> Result<(), String> {
        let reference = policy_ref(canary);
        let source: PolicySource = reference
            .parse()
            .map_err(|e| format!("spec.analysis.policy.ref: {e}"))?;
        self.policy(&source)?
            .validate_config(&policy_config(canary))
            .map_err(|e| format!("spec.analysis.policy.config: {e}"))
    }
}

impl Judge for RuntimeJudge {
    fn judge(&self, canary: &Canary, input: &Input) -> Result<Verdict, String> {
        let source: PolicySource = policy_ref(canary).parse().map_err(|e| format!("{e}"))?;
        self.policy(&source)?
            .evaluate(input)
            .map_err(|e| e.to_string())
    }
}
