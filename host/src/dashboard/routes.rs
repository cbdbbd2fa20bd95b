//! The dashboard's HTTP routes: the pages, their charts and assets, the
//! JSON API under `/api/v1/` and the live updates (server-sent events).
//! Read-only: every route answers GET (and HEAD) only.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use percent_encoding::percent_decode_str;
use tokio::sync::broadcast::error::RecvError;
use warbler_guest_sdk::Phase;

use super::board::{Board, Tracked};
use super::views::{CanaryDetail, CanarySummary, run_steps};
use super::{charts, pages};
use crate::ports::JournalEntry;

/// A response body: whole, or a stream of events.
pub type DashboardBody = UnsyncBoxBody<Bytes, Infallible>;

const SCRIPT: &str = include_str!("assets/dashboard.js");
const STYLE: &str = include_str!("assets/dashboard.css");
const ICON: &str = include_str!("assets/favicon.svg");

/// Pages load their script, style, charts and updates from this server
/// only, and nothing inline runs: text a policy or a webhook wrote cannot
/// become script even if it escaped the templates.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// How often an idle event stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Answer one request from `board`.
pub async fn handle<B>(board: Arc<Board>, request: Request<B>) -> Response<DashboardBody> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "the dashboard is read-only: use GET",
        );
    }
    if request.uri().path() == "/api/v1/events" {
        return events(&board);
    }
    let query = Query::parse(request.uri().query().unwrap_or_default());
    let path = request.uri().path().to_owned();
    // Reading a journal and drawing charts take milliseconds to seconds:
    // off the async workers, which the controller's reconciles share.
    tokio::task::spawn_blocking(move || respond(&board, &path, &query))
        .await
        .unwrap_or_else(|err| {
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the dashboard failed to answer: {err}; see the log"),
            )
        })
}

/// The response to a GET of `path` with `query`, from `board`.
fn respond(board: &Board, path: &str, query: &Query) -> Response<DashboardBody> {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        [""] => html(pages::list(&summaries(board))),
        ["static", "dashboard.js"] => asset("text/javascript; charset=utf-8", SCRIPT),
        ["static", "dashboard.css"] => asset("text/css; charset=utf-8", STYLE),
        ["static", "favicon.svg"] => asset("image/svg+xml", ICON),
        ["api", "v1", "canaries"] => json(&serde_json::json!({ "items": summaries(board) })),
        ["api", "v1", "canaries", namespace, name] => with_canary(board, namespace, name, |t| {
            let steps = board.steps(t)?;
            Ok(json(&CanaryDetail::of(t, &steps)))
        }),
        ["api", "v1", "canaries", namespace, name, "steps"] => {
            with_canary(board, namespace, name, |t| {
                let steps = run_steps(board.steps(t)?, query.run);
                Ok(json(&serde_json::json!({ "items": steps })))
            })
        }
        ["canaries", namespace, name] => with_canary(board, namespace, name, |t| {
            let steps = board.steps(t)?;
            let detail = CanaryDetail::of(t, &steps);
            let shown = run_steps(steps, query.run);
            let run = pages::RunView {
                started_ms: shown.first().map(|s| s.run_started_ms),
                steps: &shown,
            };
            Ok(if query.part_main {
                html(pages::canary_main(&detail, &run).into_string())
            } else {
                html(pages::canary(&detail, &run))
            })
        }),
        ["canaries", namespace, name, "timeline.svg"] => with_canary(board, namespace, name, |t| {
            let steps = run_steps(board.steps(t)?, query.run);
            charts::timeline(&steps, has_ended(t, &steps))
                .map(svg)
                .map_err(|err| err.to_string())
        }),
        ["canaries", namespace, name, "metrics", metric] => {
            let Some(metric) = metric.strip_suffix(".svg") else {
                return not_found("no such chart: metric charts end in .svg");
            };
            with_canary(board, namespace, name, |t| {
                let steps = run_steps(board.steps(t)?, query.run);
                charts::metric(&steps, metric)
                    .map(svg)
                    .map_err(|err| err.to_string())
            })
        }
        _ => not_found(&format!(
            "no page at {path}: see / for the canaries, /api/v1/canaries for the API"
        )),
    }
}

