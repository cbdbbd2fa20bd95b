//! A guest's stdout and stderr: the first and the last bytes kept for the
//! log, up to a limit, what lies between counted and dropped. The end is
//! kept because that is where a traceback or a panic message is. The guest
//! never sees an error: a policy that prints too much loses lines, it does
//! not fail (wasmtime's own memory pipe closes the stream at its capacity,
//! which a Rust `print!` turns into a panic and Python into an exception).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// One evaluation's guest output; clones share it.
#[derive(Debug, Clone)]
pub(crate) struct GuestOutput {
    inner: Arc<Mutex<Kept>>,
}

#[derive(Debug)]
struct Kept {
    /// Bytes kept from the start and, as many again, from the end.
    half: usize,
    head: BytesMut,
    tail: VecDeque<u8>,
    /// Bytes that left the tail: the ones dropped.
    dropped: usize,
}

impl GuestOutput {
    /// Output that keeps at most `limit` bytes: the first and last halves.
    pub(crate) fn new(limit: usize) -> Self {
        GuestOutput {
            inner: Arc::new(Mutex::new(Kept {
                half: limit / 2,
                head: BytesMut::new(),
                tail: VecDeque::new(),
                dropped: 0,
            })),
        }
    }

    /// What was kept (with a marker where bytes were dropped), and how many
    /// bytes were dropped.
    pub(crate) fn contents(&self) -> (Bytes, usize) {
        let kept = self.lock();
        let mut all = kept.head.clone();
        if kept.dropped > 0 {
            all.extend_from_slice(format!("\n[… {} bytes dropped …]\n", kept.dropped).as_bytes());
        }
        let (front, back) = kept.tail.as_slices();
        all.extend_from_slice(front);
        all.extend_from_slice(back);
        (all.freeze(), kept.dropped)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.inner.lock().expect("guest output poisoned")
    }

    fn keep(&self, bytes: &[u8]) {
        let mut kept = self.lock();
        let room = kept.half.saturating_sub(kept.head.len());
        let (head, rest) = bytes.split_at(bytes.len().min(room));
        kept.head.extend_from_slice(head);
        kept.tail.extend(rest);
        let excess = kept.tail.len().saturating_sub(kept.half);
        kept.tail.drain(..excess);
        kept.dropped += excess;
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_limit_keeps_its_start_and_end_and_counts_the_rest() {
        let mut output = GuestOutput::new(4);
        output.write(Bytes::from_static(b"abc")).unwrap();
        output.write(Bytes::from_static(b"defg")).unwrap();
        assert_eq!(output.check_write().unwrap(), 64 << 10);
        let (kept, dropped) = output.contents();
        assert_eq!(
            &kept[..],
            b"ab\n[\xe2\x80\xa6 3 bytes dropped \xe2\x80\xa6]\nfg"
        );
        assert_eq!(dropped, 3);
    }

    #[test]
    fn output_within_the_limit_is_kept_whole() {
        let mut output = GuestOutput::new(8);
        output.write(Bytes::from_static(b"abcdefgh")).unwrap();
        assert_eq!(output.contents(), (Bytes::from_static(b"abcdefgh"), 0));
    }
}
