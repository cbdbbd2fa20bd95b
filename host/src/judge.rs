//! The [`Judge`] that runs real policy components through the
//! [`PolicyRuntime`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use warbler_guest_sdk::{Input, Verdict};

use crate::canary::{Canary, ShadowPolicySpec};
use crate::oci::{PolicyRegistry, TrustedKeys};
use crate::policy::{PolicyPre, PolicyRuntime, PolicySource};
use crate::ports::Judge;
use crate::reconciler::{policy_config, policy_ref};

/// Judges each step with the policy the Canary names (`builtin:threshold`
/// when it names none).
pub struct RuntimeJudge {
    runtime: Arc<PolicyRuntime>,
    /// Where `oci://` policies are pulled from; none refuses them.
    registry: Option<Arc<PolicyRegistry>>,
    /// Policies loaded so far. Built-ins never change while the process
    /// runs; a file is loaded again only when its size or modification time
    /// changes, instead of being read and hashed at every step of every
    /// canary. An `oci://` tag is resolved once: the policy it gave is
    /// kept while the process runs. Keyed by the signatures required too,
    /// so that a Canary that requires some never gets a policy another
    /// Canary loaded without checking them.
    loaded: Mutex<HashMap<PolicyKey, Loaded>>,
    /// Held while a policy loads, so that canaries asking for the same
    /// uncached policy at once (a controller starting with thousands) wait
    /// for one compile instead of each running its own.
    loading: tokio::sync::Mutex<()>,
}

/// A policy and the signatures it was required to carry.
type PolicyKey = (PolicySource, Option<TrustedKeys>);

/// A loaded policy and, for a file, the stamp it was loaded at.
type Loaded = (Option<FileStamp>, Arc<PolicyPre>);