/// Whether the run of `steps` has ended: an earlier run, or the current
/// one once promoted or rolled back.
fn has_ended(tracked: &Tracked, steps: &[JournalEntry]) -> bool {
    let status = &tracked.canary.status;
    let current = steps.first().map(|s| s.run_started_ms) == status.run_started_ms;
    !current || matches!(status.phase, Phase::Succeeded | Phase::Failed)
}

/// The query parameters the dashboard reads.
#[derive(Debug, Default)]
struct Query {
    /// `run`: which run (its start, Unix ms); the newest when absent.
    run: Option<i64>,
    /// `part=main`: only the part of a page that live updates replace.
    part_main: bool,
}

impl Query {
    fn parse(query: &str) -> Self {
        let mut parsed = Query::default();
        for (key, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
            match key {
                "run" => parsed.run = value.parse().ok(),
                "part" => parsed.part_main = value == "main",
                _ => {}
            }
        }
        parsed
    }
}

fn summaries(board: &Board) -> Vec<CanarySummary> {
    board.all().iter().map(CanarySummary::of).collect()
}

fn with_canary(
    board: &Board,
    namespace: &str,
    name: &str,
    respond: impl FnOnce(&Tracked) -> Result<Response<DashboardBody>, String>,
) -> Response<DashboardBody> {
    let Some(tracked) = board.get(&format!("{namespace}/{name}")) else {
        return not_found(&format!(
            "no canary {namespace}/{name} here: see / for the canaries this Warbler runs"
        ));
    };
    respond(&tracked).unwrap_or_else(|err| {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("{err}; check the journal file and its permissions"),
        )
    })
}

fn response(
    status: StatusCode,
    content_type: &str,
    body: DashboardBody,
) -> Response<DashboardBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("a valid content type"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn whole(body: impl Into<Bytes>) -> DashboardBody {
    Full::new(body.into()).boxed_unsync()
}

fn html(page: String) -> Response<DashboardBody> {
    response(StatusCode::OK, "text/html; charset=utf-8", whole(page))
}

fn svg(chart: String) -> Response<DashboardBody> {
    response(StatusCode::OK, "image/svg+xml", whole(chart))
}

fn asset(content_type: &str, text: &'static str) -> Response<DashboardBody> {
    response(StatusCode::OK, content_type, whole(text))
}

fn json(value: &impl serde::Serialize) -> Response<DashboardBody> {
    let body = serde_json::to_vec(value).expect("dashboard views serialize");
    response(StatusCode::OK, "application/json", whole(body))
}

fn text(status: StatusCode, message: &str) -> Response<DashboardBody> {
    response(
        status,
        "text/plain; charset=utf-8",
        whole(format!("{message}\n")),
    )
}

fn not_found(message: &str) -> Response<DashboardBody> {
    let mut response = html(pages::not_found(message));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// One server-sent event.
fn event(name: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// Server-sent events: `canary` with a canary's row each time it changes,
/// `removed` with `{namespace, name}` when it goes, `reload` when this
/// client fell behind and should fetch everything again.
fn events(board: &Arc<Board>) -> Response<DashboardBody> {
    let changes = board.subscribe();
    let board = board.clone();
    let first = futures::stream::iter([Bytes::from_static(b"retry: 2000\n\n")]);
    let updates = futures::stream::unfold((board, changes), |(board, mut changes)| async move {
        let chunk = tokio::select! {
            change = changes.recv() => match change {
                Ok(key) => match board.get(&key) {
                    Some(tracked) => event(
                        "canary",
                        &serde_json::to_string(&CanarySummary::of(&tracked))
                            .expect("a summary serializes"),
                    ),
                    None => {
                        let (namespace, name) = key.split_once('/').unwrap_or(("", &key));
                        event(
                            "removed",
                            &serde_json::json!({ "namespace": namespace, "name": name }).to_string(),
                        )
                    }
                },
                Err(RecvError::Lagged(_)) => event("reload", "{}"),
                Err(RecvError::Closed) => return None,
            },
            () = tokio::time::sleep(KEEP_ALIVE) => Bytes::from_static(b": keep-alive\n\n"),
        };
        Some((chunk, (board, changes)))
    });
    let body = StreamBody::new(
        first
            .chain(updates)
            .map(|chunk| Ok::<_, Infallible>(Frame::data(chunk))),
    );
    response(StatusCode::OK, "text/event-stream", body.boxed_unsync())
}
