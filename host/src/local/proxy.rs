//! The embedded weighted proxy: accepts HTTP/1.1 and HTTP/2 (cleartext),
//! sends each request to the primary or the canary according to the current
//! weight, and counts every response for [`TrafficStats`]. It is the local
//! mode's [`Router`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderName};
use hyper::http::uri::{Authority, Scheme};
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

use super::traffic::{Backend, TrafficStats};
use crate::canary::{Canary, ProxyLimits};
use crate::ports::{PortError, Router};

type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Headers that describe one hop, not the request (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

/// The weighted proxy's shared state; clones share it.
#[derive(Debug, Clone)]
pub struct WeightedProxy {
    inner: Arc<ProxyState>,
}

#[derive(Debug)]
struct ProxyState {
    weight: AtomicU32,
    requests: AtomicU64,
    primary: RwLock<Option<Authority>>,
    canary: RwLock<Option<Authority>>,
    client: Client<HttpConnector, ClientBody>,
    stats: Arc<TrafficStats>,
    limits: ProxyLimits,
}

impl WeightedProxy {
    /// A proxy counting into `stats` and serving clients within `limits`,
    /// with no backends yet and all traffic on the primary.
    pub fn new(stats: Arc<TrafficStats>, limits: ProxyLimits) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        WeightedProxy {
            inner: Arc::new(ProxyState {
                weight: AtomicU32::new(0),
                requests: AtomicU64::new(0),
                primary: RwLock::new(None),
                canary: RwLock::new(None),
                client,
                stats,
                limits,
            }),
        }
    }

    /// Send the primary's share to `address` (or nowhere: 503).
    pub fn set_primary(&self, address: Option<Authority>) {
        *self.inner.primary.write().expect("proxy state poisoned") = address;
    }

    /// Send the canary's share to `address` (or nowhere: 503).
    pub fn set_canary(&self, address: Option<Authority>) {
        *self.inner.canary.write().expect("proxy state poisoned") = address;
    }

    /// Bind `address` and serve until the task is aborted.
    pub async fn spawn(
        &self,
        address: SocketAddr,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = TcpListener::bind(address).await?;
        let bound = listener.local_addr()?;
        let state = self.inner.clone();
        let limits = self.inner.limits.clone();
        let task = tokio::spawn(async move {
            crate::serve::serve_within(listener, &limits, move |request| {
                let state = state.clone();
                async move { state.forward(request).await }
            })
            .await
        });
        Ok((bound, task))
    }
}

impl ProxyState {
    /// Request n goes to the canary when the running count of canary
    /// requests ticks over: exactly `weight`% of any 100 consecutive
    /// requests, spread evenly rather than in bursts.
    fn pick(&self) -> Backend {
        let weight = u64::from(self.weight.load(Ordering::Relaxed));
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if ((n + 1) * weight) / 100 > (n * weight) / 100 {
            Backend::Canary
        } else {
            Backend::Primary
        }
    }

    fn address(&self, backend: Backend) -> Option<Authority> {
        let slot = match backend {
            Backend::Primary => &self.primary,
            Backend::Canary => &self.canary,
        };
        slot.read().expect("proxy state poisoned").clone()
    }

    async fn forward(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let started = Instant::now();
        let backend = self.pick();
        let Some(address) = self.address(backend) else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "no backend is ready yet\n");
        };
        let client_failed = Arc::new(AtomicBool::new(false));
        let request = upstream_request(request, address).map(|body| ClientBody {
            inner: body,
            failed: client_failed.clone(),
        });
        let response = self.client.request(request).await;
        // A request body the client broke (bad chunking, a reset mid-body)
        // says nothing about the backend: answer 400 and count nothing, so
        // one bad client cannot fail a healthy canary.
        if client_failed.load(Ordering::Relaxed) {
            return match response {
                Ok(response) if !response.status().is_server_error() => {
                    response.map(BodyExt::boxed)
                }
                _ => plain(
                    StatusCode::BAD_REQUEST,
                    "warbler proxy: the request body could not be read\n",
                ),
            };
        }
        let response = match response {
            Ok(response) => response.map(BodyExt::boxed),
            Err(err) => plain(
                StatusCode::BAD_GATEWAY,
                &format!("warbler proxy: the {backend:?} backend did not answer: {err}\n"),
            ),
        };
        let failed = response.status().is_server_error();
        self.stats.record(backend, failed, started.elapsed());
        response
    }
}

