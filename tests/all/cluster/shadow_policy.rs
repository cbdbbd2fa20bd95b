//! Shadow policies in a cluster: judged at every step beside the active
//! policy, shown in the Canary's status and recorded in its journal, and
//! never acted upon.

use super::fixture::Fixture;
use super::{INIT, RUN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn a_shadow_policy_is_in_the_status_and_the_journal_and_the_active_policy_decides() {
    let mut fixture = Fixture::new("shadow-policy").await;
    fixture.use_chart_rbac();
    let with_shadow = fixture.seed_with_strict_shadow();
    fixture.apply(&with_shadow);
    fixture.start_controller(&["--mesh-provider", "linkerd"]);
    fixture.wait_for_phase("Initialized", INIT).await;

    fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.1"));
    let mut shadow_seen = Vec::new();
    fixture
        .wait_for("the run is promoted", RUN, |status| {
            if let Some(verdict) = status["shadowVerdicts"][0]["verdict"].as_str() {
                shadow_seen.push(verdict.to_owned());
            }
            status["phase"] == "Succeeded"
        })
        .await;
    assert!(
        shadow_seen
            .iter()
            .any(|v| v.starts_with("hold: too few samples")),
        "the status showed the shadow holding while the run went on: {shadow_seen:?}"
    );
    let journal = fixture.journal_of("frontend");
    assert!(journal.len() >= 5, "{journal:?}");
    for step in &journal {
        assert_eq!(step["shadows"][0]["policy"], "strict-compare", "{step}");
        assert!(
            step["shadows"][0]["outcome"]["verdict"].is_object(),
            "{step}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn a_shadow_named_by_policy_ref_judges_and_a_missing_one_holds_nothing_up() {
    let mut fixture = Fixture::new("shadow-policy-ref").await;
    fixture.use_chart_rbac();
    fixture.apply(
        "apiVersion: warbler.dev/v1alpha1\nkind: AnalysisPolicy\nmetadata: { name: strict-compare }\nspec:\n  ref: builtin:compare\n  config: { minSamples: 1000 }\n",
    );
    let seed = fixture.seed_canary();
    let with_shadows = seed.replacen(
        "    interval: 10s\n",
        "    interval: 10s\n    shadowPolicies:\n    - { policyRef: { name: strict-compare } }\n    - { policyRef: { name: not-there } }\n",
        1,
    );
    assert_ne!(with_shadows, seed);
    fixture.apply(&with_shadows);
    fixture.start_controller(&["--mesh-provider", "linkerd"]);
    fixture.wait_for_phase("Initialized", INIT).await;

    fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.1"));
    fixture.wait_for_phase("Succeeded", RUN).await;
    let journal = fixture.journal_of("frontend");
    assert!(journal.len() >= 5, "{journal:?}");
    for step in &journal {
        let shadows = &step["shadows"];
        assert_eq!(shadows[0]["policy"], "strict-compare", "{step}");
        assert!(
            shadows[0]["outcome"]["verdict"].is_object(),
            "the shared policy judged: {step}"
        );
        assert_eq!(shadows[1]["policy"], "not-there", "{step}");
        assert!(
            shadows[1]["outcome"]["error"]
                .as_str()
                .is_some_and(|error| error.contains("policyRef not-there could not be read")),
            "the missing shared policy fails as a shadow: {step}"
        );
    }
}