/// A policy that loaded and accepted its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPolicy {
    /// The component's sha256.
    pub digest: String,
    /// For an `oci://` policy, its reference pinned to the manifest digest.
    pub resolved: Option<String>,
}

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
            registry: None,
            loaded: Mutex::new(HashMap::new()),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// The same judge, pulling `oci://` policies through `registry`.
    pub fn with_registry(mut self, registry: Arc<PolicyRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The policy `source` names, loaded off the async workers (compiling a
    /// Python or JavaScript component takes seconds) and without holding
    /// the map's lock, so canaries whose policy is loaded keep being judged
    /// meanwhile; one load runs at a time, and those waiting for it find
    /// its result.
    async fn policy(
        &self,
        source: &PolicySource,
        trust: Option<TrustedKeys>,
    ) -> Result<Arc<PolicyPre>, String> {
        let stamp = stamp(source);
        let key = (source.clone(), trust);
        if let Some(policy) = self.cached(&key, &stamp) {
            return Ok(policy);
        }
        // Pulled before the load lock is taken: a registry that hangs
        // delays only the canaries whose policy lives there.
        let pulled = match source {
            PolicySource::Oci(reference) => {
                let registry = self.registry.as_ref().ok_or_else(|| {
                    format!("{reference}: this command cannot pull policies from registries")
                })?;
                let pulled = registry
                    .pull(reference, key.1.as_ref())
                    .await
                    .map_err(|e| e.to_string())?;
                Some((pulled.pinned.to_string(), pulled.wasm))
            }
            _ => None,
        };
        let _loading = self.loading.lock().await;
        if let Some(policy) = self.cached(&key, &stamp) {
            return Ok(policy);
        }
        let runtime = self.runtime.clone();
        let to_load = source.clone();
        let policy = off_runtime(move || {
            match &pulled {
                Some((pinned, wasm)) => runtime.load_bytes(pinned, wasm),
                None => runtime.load(&to_load),
            }
            .map_err(|e| e.to_string())
        })
        .await?;
        self.lock().insert(key, (stamp, policy.clone()));
        Ok(policy)
    }

    fn cached(&self, key: &PolicyKey, stamp: &Option<FileStamp>) -> Option<Arc<PolicyPre>> {
        let loaded = self.lock();
        let (seen, policy) = loaded.get(key)?;
        (seen == stamp).then(|| policy.clone())
    }

    /// The policy that judges `canary`, once it has loaded (after a
    /// [`RuntimeJudge::check`] or a step).
    pub fn loaded_policy(&self, canary: &Canary) -> Option<Arc<PolicyPre>> {
        let source: PolicySource = policy_ref(canary).ok()?.parse().ok()?;
        let stamp = stamp(&source);
        let key = (source, trust(canary).ok()?);
        self.cached(&key, &stamp)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PolicyKey, Loaded>> {
        self.loaded.lock().expect("judge cache poisoned")
    }

    /// Load the policy `canary` names and have it check its configuration,
    /// so that a bad policy or config stops a run before it starts; what
    /// was loaded when it passes.
    pub async fn check(&self, canary: &Canary) -> Result<CheckedPolicy, String> {
        let source: PolicySource = policy_ref(canary)?
            .parse()
            .map_err(|e| format!("spec.analysis.policy.ref: {e}"))?;
        let policy = self
            .policy(&source, trust(canary)?)
            .await
            .map_err(|e| format!("spec.analysis.policy.ref: {e}"))?;
        let config = policy_config(canary);
        let checked = CheckedPolicy {
            digest: policy.digest().to_owned(),
            resolved: match source {
                PolicySource::Oci(_) => Some(policy.label().to_owned()),
                _ => None,
            },
        };
        off_runtime(move || policy.validate_config(&config).map_err(|e| e.to_string()))
            .await
            .map_err(|e| format!("spec.analysis.policy.config: {e}"))?;
        Ok(checked)
    }
}

impl Judge for RuntimeJudge {
    async fn judge(&self, canary: &Canary, input: &Input) -> Result<Verdict, String> {
        let source: PolicySource = policy_ref(canary)?.parse().map_err(|e| format!("{e}"))?;
        let policy = self.policy(&source, trust(canary)?).await?;
        let input = input.clone();
        off_runtime(move || policy.evaluate(&input).map_err(|e| e.to_string())).await
    }

    fn policy_digest(&self, canary: &Canary) -> Option<String> {
        self.loaded_policy(canary)
            .map(|policy| policy.digest().to_owned())
    }

    async fn reads_earlier_steps(&self, canary: &Canary) -> bool {
        let reads = |policy: Result<Arc<PolicyPre>, String>| {
            policy.is_ok_and(|policy| policy.reads_earlier_steps())
        };
        let active = match (
            policy_ref(canary).map(str::parse::<PolicySource>),
            trust(canary),
        ) {
            (Ok(Ok(source)), Ok(trust)) => reads(self.policy(&source, trust).await),
            _ => false,
        };
        if active {
            return true;
        }
        for shadow in &canary.spec.analysis.shadow_policies {
            let (Ok(source), Ok(trust)) = (shadow_source(shadow), shadow_trust(shadow)) else {
                continue;
            };
            if reads(self.policy(&source, trust).await) {
                return true;
            }
        }
        false
    }

    async fn judge_shadow(
        &self,
        shadow: &ShadowPolicySpec,
        input: &Input,
    ) -> Result<Verdict, String> {
        let source = shadow_source(shadow)?;
        let policy = self.policy(&source, shadow_trust(shadow)?).await?;
        let input = input.clone();
        off_runtime(move || policy.evaluate(&input).map_err(|e| e.to_string())).await
    }
}

/// The signatures `canary` requires of its policy.
fn trust(canary: &Canary) -> Result<Option<TrustedKeys>, String> {
    canary
        .spec
        .analysis
        .policy
        .as_ref()
        .and_then(|p| p.verify.as_ref())
        .map(|v| v.trusted_keys())
        .transpose()
}

/// The module a shadow policy names; a shared policy that could not be
/// read has none.
fn shadow_source(shadow: &ShadowPolicySpec) -> Result<PolicySource, String> {
    match (&shadow.reference, &shadow.policy_ref) {
        (Some(reference), _) => reference.parse().map_err(|e| format!("{e}")),
        (None, Some(shared)) => Err(format!(
            "its policyRef {} could not be read; see the controller's log",
            shared.name
        )),
        (None, None) => Err("it names no policy".to_owned()),
    }
}

/// The signatures a shadow policy must carry.
fn shadow_trust(shadow: &ShadowPolicySpec) -> Result<Option<TrustedKeys>, String> {
    shadow.verify.as_ref().map(|v| v.trusted_keys()).transpose()
}

/// Run `work` (a policy load or call) on the blocking pool. Off the async
/// workers a guest that writes to stdout or stderr is fine: WASI's
/// synchronous streams block on a runtime of their own, which tokio refuses
/// on a worker ("Cannot start a runtime from within a runtime").
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|err| Err(format!("the policy's evaluation thread failed: {err}")))
}