/// The client's request body on its way upstream, noting whether reading it
/// failed.
struct ClientBody {
    inner: Incoming,
    failed: Arc<AtomicBool>,
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            self.failed.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `request` rewritten for the backend at `address`: absolute URI, HTTP/1.1,
/// no hop-by-hop headers, a Host header for HTTP/2 clients.
fn upstream_request(request: Request<Incoming>, address: Authority) -> Request<Incoming> {
    let (mut parts, body) = request.into_parts();
    let original_authority = parts.uri.authority().cloned();
    let mut uri = parts.uri.into_parts();
    uri.scheme = Some(Scheme::HTTP);
    uri.authority = Some(address);
    if uri.path_and_query.is_none() {
        uri.path_and_query = Some("/".parse().expect("`/` is a valid path"));
    }
    parts.uri = Uri::from_parts(uri).expect("scheme, authority and path make a URI");
    if parts.version == Version::HTTP_2
        && !parts.headers.contains_key(header::HOST)
        && let Some(authority) = original_authority
        && let Ok(host) = authority.as_str().parse()
    {
        parts.headers.insert(header::HOST, host);
    }
    parts.version = Version::HTTP_11;
    for name in &HOP_BY_HOP {
        parts.headers.remove(name);
    }
    Request::from_parts(parts, body)
}

fn plain(status: StatusCode, body: &str) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(body.to_owned()))
        .map_err(|never: Infallible| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

impl Router for WeightedProxy {
    async fn set_canary_weight(&self, _canary: &Canary, weight: u32) -> Result<(), PortError> {
        if weight > 100 {
            return Err(PortError {
                port: "router",
                message: format!("weight {weight} is over 100; lower spec.analysis.maxWeight"),
            });
        }
        if weight > 0 && self.address(Backend::Canary).is_none() {
            return Err(PortError {
                port: "router",
                message: "the canary has no address yet; it is being started".to_owned(),
            });
        }
        self.inner.weight.store(weight, Ordering::Relaxed);
        Ok(())
    }
}

impl WeightedProxy {
    fn address(&self, backend: Backend) -> Option<Authority> {
        self.inner.address(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with_weight(weight: u32) -> ProxyState {
        let proxy = WeightedProxy::new(
            Arc::new(TrafficStats::new("test", "app")),
            ProxyLimits::default(),
        );
        proxy.inner.weight.store(weight, Ordering::Relaxed);
        Arc::try_unwrap(proxy.inner).expect("only owner")
    }

    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use crate::sample_app::SampleApp;

    /// A proxy sending everything to a healthy sample app, within `limits`;
    /// the proxy's address and its counters.
    async fn proxy_to_app(limits: ProxyLimits) -> (SocketAddr, Arc<TrafficStats>) {
        let app = SampleApp {
            version: "1.0.0".to_owned(),
            error_rate: 0.0,
            latency: Duration::ZERO,
        };
        let (app, _) = app.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let stats = Arc::new(TrafficStats::new("test", "app"));
        let proxy = WeightedProxy::new(stats.clone(), limits);
        proxy.set_primary(Some(app.to_string().parse().unwrap()));
        proxy.set_canary(Some(app.to_string().parse().unwrap()));
        proxy.inner.weight.store(100, Ordering::Relaxed);
        let (address, _) = proxy.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
        (address, stats)
    }

    /// Send `request` and read until the server closes or 2 s pass.
    async fn exchange(address: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn a_broken_request_body_is_answered_400_and_not_counted_against_the_canary() {
        let (address, stats) = proxy_to_app(ProxyLimits::default()).await;
        let bad = b"POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n";
        let answer = exchange(address, bad).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
        let good = b"GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n";
        assert!(exchange(address, good).await.starts_with("HTTP/1.1 200"));
        let canary = stats.counts(Backend::Canary);
        assert_eq!((canary.success, canary.failure), (1, 0));
    }

    #[tokio::test]
    async fn a_client_that_resets_mid_body_is_not_counted_against_the_canary() {
        let (address, stats) = proxy_to_app(ProxyLimits::default()).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 1000\r\n\r\npartial")
            .await
            .unwrap();
        stream.set_zero_linger().unwrap();
        drop(stream);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(stats.counts(Backend::Canary).failure, 0);
    }

    #[tokio::test]
    async fn an_idle_client_is_closed_after_the_header_read_timeout() {
        let limits = ProxyLimits {
            header_read_timeout: Duration::from_millis(200),
            ..ProxyLimits::default()
        };
        let (address, _) = proxy_to_app(limits).await;
        let mut idle = TcpStream::connect(address).await.unwrap();
        let mut buffer = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut buffer)).await;
        assert!(matches!(read, Ok(Ok(_))), "closed by the proxy: {read:?}");
    }

    #[tokio::test]
    async fn clients_over_the_connection_cap_wait_for_a_free_slot() {
        let limits = ProxyLimits {
            max_connections: 1,
            header_read_timeout: Duration::from_millis(300),
            ..ProxyLimits::default()
        };
        let (address, _) = proxy_to_app(limits).await;
        let _idle = TcpStream::connect(address).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let good = b"GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n";
        let answer = exchange(address, good).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "served only once the idle client was closed ({:?})",
            started.elapsed()
        );
    }

    #[test]
    fn the_canary_gets_exactly_its_weight_of_every_hundred_requests() {
        for weight in [0, 1, 5, 33, 50, 99, 100] {
            let state = state_with_weight(weight);
            let to_canary = (0..100).filter(|_| state.pick() == Backend::Canary).count();
            assert_eq!(to_canary, weight as usize, "weight {weight}");
        }
    }
}
