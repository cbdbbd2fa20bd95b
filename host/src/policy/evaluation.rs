//! Running a loaded policy: a fresh store and instance per call, bounded by
//! the runtime's limits, with every failure turned into a typed [`EvalError`].

use std::sync::{Arc, OnceLock};

use warbler_guest_sdk::{Decision, EarlierStep, Input, PolicyInfo, Verdict};
use wasmtime::component::InstancePre;
use wasmtime::{PoolConcurrencyLimitError, Store, Trap};

use super::bindings::warbler::policy::types as wit;
use super::bindings::{self, Policy};
use super::contract::{self, World};
use super::error::EvalError;
use super::limits::{CpuBudget, EPOCH_TICK, RuntimeConfig};
use super::sandbox::{self, MemoryCapExceeded, Sandbox};

/// A policy compiled, checked and linked once, ready to be evaluated any
/// number of times (concurrently, from any thread). Each evaluation gets a
/// fresh instance: nothing leaks from one canary's step to another's.
pub struct PolicyPre {
    label: Arc<str>,
    pre: bindings::PolicyPre<Sandbox>,
    config: Arc<RuntimeConfig>,
    digest: String,
    size: usize,
    world: World,
    /// What `describe()` answered the first time, at load.
    described: OnceLock<PolicyInfo>,
}

impl PolicyPre {
    pub(crate) fn new(
        label: &str,
        pre: bindings::PolicyPre<Sandbox>,
        config: Arc<RuntimeConfig>,
        digest: String,
        size: usize,
        world: World,
    ) -> Self {
        PolicyPre {
            label: label.into(),
            pre,
            config,
            digest,
            size,
            world,
            described: OnceLock::new(),
        }
    }

    /// How the policy was referred to (`builtin:threshold`, a path; for an
    /// `oci://` policy, its reference pinned to the manifest digest).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// sha256 of the component, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The component's imports and exports.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Ask the policy to describe itself.
    pub fn describe(&self) -> Result<PolicyInfo, EvalError> {
        let info: PolicyInfo = self
            .run([0; 32], 0, &[], |store, policy| {
                policy.warbler_policy_analysis().call_describe(store)
            })?
            .into();
        let _ = self.described.set(info.clone());
        Ok(info)
    }

    /// What the policy said of itself when it was loaded (loading asks it),
    /// without running it again: a WASI guest must not run on an async
    /// worker.
    pub fn described(&self) -> Option<&PolicyInfo> {
        self.described.get()
    }

    /// Ask the policy whether `config` (JSON text, `null` for none) is valid.
    pub fn validate_config(&self, config: &str) -> Result<(), EvalError> {
        self.run([0; 32], 0, &[], |store, policy| {
            policy
                .warbler_policy_analysis()
                .call_validate_config(store, config)
        })?
        .map_err(|error| EvalError::ConfigRefused {
            policy: self.label.to_string(),
            error: error.into(),
        })
    }

    /// True when the component imports `run` (contract 0.1.1) to read the
    /// run's earlier steps: only then is [`Input::earlier_steps`] worth
    /// gathering.
    pub fn reads_earlier_steps(&self) -> bool {
        self.world
            .imports
            .iter()
            .any(|name| contract::interface_of(name) == Some("run"))
    }

    /// Decide one analysis step. The policy's `run.earlier-steps` import
    /// answers `input.earlier_steps`, which the policy does not get in its
    /// input record.
    pub fn evaluate(&self, input: &Input) -> Result<Verdict, EvalError> {
        let wit_input = wit::Input::from(input);
        let earlier_steps: &[EarlierStep] = if self.reads_earlier_steps() {
            &input.earlier_steps
        } else {
            &[]
        };
        let verdict: Verdict = self
            .run(
                sandbox::seed_for(input),
                input.now_ms,
                earlier_steps,
                |store, policy| {
                    policy
                        .warbler_policy_analysis()
                        .call_evaluate(store, &wit_input)
                },
            )?
            .map_err(|error| EvalError::Refused {
                policy: self.label.to_string(),
                error: error.into(),
            })?
            .into();
        self.check_verdict(&verdict)?;
        Ok(verdict)
    }

