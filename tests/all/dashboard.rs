//! The dashboard over HTTP: its JSON API, its pages and charts, its live
//! updates, served from a board that holds a canary with two runs in a
//! real journal file. The canary's name, a verdict's reason and a webhook's
//! answer carry markup, which must come out as text.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use warbler::backtest::dataset;
use warbler::canary::Canary;
use warbler::dashboard::{Board, Dashboard};
use warbler::journal::FileJournal;
use warbler::ports::{Journal, JournalEntry};
use warbler::reconciler::{Event, Severity};
use warbler_guest_sdk::{Phase, Verdict, WebhookKind, WebhookResult};

use crate::common;

const HOSTILE_NAME: &str = "<script>window.__xss=1</script>";
const HOSTILE_REASON: &str = "<img src=x onerror=alert(1)> too slow";
const HOSTILE_ANSWER: &str = "<script>alert('webhook')</script>";
/// When the two runs started (Unix ms).
const FIRST_RUN: i64 = 1_795_000_000_000;
const SECOND_RUN: i64 = FIRST_RUN + 3_600_000;

fn client() -> reqwest::Client {
    warbler::http::client(Duration::from_secs(10))
}

/// A served board, the canary on it and its journal's folder.
struct Served {
    dashboard: Dashboard,
    canary: Canary,
    _dir: tempfile::TempDir,
}

impl Served {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.dashboard.address())
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        client().get(self.url(path)).send().await.unwrap()
    }

    async fn text(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// The canary's path segment pair, percent-encoded as the pages link it.
    fn canary_path(&self) -> String {
        format!(
            "/canaries/podinfo/{}",
            percent_encoding::utf8_percent_encode(
                &self.canary.metadata.name,
                percent_encoding::NON_ALPHANUMERIC
            )
        )
    }
}

/// Eight generated steps of a healthy rollout, as two runs of four: the
/// first promoted, the second rolled back at its last step with a hostile
/// reason, a webhook answering with markup at every step.
fn steps(canary: &Canary) -> Vec<JournalEntry> {
    let scenario = dataset::generate(dataset::SEED).remove(0);
    scenario
        .steps
        .into_iter()
        .enumerate()
        .map(|(n, mut entry)| {
            let (run, step) = if n < 4 {
                (FIRST_RUN, n)
            } else {
                (SECOND_RUN, n - 4)
            };
            entry.canary = canary.key();
            entry.run_started_ms = run;
            entry.step = step as u32 + 1;
            entry.at_ms = run + (step as i64 + 1) * 60_000;
            entry.input.state.canary_weight = step as u32 * 20;
            entry.input.webhooks = vec![WebhookResult {
                name: "smoke".to_owned(),
                kind: WebhookKind::Rollout,
                passed: true,
                status_code: Some(200),
                message: HOSTILE_ANSWER.to_owned(),
            }];
            entry.outcome = Ok(match (run, step) {
                (FIRST_RUN, 3) => Verdict::promote(),
                (SECOND_RUN, 3) => Verdict::rollback(HOSTILE_REASON),
                _ => Verdict::advance((step as u32 + 1) * 20),
            });
            entry
        })
        .collect()
}

async fn served() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let mut canary = common::frontend_canary("  analysis: { interval: 1m, threshold: 2 }\n");
    canary.metadata.name = format!("frontend{HOSTILE_NAME}");
    canary.status.phase = Phase::Failed;
    canary.status.run_started_ms = Some(SECOND_RUN);
    canary.status.message = format!("rolled back: {HOSTILE_REASON}");
    let path = dir.path().join("journal.jsonl");
    let journal = FileJournal::open(&path).unwrap();
    for entry in steps(&canary) {
        journal.append(&entry).await.unwrap();
    }
    let board = Arc::new(Board::default());
    let events = [Event {
        severity: Severity::Warning,
        message: format!("Rolling back {HOSTILE_NAME}"),
    }];
    board.update(&canary, &events, &[], Some(path), SECOND_RUN + 300_000);
    let dashboard = Dashboard::start("127.0.0.1:0".parse().unwrap(), board)
        .await
        .unwrap();
    Served {
        dashboard,
        canary,
        _dir: dir,
    }
}

