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
