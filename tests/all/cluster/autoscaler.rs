//! `spec.autoscalerRef`: the primary gets a copy of the target's
//! HorizontalPodAutoscaler, which the cluster's own HPA controller then
//! applies to the primary.

use std::time::{Duration, Instant};

use super::fixture::Fixture;
use super::{INIT, RUN};

/// The target's HPA: 2 to 4 replicas of `frontend`.
const TARGET_HPA: &str = r#"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: frontend }
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: frontend }
  minReplicas: 2
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: { name: cpu, target: { type: Utilization, averageUtilization: 80 } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn the_primary_gets_a_copy_of_the_targets_autoscaler_that_scales_it() {
    let mut fixture = Fixture::new("autoscaler").await;
    fixture.use_chart_rbac();
    fixture.apply(TARGET_HPA);
    let canary = fixture.seed_canary().replacen(
        "spec:\n",
        "spec:\n  autoscalerRef:\n    apiVersion: autoscaling/v2\n    kind: HorizontalPodAutoscaler\n    name: frontend\n    primaryScalerReplicas: { minReplicas: 3, maxReplicas: 5 }\n",
        1,
    );
    fixture.apply(&canary);
    fixture.start_controller(&[]);
    fixture.wait_for_phase("Initialized", INIT).await;

    let hpa = fixture
        .get("horizontalpodautoscaler", "frontend-primary")
        .expect("the primary's HPA exists");
    let spec = &hpa["spec"];
    assert_eq!(spec["scaleTargetRef"]["name"], "frontend-primary");
    assert_eq!(
        (spec["minReplicas"].as_i64(), spec["maxReplicas"].as_i64()),
        (Some(3), Some(5))
    );
    assert_eq!(hpa["metadata"]["ownerReferences"][0]["kind"], "Canary");
    assert_eq!(spec["metrics"][0]["resource"]["name"], "cpu");

    // The cluster's HPA controller holds the primary to the copy's bounds.
    let replicas = |name: &str| {
        fixture
            .get("deployment", name)
            .and_then(|d| d["spec"]["replicas"].as_i64())
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while replicas("frontend-primary") != Some(3) {
        assert!(
            Instant::now() < deadline,
            "the primary was not scaled to the copy's minimum: {:?} replicas\n{}",
            replicas("frontend-primary"),
            fixture.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let target = fixture.get("horizontalpodautoscaler", "frontend").unwrap();
    assert_eq!(target["spec"]["scaleTargetRef"]["name"], "frontend");

    fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.1"));
    fixture.wait_for_phase("Succeeded", RUN).await;
    assert_eq!(
        replicas("frontend"),
        Some(0),
        "the target is scaled to zero again"
    );
    let hpa = fixture
        .get("horizontalpodautoscaler", "frontend-primary")
        .unwrap();
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "frontend-primary");
}
