//! The controller's dashboard: the Canaries it reconciles in a real
//! cluster, their steps from its journal, shadow verdicts beside the
//! active policy's, served on the controller's own port.

use std::time::Duration;

use serde_json::Value;

use super::fixture::Fixture;
use super::{INIT, RUN};
use crate::prometheus_server::free_port;

async fn get(url: &str) -> (u16, String) {
    let response = warbler::http::client(Duration::from_secs(10))
        .get(url)
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn the_controllers_dashboard_shows_its_canaries_their_steps_and_shadow_verdicts() {
    let mut fixture = Fixture::new("dashboard").await;
    fixture.use_chart_rbac();
    let with_shadow = fixture.seed_with_strict_shadow();
    fixture.apply(&with_shadow);
    let dashboard = format!("127.0.0.1:{}", free_port());
    fixture.start_controller(&["--mesh-provider", "linkerd", "--dashboard", &dashboard]);
    fixture.wait_for_phase("Initialized", INIT).await;
    fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.1"));
    fixture.wait_for_phase("Succeeded", RUN).await;

    let (status, list) = get(&format!("http://{dashboard}/api/v1/canaries")).await;
    assert_eq!(status, 200, "{list}");
    let list: Value = serde_json::from_str(&list).unwrap();
    let row = &list["items"][0];
    assert_eq!(row["namespace"], fixture.namespace.as_str(), "{list}");
    assert_eq!(
        (&row["name"], &row["phase"]),
        (&"frontend".into(), &"Succeeded".into()),
        "{list}"
    );
    assert_eq!(row["lastVerdict"], "promote", "{list}");

    let page_url = format!("http://{dashboard}/canaries/{}/frontend", fixture.namespace);
    let (status, page) = get(&page_url).await;
    assert_eq!(status, 200, "{page}");
    let steps = fixture.journal_of("frontend").len();
    assert_eq!(page.matches("<tr class=\"step\">").count(), steps, "{page}");
    assert!(
        page.contains("strict-compare: hold: too few samples"),
        "{page}"
    );
    assert!(
        page.contains("<dt>Digest</dt>"),
        "the policy's digest: {page}"
    );
    assert!(
        page.contains("every metric within its thresholdRange"),
        "the policy's description: {page}"
    );
    for metric in ["request-success-rate", "request-duration"] {
        let (status, chart) = get(&format!("{page_url}/metrics/{metric}.svg")).await;
        assert_eq!(status, 200, "{chart}");
        assert!(chart.starts_with("<svg"), "{chart}");
    }
}
