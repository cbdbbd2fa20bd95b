//! `warbler sample-app`: a small HTTP service for demos and tests (like
//! podinfo), with a version, an error rate and a latency of its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;

/// How the sample app behaves.
#[derive(Debug, Clone)]
pub struct SampleApp {
    /// Reported in every response.
    pub version: String,
    /// Fraction of requests (0..=1) answered with 500, spread evenly.
    pub error_rate: f64,
    /// Added to every response.
    pub latency: Duration,
}

impl SampleApp {
    /// Serve on `listener` until the future is dropped.
    pub async fn serve(self, listener: TcpListener) {
        let app = Arc::new((self, AtomicU64::new(0)));
        crate::serve::serve(listener, move |request| {
            let app = app.clone();
            async move { app.0.respond(&app.1, request).await }
        })
        .await;
    }

    /// Bind `address` and serve; returns the bound address and the task.
    pub async fn spawn(
        self,
        address: SocketAddr,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = TcpListener::bind(address).await?;
        let bound = listener.local_addr()?;
        Ok((bound, tokio::spawn(self.serve(listener))))
    }

    async fn respond(
        &self,
        counter: &AtomicU64,
        request: Request<Incoming>,
    ) -> Response<Full<Bytes>> {
        if request.uri().path() == "/healthz" {
            return text(StatusCode::OK, "ok\n".to_owned());
        }
        let n = counter.fetch_add(1, Ordering::Relaxed) as f64;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        // Request n fails when the running count of failures ticks over:
        // exactly `error_rate` of any long enough sequence fails.
        let failing = ((n + 1.0) * self.error_rate).floor() > (n * self.error_rate).floor();
        let status = if failing {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        text(
            status,
            format!(
                "{{\"version\":\"{}\",\"status\":{}}}\n",
                self.version,
                status.as_u16()
            ),
        )
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}
