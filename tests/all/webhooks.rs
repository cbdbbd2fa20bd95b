//! Flagger's webhooks over HTTP against a real local server: payload, status
//! rules, timeouts, retries, and a gate that blocks and then releases a run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;
use warbler::canary::{Canary, WebhookKind, WebhookSpec};
use warbler::hooks::HttpHooks;
use warbler::ports::Hooks;

use crate::{common, http_server};

fn canary() -> Canary {
    common::frontend_canary(
        "  analysis: { interval: 1s, stepWeight: 10 }\nstatus: { phase: Progressing, canaryWeight: 10, failedChecks: 0, iterations: 1, lastAppliedSpec: 5f3c2a }\n",
    )
}

fn hook(url: String, kind: WebhookKind) -> WebhookSpec {
    WebhookSpec {
        name: "gate".to_owned(),
        kind,
        url,
        timeout: Some(Duration::from_millis(500)),
        retries: None,
        metadata: [(
            "cmd".to_owned(),
            "hey -z 1m http://frontend-canary/".to_owned(),
        )]
        .into(),
        mute_alert: false,
    }
}

#[tokio::test]
async fn a_webhook_gets_flaggers_payload_and_passes_on_200() {
    let server = http_server::serve(|_| (200, "approved".to_owned()));
    let result = HttpHooks::default()
        .call(
            &canary(),
            &hook(server.url("/approve"), WebhookKind::ConfirmRollout),
        )
        .await;
    assert!(result.passed);
    assert_eq!(
        (result.status_code, result.message.as_str()),
        (Some(200), "approved")
    );
    let request = &server.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/approve")
    );
    let payload: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(payload["name"], "frontend");
    assert_eq!(payload["namespace"], "podinfo");
    assert_eq!(payload["phase"], "Progressing");
    assert_eq!(payload["checksum"], "5f3c2a");
    assert_eq!(
        payload["metadata"]["cmd"],
        "hey -z 1m http://frontend-canary/"
    );
}

#[tokio::test]
async fn status_202_passes_and_above_202_fails_with_the_body() {
    let server = http_server::serve(|r| match r.path.as_str() {
        "/accepted" => (202, String::new()),
        _ => (203, "not like this".to_owned()),
    });
    let hooks = HttpHooks::default();
    let accepted = hooks
        .call(
            &canary(),
            &hook(server.url("/accepted"), WebhookKind::Rollout),
        )
        .await;
    assert!(accepted.passed);
    let refused = hooks
        .call(&canary(), &hook(server.url("/other"), WebhookKind::Rollout))
        .await;
    assert!(!refused.passed);
    assert_eq!(refused.message, "not like this");
}

#[tokio::test]
async fn a_webhook_that_answers_too_late_fails() {
    let server = http_server::serve(|_| {
        std::thread::sleep(Duration::from_secs(2));
        (200, String::new())
    });
    let result = HttpHooks::default()
        .call(&canary(), &hook(server.url("/slow"), WebhookKind::Rollout))
        .await;
    assert!(!result.passed);
    assert!(result.message.contains("no answer"), "{}", result.message);
}

#[tokio::test]
async fn retries_turn_a_transient_failure_into_a_pass() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let server = http_server::serve(move |_| match seen.fetch_add(1, Ordering::SeqCst) {
        0 => (500, "warming up".to_owned()),
        _ => (200, "ok".to_owned()),
    });
    let mut spec = hook(server.url("/flaky"), WebhookKind::Rollout);
    spec.retries = Some(2);
    let result = HttpHooks::with_retry_backoff(Duration::from_millis(10))
        .call(&canary(), &spec)
        .await;
    assert!(result.passed, "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unreachable_webhook_fails_with_the_reason() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let result = HttpHooks::default()
        .call(
            &canary(),
            &hook(format!("http://127.0.0.1:{port}/"), WebhookKind::Rollout),
        )
        .await;
    assert!(!result.passed);
    assert!(
        result.message.starts_with("cannot reach"),
        "{}",
        result.message
    );
}

#[tokio::test]
async fn a_confirm_promotion_gate_over_http_blocks_then_releases_promotion() {
    use warbler::judge::RuntimeJudge;
    use warbler::policy::{PolicyRuntime, RuntimeConfig};
    use warbler::ports::memory::*;
    use warbler::reconciler::Reconciler;
    use warbler_guest_sdk::Phase;

    let open = Arc::new(AtomicBool::new(false));
    let gate = open.clone();
    let server = http_server::serve(move |_| {
        if gate.load(Ordering::SeqCst) {
            (200, "ship it".to_owned())
        } else {
            (403, "not yet".to_owned())
        }
    });
    let mut canary = canary();
    canary.status = Default::default();
    canary.spec.analysis.webhooks = vec![WebhookSpec {
        name: "ship-it".to_owned(),
        ..hook(server.url("/gate"), WebhookKind::ConfirmPromotion)
    }];
    canary.spec.analysis.max_weight = Some(20);
    let reconciler = Reconciler {
        platform: MemoryPlatform::with_target("podinfo:6.0"),
        router: MemoryRouter::default(),
        metrics: ScriptedMetrics::default(),
        hooks: HttpHooks::default(),
        judge: RuntimeJudge::new(Arc::new(
            PolicyRuntime::new(RuntimeConfig::default()).unwrap(),
        )),
        journal: MemoryJournal::default(),
        clock: ManualClock::at(1_795_000_000_000),
    };
    let tick = async |canary: &mut Canary| {
        let outcome = reconciler.reconcile(canary).await.unwrap();
        canary.status = outcome.status;
        reconciler.clock.advance(outcome.requeue_after);
    };
    tick(&mut canary).await;
    reconciler.platform.deploy("podinfo:6.1");
    for _ in 0..6 {
        tick(&mut canary).await;
    }
    assert_eq!(canary.status.phase, Phase::WaitingPromotion);
    assert_eq!(reconciler.platform.promotions(), 0);
    open.store(true, Ordering::SeqCst);
    for _ in 0..4 {
        tick(&mut canary).await;
    }
    assert_eq!(canary.status.phase, Phase::Succeeded);
    assert_eq!(reconciler.platform.promotions(), 1);
}

#[tokio::test]
async fn an_event_webhook_gets_the_message_its_type_and_a_millisecond_timestamp() {
    let server = http_server::serve(|_| (200, String::new()));
    let mut canary = canary();
    canary.spec.analysis.webhooks = vec![hook(server.url("/events"), WebhookKind::Event)];
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let events = [warbler::reconciler::Event {
        severity: warbler::reconciler::Severity::Warning,
        message: "Rolling back frontend.podinfo".to_owned(),
    }];
    warbler::hooks::send_events(&HttpHooks::default(), &canary, &events).await;
    let payload: Value = serde_json::from_str(&server.requests()[0].body).unwrap();
    let metadata = &payload["metadata"];
    assert_eq!(metadata["eventMessage"], "Rolling back frontend.podinfo");
    assert_eq!(metadata["eventType"], "Warning");
    let timestamp: u128 = metadata["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(
        (before..before + 60_000).contains(&timestamp),
        "{timestamp} is not Unix milliseconds of now ({before})"
    );
    assert_eq!(payload["phase"], "Progressing", "the Canary's own phase");
}
