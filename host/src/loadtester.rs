//! `warbler loadtester`: a drop-in for flagger-loadtester. It accepts
//! Flagger's load-test webhook (`metadata.cmd: "hey …"`) and runs the load
//! natively, so a Flagger manifest's load-test webhook works unchanged.
//!
//! `type: cmd` (the default) starts the load in the background and answers
//! 202 at once; a command already running is not started twice. Any other
//! type runs the load to completion and answers 200 with the summary.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::load::{HeyArgs, run};

/// The part of Flagger's webhook payload the load tester reads.
#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

/// The load tester: the commands it is running.
#[derive(Debug, Default, Clone)]
pub struct LoadTester {
    running: Arc<Mutex<HashSet<String>>>,
}

impl LoadTester {
    /// Serve on `listener` until the future is dropped.
    pub async fn serve(self, listener: TcpListener) {
        crate::serve::serve(listener, move |request| {
            let tester = self.clone();
            async move { tester.respond(request).await }
        })
        .await;
    }

    async fn respond(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::POST {
            return reply(
                StatusCode::OK,
                "warbler loadtester: POST a Flagger webhook payload".to_owned(),
            );
        }
        let body = match request.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(err) => {
                return reply(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the request: {err}"),
                );
            }
        };
        let payload: Payload = match serde_json::from_slice(&body) {
            Ok(payload) => payload,
            Err(err) => {
                return reply(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not a Flagger webhook payload: {err}"),
                );
            }
        };
        let Some(command) = payload.metadata.get("cmd").cloned() else {
            return reply(
                StatusCode::BAD_REQUEST,
                "metadata.cmd is missing; set it to a `hey …` command".to_owned(),
            );
        };
        let spec = match HeyArgs::parse_command(&command).and_then(HeyArgs::into_spec) {
            Ok(spec) => spec,
            Err(message) => return reply(StatusCode::BAD_REQUEST, message),
        };
        let canary = format!("{}.{}", payload.name, payload.namespace);
        let blocking = payload.metadata.get("type").is_some_and(|t| t != "cmd");
        if blocking {
            let report = run(&spec).await;
            return reply(StatusCode::OK, report.to_string());
        }
        if !self
            .running
            .lock()
            .expect("loadtester poisoned")
            .insert(command.clone())
        {
            return reply(
                StatusCode::ACCEPTED,
                format!("command already running: {command}"),
            );
        }
        let running = self.running.clone();
        let started = format!("command started: {command}");
        tokio::spawn(async move {
            let report = run(&spec).await;
            tracing::info!(
                canary,
                command,
                rate = report.rate(),
                total = report.total(),
                "load test finished"
            );
            running
                .lock()
                .expect("loadtester poisoned")
                .remove(&command);
        });
        reply(StatusCode::ACCEPTED, started)
    }
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}
