//! The [`Judge`] that runs real policy components through the
//! [`PolicyRuntime`].

use std::sync::Arc;

use warbler_guest_sdk::{Input, Verdict};

use crate::canary::Canary;
use crate::policy::{PolicyRuntime, PolicySource};
use crate::ports::Judge;
use crate::reconciler::policy_ref;

/// Judges each step with the policy the Canary names (`builtin:threshold`
/// when it names none).
pub struct RuntimeJudge {
    runtime: Arc<PolicyRuntime>,
}

impl RuntimeJudge {
    /// A judge over `runtime`.
    pub fn new(runtime: Arc<PolicyRuntime>) -> Self {
        RuntimeJudge { runtime }
    }
}

impl Judge for RuntimeJudge {
    fn judge(&self, canary: &Canary, input: &Input) -> Result<Verdict, String> {
        let source: PolicySource = policy_ref(canary).parse().map_err(|e| format!("{e}"))?;
        let policy = self.runtime.load(&source).map_err(|e| e.to_string())?;
        policy.evaluate(input).map_err(|e| e.to_string())
    }
}