#[tokio::test]
async fn the_api_lists_canaries_as_items_with_flaggers_columns_policy_and_last_verdict() {
    let served = served().await;
    let list = served.json("/api/v1/canaries").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let row = &items[0];
    assert_eq!(row["namespace"], "podinfo");
    assert_eq!(row["name"], served.canary.metadata.name.as_str());
    assert_eq!(row["phase"], "Failed");
    assert_eq!(
        (
            row["weight"].as_u64(),
            row["failedChecks"].as_u64(),
            row["threshold"].as_u64()
        ),
        (Some(0), Some(0), Some(2))
    );
    assert_eq!(row["policy"], "builtin:threshold");
    assert_eq!(row["lastVerdict"], format!("rollback: {HOSTILE_REASON}"));
    assert!(
        row["lastTransitionTime"].as_str().unwrap().ends_with('Z'),
        "{row}"
    );
}

#[tokio::test]
async fn a_canarys_api_gives_its_runs_newest_first_with_their_outcomes_and_its_events() {
    let served = served().await;
    let detail = served
        .json(&format!("/api/v1{}", served.canary_path()))
        .await;
    let runs: Vec<(i64, u64, &str)> = detail["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            (
                run["startedMs"].as_i64().unwrap(),
                run["steps"].as_u64().unwrap(),
                run["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let rolled_back = format!("rolled back: {HOSTILE_REASON}");
    assert_eq!(
        runs,
        [
            (SECOND_RUN, 4, rolled_back.as_str()),
            (FIRST_RUN, 4, "promoted")
        ]
    );
    assert_eq!(detail["events"][0]["kind"], "Warning");
    assert_eq!(detail["status"]["phase"], "Failed");
}

#[tokio::test]
async fn the_steps_api_gives_the_newest_runs_journal_entries_or_the_run_asked_for() {
    let served = served().await;
    let path = format!("/api/v1{}/steps", served.canary_path());
    let started = |steps: &Value| -> Vec<i64> {
        steps["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["runStartedMs"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(started(&served.json(&path).await), [SECOND_RUN; 4]);
    let first = served.json(&format!("{path}?run={FIRST_RUN}")).await;
    assert_eq!(started(&first), [FIRST_RUN; 4]);
    assert_eq!(
        first["items"][3]["outcome"]["verdict"]["decision"]["action"],
        "promote"
    );
}

#[tokio::test]
async fn the_list_page_shows_a_canary_name_holding_markup_as_text() {
    let served = served().await;
    let page = served.text("/").await;
    assert!(
        page.contains("frontend&lt;script&gt;window.__xss=1&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains(HOSTILE_NAME), "{page}");
    assert!(
        page.contains(&format!("href=\"{}\"", served.canary_path())),
        "{page}"
    );
}

#[tokio::test]
async fn the_canary_page_shows_a_chart_per_metric_every_verdict_and_hostile_text_as_text() {
    let served = served().await;
    let page = served.text(&served.canary_path()).await;
    for metric in [
        "request-success-rate",
        "request-duration",
        "error-count",
        "request-count",
    ] {
        assert!(
            page.contains(&format!(
                "<figure class=\"metric\" data-metric=\"{metric}\">"
            )),
            "no chart for {metric}: {page}"
        );
    }
    assert_eq!(page.matches("<td class=\"verdict\">").count(), 4, "{page}");
    assert!(page.contains("advance to 20%"), "{page}");
    assert!(
        page.contains("rollback: &lt;img src=x onerror=alert(1)&gt; too slow"),
        "{page}"
    );
    assert!(
        page.contains("smoke: passed — &lt;script&gt;alert('webhook')&lt;/script&gt;"),
        "{page}"
    );
    for hostile in [HOSTILE_NAME, HOSTILE_REASON, HOSTILE_ANSWER] {
        assert!(!page.contains(hostile), "{hostile} is markup on the page");
    }
}

#[tokio::test]
async fn a_past_run_is_shown_when_asked_for() {
    let served = served().await;
    let page = served
        .text(&format!("{}?run={FIRST_RUN}", served.canary_path()))
        .await;
    assert!(
        page.contains("<td class=\"verdict\">promote</td>"),
        "{page}"
    );
    assert!(!page.contains("rollback: "), "{page}");
}

#[tokio::test]
async fn charts_are_svg_drawn_from_the_run_with_a_marker_per_verdict() {
    let served = served().await;
    let response = served
        .get(&format!("{}/timeline.svg", served.canary_path()))
        .await;
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let timeline = response.text().await.unwrap();
    assert!(timeline.starts_with("<svg"), "{timeline}");
    // Four verdict markers, and one in each legend entry drawn.
    assert!(timeline.matches("<circle").count() >= 4, "{timeline}");
    let metric = served
        .text(&format!(
            "{}/metrics/request-duration.svg",
            served.canary_path()
        ))
        .await;
    // The canary's and the primary's series: a line per step at least.
    assert!(metric.matches("<polyline").count() >= 8, "{metric}");
}

#[tokio::test]
async fn pages_run_only_the_dashboards_own_script() {
    let served = served().await;
    let response = served.get("/").await;
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    let script = served.get("/static/dashboard.js").await;
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
}

#[tokio::test]
async fn a_change_reaches_live_pages_as_a_server_sent_event() {
    let served = served().await;
    let response = served.get("/api/v1/events").await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.bytes_stream();
    let mut canary = served.canary.clone();
    canary.status.phase = Phase::Progressing;
    canary.status.canary_weight = 30;
    let board = served.dashboard.board().clone();
    let mut received = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        // The stream's first bytes say it is open; then the change.
        received.push_str(&String::from_utf8_lossy(
            &stream.next().await.unwrap().unwrap(),
        ));
        board.update(&canary, &[], &[], None, SECOND_RUN);
        while !received.contains("\"weight\":30") {
            received.push_str(&String::from_utf8_lossy(
                &stream.next().await.unwrap().unwrap(),
            ));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no event in 10 s: {received}"));
    assert!(received.contains("event: canary\ndata: {"), "{received}");
    assert!(received.contains("\"phase\":\"Progressing\""), "{received}");
}

#[tokio::test]
async fn the_dashboard_is_read_only() {
    let served = served().await;
    let response = client()
        .post(served.url("/api/v1/canaries"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn an_unknown_canary_is_not_found_and_says_where_to_look() {
    let served = served().await;
    let response = served.get("/canaries/podinfo/nothing").await;
    assert_eq!(response.status(), 404);
    let page = response.text().await.unwrap();
    assert!(page.contains("no canary podinfo/nothing here"), "{page}");
}

#[tokio::test]
async fn a_canary_page_with_its_charts_and_assets_stays_well_under_a_megabyte() {
    let served = served().await;
    let page = served.canary_path();
    let mut paths = vec![
        page.clone(),
        "/static/dashboard.js".to_owned(),
        "/static/dashboard.css".to_owned(),
        "/static/favicon.svg".to_owned(),
        format!("{page}/timeline.svg"),
    ];
    for metric in [
        "request-success-rate",
        "request-duration",
        "error-count",
        "request-count",
    ] {
        paths.push(format!("{page}/metrics/{metric}.svg"));
    }
    let mut total = 0;
    for path in &paths {
        total += served.text(path).await.len();
    }
    println!("a canary page with 4 metric charts: {total} bytes in all");
    assert!(total < 256 * 1024, "{total} bytes");
}
