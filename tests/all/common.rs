//! What the tests share: runtimes, inputs, the guests' locations.

use std::sync::Arc;

use warbler::canary::{API_VERSION, Canary};
use warbler::policy::{PolicyPre, PolicyRuntime, PolicySource, RuntimeConfig};
use warbler_guest_sdk::{Analysis, CanaryRef, Input, Metric, Phase, RolloutState, ThresholdRange};

/// A runtime with default bounds and no disk cache.
pub fn runtime() -> PolicyRuntime {
    runtime_with(RuntimeConfig::default())
}

/// A runtime with these bounds.
pub fn runtime_with(config: RuntimeConfig) -> PolicyRuntime {
    PolicyRuntime::new(config).expect("the policy engine starts")
}

/// The built-in threshold policy, loaded into `runtime`.
pub fn threshold(runtime: &PolicyRuntime) -> Arc<PolicyPre> {
    runtime
        .load(&"builtin:threshold".parse().unwrap())
        .expect("the built-in threshold policy loads")
}

/// The hostile test guest, loaded into `runtime`.
pub fn hostile(runtime: &PolicyRuntime) -> Arc<PolicyPre> {
    runtime
        .load(&PolicySource::File(warbler_test_guests::HOSTILE.into()))
        .expect("the hostile guest loads")
}

/// A metric with a canary value and a range.
pub fn metric(name: &str, canary: Option<f64>, min: Option<f64>, max: Option<f64>) -> Metric {
    Metric {
        name: name.to_owned(),
        canary,
        primary: None,
        canary_series: None,
        primary_series: None,
        threshold_range: ThresholdRange { min, max },
        interval_seconds: 60,
        note: String::new(),
    }
}

/// The seed manifest's canary (frontend: stepWeight 10, maxWeight 50,
/// threshold 3) mid-run at `weight`, with both metrics healthy.
pub fn frontend_at(weight: u32) -> Input {
    Input {
        canary: CanaryRef {
            name: "frontend".to_owned(),
            namespace: "podinfo".to_owned(),
            revision: "abc123".to_owned(),
        },
        analysis: Analysis {
            interval_seconds: 60,
            threshold: 3,
            step_weight: Some(10),
            step_weights: Vec::new(),
            max_weight: Some(50),
            iterations: None,
        },
        state: RolloutState {
            phase: Phase::Progressing,
            canary_weight: weight,
            failed_checks: 0,
            iteration: weight / 10,
            elapsed_seconds: u64::from(weight) * 6,
        },
        metrics: vec![
            metric("request-success-rate", Some(99.5), Some(99.0), None),
            metric("request-duration", Some(180.0), None, Some(250.0)),
        ],
        webhooks: Vec::new(),
        history: Vec::new(),
        now_ms: 1_795_000_000_000,
        config: "null".to_owned(),
        earlier_steps: Vec::new(),
    }
}

/// An input that asks the hostile guest for `attack`.
pub fn attack(attack: &str) -> Input {
    Input {
        config: serde_json::json!({ "attack": attack }).to_string(),
        ..frontend_at(10)
    }
}

/// The seed's `frontend` Canary (Deployment `frontend` in `podinfo`, port
/// 9898) with `rest` as the YAML that follows `service:` (its analysis, and
/// a status if wanted).
pub fn frontend_canary(rest: &str) -> Canary {
    let yaml = format!(
        "apiVersion: {API_VERSION}\nkind: Canary\nmetadata: {{ name: frontend, namespace: podinfo }}\nspec:\n  targetRef: {{ kind: Deployment, name: frontend }}\n  service: {{ port: 9898 }}\n{rest}"
    );
    Canary::from_yaml("test", &yaml).unwrap()
}

/// A source of manifest updates that never sends one.
pub fn no_updates() -> tokio::sync::mpsc::UnboundedReceiver<warbler::canary::Manifest> {
    tokio::sync::mpsc::unbounded_channel().1
}
