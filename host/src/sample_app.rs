//! `warbler sample-app`: a small HTTP service for demos and tests (like
//! podinfo), with a version, an error rate and a latency of its own.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
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
    /// Serve on `listener` until the task is dropped.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        let app = Arc::new((self, AtomicU64::new(0)));
        loop {
            let (stream, _) = listener.accept().await?;
            let app = app.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(app.0.respond(&app.1, request).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    /// Bind `address` and serve; returns the bound address and the task.
    pub async fn spawn(
        self,
        address: SocketAddr,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
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
