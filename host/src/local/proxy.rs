//! The embedded weighted proxy: accepts HTTP/1.1 and HTTP/2 (cleartext),
//! sends each request to the primary or the canary according to the current
//! weight, and counts every response for [`TrafficStats`]. It is the local
//! mode's [`Router`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName};
use hyper::http::uri::{Authority, Scheme};
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

use super::traffic::{Backend, TrafficStats};
use crate::canary::Canary;
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
    client: Client<HttpConnector, Incoming>,
    stats: Arc<TrafficStats>,
}

impl WeightedProxy {
    /// A proxy counting into `stats`, with no backends yet and all traffic
    /// on the primary.
    pub fn new(stats: Arc<TrafficStats>) -> Self {
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
        let task = tokio::spawn(crate::serve::serve(listener, move |request| {
            let state = state.clone();
            async move { state.forward(request).await }
        }));
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
        let response = match self
            .client
            .request(upstream_request(request, address))
            .await
        {
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
        let proxy = WeightedProxy::new(Arc::new(TrafficStats::new("test", "app")));
        proxy.inner.weight.store(weight, Ordering::Relaxed);
        Arc::try_unwrap(proxy.inner).expect("only owner")
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
