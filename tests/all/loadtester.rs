//! `warbler loadtester` takes Flagger's load-test webhook unchanged and runs
//! its `hey` command natively.

use std::time::{Duration, Instant};

use warbler::canary::{API_VERSION, Canary, WebhookSpec};
use warbler::hooks::HttpHooks;
use warbler::loadtester::LoadTester;
use warbler::ports::Hooks;

use crate::http_server::{self, TestServer};

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/flagger-frontend-canary.yaml"
);

/// The seed manifest, its load test aimed at `target` and its load tester at
/// `loadtester`.
fn seed(target: &TestServer, loadtester: &str) -> Canary {
    let yaml = std::fs::read_to_string(SEED)
        .unwrap()
        .replace("flagger.app/v1beta1", API_VERSION)
        .replace("http://frontend-canary.podinfo:9898/", &target.url("/"))
        .replace("-z 1m", "-z 2s")
        .replace("http://flagger-loadtest-loadtester.loadtest/", loadtester);
    Canary::from_yaml("frontend.yaml", &yaml).unwrap()
}

async fn start_loadtester() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(LoadTester::default().serve(listener));
    format!("http://{address}/")
}

fn load_test_hook(canary: &Canary) -> WebhookSpec {
    canary.spec.analysis.webhooks[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_manifests_load_test_webhook_runs_its_hey_command() {
    let target = http_server::serve(|_| (200, "ok".to_owned()));
    let canary = seed(&target, &start_loadtester().await);
    let result = HttpHooks::default()
        .call(&canary, &load_test_hook(&canary))
        .await;
    assert!(result.passed, "{result:?}");
    assert_eq!(result.status_code, Some(202));
    let deadline = Instant::now() + Duration::from_secs(10);
    while target.requests().len() < 5 {
        assert!(Instant::now() < deadline, "the load never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_command_is_not_started_twice() {
    let target = http_server::serve(|_| (200, "ok".to_owned()));
    let canary = seed(&target, &start_loadtester().await);
    let hooks = HttpHooks::default();
    let first = hooks.call(&canary, &load_test_hook(&canary)).await;
    let second = hooks.call(&canary, &load_test_hook(&canary)).await;
    assert!(first.message.starts_with("command started"), "{first:?}");
    assert!(second.passed);
    assert!(
        second.message.starts_with("command already running"),
        "{second:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_other_than_hey_is_refused_with_the_reason() {
    let target = http_server::serve(|_| (200, "ok".to_owned()));
    let canary = seed(&target, &start_loadtester().await);
    let mut hook = load_test_hook(&canary);
    hook.metadata
        .insert("cmd".to_owned(), "curl -s http://example/".to_owned());
    let result = HttpHooks::default().call(&canary, &hook).await;
    assert!(!result.passed);
    assert_eq!(result.status_code, Some(400));
    assert!(
        result.message.contains("runs `hey …` natively"),
        "{}",
        result.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_command_answers_with_its_summary_when_done() {
    let target = http_server::serve(|_| (200, "ok".to_owned()));
    let canary = seed(&target, &start_loadtester().await);
    let mut hook = load_test_hook(&canary);
    hook.metadata.insert("type".to_owned(), "bash".to_owned());
    hook.metadata.insert(
        "cmd".to_owned(),
        format!("hey -n 7 -c 1 {}", target.url("/")),
    );
    let result = HttpHooks::default().call(&canary, &hook).await;
    assert_eq!(result.status_code, Some(200), "{result:?}");
    assert!(
        result.message.contains("[200]\t7 responses"),
        "{}",
        result.message
    );
    assert_eq!(target.requests().len(), 7);
}
