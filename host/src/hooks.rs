//! Flagger's webhooks over HTTP: a JSON POST of the Canary's name, namespace,
//! phase, checksum and the hook's metadata; any status above 202, a timeout or
//! a transport error is a failure, retried as configured.

use std::time::Duration;

use serde::Serialize;
use warbler_guest_sdk::WebhookResult;

use crate::canary::{Canary, WebhookKind, WebhookSpec};
use crate::ports::{Clock, Hooks, SystemClock, payload_phase};
use crate::reconciler::{Event, Severity, hooks_of};

/// How long a webhook may take when its spec sets no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of a response body kept for events and the policy input.
const MAX_MESSAGE: usize = 1024;

/// Calls webhooks over HTTP.
#[derive(Debug, Clone)]
pub struct HttpHooks {
    client: reqwest::Client,
    retry_backoff: Duration,
}

impl Default for HttpHooks {
    fn default() -> Self {
        HttpHooks {
            // Per-hook timeouts are set on each request.
            client: crate::http::client(Duration::from_secs(3600)),
            retry_backoff: Duration::from_millis(500),
        }
    }
}

/// Flagger's webhook payload.
#[derive(Debug, Serialize)]
struct Payload<'a> {
    name: &'a str,
    namespace: &'a str,
    phase: warbler_guest_sdk::Phase,
    checksum: &'a str,
    metadata: &'a std::collections::BTreeMap<String, String>,
}

impl HttpHooks {
    /// A client that waits `backoff`, doubled each time, between retries.
    pub fn with_retry_backoff(backoff: Duration) -> Self {
        HttpHooks {
            retry_backoff: backoff,
            ..HttpHooks::default()
        }
    }

    async fn attempt(
        &self,
        hook: &WebhookSpec,
        payload: &Payload<'_>,
    ) -> (bool, Option<u16>, String) {
        let timeout = hook.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let response = self
            .client
            .post(&hook.url)
            .timeout(timeout)
            .json(payload)
            .send()
            .await;
        match response {
            Err(err) if err.is_timeout() => (
                false,
                None,
                format!(
                    "no answer from {} within {}s",
                    hook.url,
                    timeout.as_secs_f64()
                ),
            ),
            Err(err) => (false, None, format!("cannot reach {}: {err}", hook.url)),
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                let mut message = body.trim().to_owned();
                if message.len() > MAX_MESSAGE {
                    let cut = (0..=MAX_MESSAGE)
                        .rev()
                        .find(|&i| message.is_char_boundary(i))
                        .unwrap_or(0);
                    message.truncate(cut);
                    message.push('…');
                }
                if message.is_empty() {
                    message = status.to_string();
                }
                (status.as_u16() <= 202, Some(status.as_u16()), message)
            }
        }
    }
}

impl Hooks for HttpHooks {
    async fn call(&self, canary: &Canary, hook: &WebhookSpec) -> WebhookResult {
        let payload = Payload {
            name: &canary.metadata.name,
            namespace: &canary.metadata.namespace,
            phase: payload_phase(canary, hook.kind),
            checksum: canary
                .status
                .last_applied_spec
                .as_deref()
                .unwrap_or_default(),
            metadata: &hook.metadata,
        };
        let mut backoff = self.retry_backoff;
        let retries = hook.retries.unwrap_or(0);
        let mut attempt = 0;
        loop {
            let (passed, status_code, message) = self.attempt(hook, &payload).await;
            if passed || attempt >= retries {
                return WebhookResult {
                    name: hook.name.clone(),
                    kind: hook.kind,
                    passed,
                    status_code,
                    message,
                };
            }
            attempt += 1;
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
}

/// Send `events` to the Canary's `event` webhooks, as Flagger does: the
/// event's text and type (`Normal` or `Warning`) and the time it is sent
/// (Unix milliseconds) go in the metadata as `eventMessage`, `eventType`
/// and `timestamp`. A failing event webhook is logged and never holds up
/// the rollout.
pub async fn send_events<H: Hooks>(hooks: &H, canary: &Canary, events: &[Event]) {
    for hook in hooks_of(canary, WebhookKind::Event) {
        for event in events {
            let mut hook = hook.clone();
            let kind = match event.severity {
                Severity::Info => "Normal",
                Severity::Warning => "Warning",
            };
            hook.metadata
                .insert("eventMessage".to_owned(), event.message.clone());
            hook.metadata
                .insert("eventType".to_owned(), kind.to_owned());
            hook.metadata
                .insert("timestamp".to_owned(), SystemClock.now_ms().to_string());
            let result = hooks.call(canary, &hook).await;
            if !result.passed {
                tracing::warn!(hook = %hook.name, "event webhook failed: {}", result.message);
            }
        }
    }
}
