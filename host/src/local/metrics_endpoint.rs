//! The proxy's `/metrics` endpoint, for Prometheus to scrape (Linkerd's
//! proxies serve theirs on an admin port the same way).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};
use tokio::net::TcpListener;

use super::traffic::{TrafficStats, exposition};

/// Serve `stats` at `/metrics` on `address`; returns the bound address and
/// the serving task.
pub async fn spawn_metrics_endpoint(
    stats: Arc<TrafficStats>,
    address: SocketAddr,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(crate::serve::serve(listener, move |request| {
        let stats = stats.clone();
        async move {
            if request.uri().path() == "/metrics" {
                metrics(&stats)
            } else {
                not_found()
            }
        }
    }));
    Ok((bound, task))
}

fn metrics(stats: &Arc<TrafficStats>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(exposition(stats.clone()))));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn not_found() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(
        b"metrics are served at /metrics\n",
    )));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}
