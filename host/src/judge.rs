//! The [`Judge`] that runs real policy components through the
//! [`PolicyRuntime`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use warbler_guest_sdk::{Input, Verdict};

use crate::canary::Canary;
use crate::policy::{PolicyPre, PolicyRuntime, PolicySource};
use crate::ports::Judge;
use crate::reconciler::{policy_config, policy_ref};

/// Judges each step with the policy the Canary names (`builtin:threshold`
/// when it names none).
pub struct RuntimeJudge {
    runtime: Arc<PolicyRuntime>,
    /// Policies loaded so far. Built-ins never change while the process
    /// runs; a file is loaded again only when its size or modification time
    /// changes, instead of being read and hashed at every step of every
    /// canary.
    loaded: Mutex<HashMap<PolicySource, Loaded>>,
}

/// A loaded policy and, for a file, the stamp it was loaded at.
type Loaded = (Option<FileStamp>, Arc<PolicyPre>);

/// What tells a policy file changed without reading it.
type FileStamp = (u64, Option<SystemTime>);

fn stamp(source: &PolicySource) -> Option<FileStamp> {
    let PolicySource::File(path) = source else {
        return None;
    };
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()))
}

impl RuntimeJudge {
    /// A judge over `runtime`.
    pub fn new(runtime: Arc<PolicyRuntime>) -> Self {
        RuntimeJudge {
            runtime,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    fn policy(&self, source: &PolicySource) -> Result<Arc<PolicyPre>, String> {
        let stamp = stamp(source);
        let mut loaded = self.loaded.lock().expect("judge cache poisoned");
        if let Some((seen, policy)) = loaded.get(source)
            && *seen == stamp
        {
            return Ok(policy.clone());
        }
        let policy = self.runtime.load(source).map_err(|e| e.to_string())?;
        loaded.insert(source.clone(), (stamp, policy.clone()));
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
