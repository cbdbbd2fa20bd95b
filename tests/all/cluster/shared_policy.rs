//! Shared policies in a cluster: a platform team's ClusterAnalysisPolicy or
//! AnalysisPolicy, named by Canaries through `analysis.policy.policyRef`.

use std::time::Duration;

use super::fixture::{Fixture, kubectl};
use super::{
    INIT, RUN, assert_no_step_twice, backend_with_policy, push_policy, ready_condition,
    seed_with_policy,
};
use crate::registry_server::Registry;
use crate::signatures::Signer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn canaries_are_judged_by_the_shared_policy_they_name_with_its_signature_rules() {
    let mut fixture = Fixture::new("shared-policy").await;
    fixture.use_chart_rbac();
    let registry = Registry::start(fixture.dir.path());
    let target = format!("{}:1.0", registry.reference("platform/threshold"));
    let pinned = push_policy(&fixture, &registry, "builtin:threshold", &target);
    let shared = format!("{}-threshold", fixture.namespace);
    kubectl(
        &[
            "delete",
            "clusteranalysispolicy",
            &shared,
            "--ignore-not-found",
        ],
        None,
    );
    fixture.apply(&seed_with_policy(
        &fixture,
        &format!("{{ policyRef: {{ kind: ClusterAnalysisPolicy, name: {shared} }} }}"),
    ));
    // The namespace's own policy requires a signature the module lacks.
    let alice = Signer::new(fixture.dir.path(), "alice");
    let key = alice.public_pem().replace('\n', "\\n");
    fixture.apply(&format!(
        "apiVersion: warbler.dev/v1alpha1\nkind: AnalysisPolicy\nmetadata: {{ name: signed-only }}\nspec:\n  ref: {target}\n  verify: {{ keys: [\"{key}\"] }}\n"
    ));
    fixture.apply(&backend_with_policy(
        &fixture,
        "ghcr.io/stefanprodan/podinfo:6.0.0",
        "{ policyRef: { name: signed-only } }",
    ));
    fixture.start_controller(&["--insecure-registry", &registry.address()]);

    // Named before it exists: not started, and the condition says why.
    let waiting = fixture
        .wait_for("the missing shared policy reported", INIT, |status| {
            ready_condition(status)["reason"] == "PolicyRefused"
        })
        .await;
    let message = ready_condition(&waiting)["message"].clone();
    assert!(
        message.as_str().unwrap().contains(&format!(
            "spec.analysis.policy.policyRef: ClusterAnalysisPolicy {shared} not found"
        )),
        "{message}"
    );
    assert!(fixture.get("deployment", "frontend-primary").is_none());

    // Created: the Canary starts at once, not at its next retry a minute on.
    kubectl(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: warbler.dev/v1alpha1\nkind: ClusterAnalysisPolicy\nmetadata: {{ name: {shared} }}\nspec:\n  ref: {target}\n"
        )),
    );
    let status = fixture
        .wait_for(
            "initialized by the shared policy",
            Duration::from_secs(30),
            |s| s["phase"] == "Initialized",
        )
        .await;
    assert_eq!(status["policy"], target.as_str());

    // The namespace's policy requires alice's signature: refused, named.
    fixture
        .wait_for("backend refused for its policy", INIT, |_| {
            ready_condition(&fixture.status_of("backend"))["reason"] == "PolicyRefused"
        })
        .await;
    let ready = ready_condition(&fixture.status_of("backend"));
    assert!(
        ready["message"].as_str().unwrap().contains("is not signed"),
        "{ready}"
    );
    assert!(fixture.get("deployment", "backend-primary").is_none());

    fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.1"));
    fixture.wait_for_phase("Succeeded", RUN).await;
    let journal = fixture.journal();
    assert_no_step_twice(&journal);
    assert!(!journal.is_empty());
    assert!(
        journal
            .iter()
            .all(|entry| entry["policy"] == target.as_str() || entry["policy"] == pinned.as_str()),
        "a step was judged by another policy: {journal:?}"
    );
    kubectl(&["delete", "clusteranalysispolicy", &shared], None);
}
