//! The one way Warbler serves HTTP: HTTP/1.1 and HTTP/2 (cleartext) on a
//! listener, each request answered by a handler. Used by the proxy, its
//! `/metrics` endpoint, the sample app and the load tester.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::canary::ProxyLimits;

/// Answer every request on `listener` with `handler`, until this future is
/// dropped, within the default [`ProxyLimits`].
pub async fn serve<F, Fut, B>(listener: TcpListener, handler: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_within(listener, &ProxyLimits::default(), handler).await
}

/// Answer every request on `listener` with `handler`, until this future is
/// dropped: at most `limits.max_connections` connections at once, slow and
/// idle clients closed. Connections live in its own task set, so dropping
/// it (or aborting the task running it) closes every keep-alive connection
/// too.
pub async fn serve_within<F, Fut, B>(listener: TcpListener, limits: &ProxyLimits, handler: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle_timeout)
        .keep_alive_timeout(limits.idle_timeout);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    loop {
        // At the cap, leave further clients in the listen backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            Some(_) = connections.join_next() => continue,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, most likely: let some close.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next() => continue,
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let builder = builder.clone();
        let first_bytes_within = limits.header_read_timeout;
        connections.spawn(async move {
            // A client that never sends a byte would hold its connection
            // forever: telling HTTP/1 from HTTP/2 waits for its first
            // bytes, before hyper's own header timeout starts.
            let mut first = [0u8; 1];
            match tokio::time::timeout(first_bytes_within, stream.peek(&mut first)).await {
                Ok(Ok(read)) if read > 0 => {}
                _ => return,
            }
            let service = service_fn(move |request| {
                let response = handler(request);
                async move { Ok::<_, Infallible>(response.await) }
            });
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
}
