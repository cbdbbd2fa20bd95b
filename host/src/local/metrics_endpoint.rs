//! The proxy's `/metrics` endpoint, for Prometheus to scrape (Linkerd's
//! proxies serve theirs on an admin port the same way).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Response, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
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
    let task = tokio::spawn(async move {
        // Aborting the endpoint closes its connections with it.
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
                Some(_) = connections.join_next() => continue,
            };
            let stats = stats.clone();
            connections.spawn(async move {
                let service = service_fn(move |request: hyper::Request<_>| {
                    let stats = stats.clone();
                    async move {
                        Ok::<_, Infallible>(if request.uri().path() == "/metrics" {
                            metrics(&stats)
                        } else {
                            not_found()
                        })
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
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