    /// Run `call` in a fresh instance under the runtime's bounds.
    fn run<R>(
        &self,
        seed: [u8; 32],
        now_ms: i64,
        earlier_steps: &[EarlierStep],
        call: impl FnOnce(&mut Store<Sandbox>, &Policy) -> wasmtime::Result<R>,
    ) -> Result<R, EvalError> {
        let instance_pre: &InstancePre<Sandbox> = self.pre.instance_pre();
        let sandbox = Sandbox::new(self.label.clone(), &self.config, seed, now_ms)
            .with_earlier_steps(earlier_steps.to_vec());
        let mut store = Store::new(instance_pre.engine(), sandbox);
        store.limiter(|sandbox| &mut sandbox.memory);
        match self.config.cpu {
            CpuBudget::Fuel(fuel) => store
                .set_fuel(fuel)
                .map_err(|err| self.classify(err, &store))?,
            CpuBudget::Deadline(deadline) => {
                let ticks = deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64;
                store.set_epoch_deadline(ticks.max(1));
            }
        }
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|policy| call(&mut store, &policy));
        store.data().finish_logs();
        let (output, dropped) = store.data().guest_output.contents();
        if !output.is_empty() {
            tracing::info!(target: "warbler::policy", policy = %self.label, "guest output: {}", String::from_utf8_lossy(&output).trim_end());
        }
        if dropped > 0 {
            tracing::warn!(target: "warbler::policy", policy = %self.label, dropped, "guest output over the limit of {} bytes was dropped", self.config.max_guest_output_bytes);
        }
        result.map_err(|err| self.classify(err, &store))
    }

    fn classify(&self, err: wasmtime::Error, store: &Store<Sandbox>) -> EvalError {
        let policy = self.label.to_string();
        if let Some(cap) = err.downcast_ref::<MemoryCapExceeded>() {
            return EvalError::MemoryLimit {
                policy,
                requested: cap.requested,
                limit: cap.limit,
            };
        }
        if err.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
            return EvalError::PoolExhausted {
                slots: self.config.max_concurrent_evaluations,
            };
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel | Trap::Interrupt) => EvalError::CpuBudgetExhausted {
                policy,
                budget: self.config.cpu.to_string(),
            },
            Some(trap) => EvalError::Trap {
                policy,
                trap: match trap {
                    // Rust, C and other LLVM languages keep their stack in
                    // linear memory: deep recursion surfaces as this trap.
                    Trap::MemoryOutOfBounds => format!(
                        "{trap} (a stack overflow from deep recursion, or a bug in the policy)"
                    ),
                    _ => trap.to_string(),
                },
                output: without_panic_boilerplate(&String::from_utf8_lossy(
                    &store.data().guest_output.contents().0,
                )),
            },
            None => EvalError::Host {
                policy,
                message: format!("{err:#}"),
            },
        }
    }

    fn check_verdict(&self, verdict: &Verdict) -> Result<(), EvalError> {
        let invalid = |reason: String| EvalError::InvalidVerdict {
            policy: self.label.to_string(),
            reason,
        };
        let text = match &verdict.decision {
            Decision::Advance { weight } if *weight > 100 => {
                return Err(invalid(format!("advance to weight {weight}, over 100")));
            }
            Decision::Hold { reason, .. } | Decision::Rollback { reason } => reason.len(),
            Decision::Advance { .. } | Decision::Promote => 0,
        };
        if verdict.score.is_some_and(|score| !score.is_finite()) {
            return Err(invalid("the score is not a finite number".to_owned()));
        }
        let bytes = text
            + verdict
                .judgements
                .iter()
                .map(|j| j.metric.len() + j.detail.len() + 16)
                .sum::<usize>();
        if bytes > self.config.max_output_bytes {
            return Err(EvalError::OutputTooLarge {
                policy: self.label.to_string(),
                bytes,
                limit: self.config.max_output_bytes,
            });
        }
        Ok(())
    }
}

/// The guest's output without the Rust standard library's advice to set
/// `RUST_BACKTRACE`, which means nothing inside a sandbox; the panic's own
/// message (or a Python/JavaScript exception) is kept.
fn without_panic_boilerplate(output: &str) -> String {
    output
        .lines()
        .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE=1`"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}
