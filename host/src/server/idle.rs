//! Cutting connections that sit idle: a client that connects and says nothing, or keeps a
//! connection open between requests, would otherwise hold one of the limited connection slots
//! forever. hyper's header timeout only starts once a request's first byte arrives.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Counts the requests of one connection that are being processed: while any is, the
/// connection is busy, not idle, however long the process takes.
#[derive(Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub fn start(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(Arc::clone(&self.0))
    }

    fn idle(&self) -> bool {
        self.0.load(Ordering::Acquire) == 0
    }
}

pub struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A stream whose reads fail with `TimedOut` after `limit` without a byte while no request is
/// in flight.
///
/// The timer is not re-armed for every request: reads only note the time of the last
/// activity, and when the timer fires early it is pushed to `last activity + limit`. On a busy
/// keep-alive connection that is one timer registration per `limit`, not one per request.
pub struct IdleCutoff<S> {
    inner: S,
    limit: Duration,
    in_flight: InFlight,
    timer: Pin<Box<Sleep>>,
    last_activity: Instant,
}

impl<S> IdleCutoff<S> {
    pub fn new(inner: S, limit: Duration, in_flight: InFlight) -> Self {
        Self {
            inner,
            limit,
            in_flight,
            timer: Box::pin(tokio::time::sleep(limit)),
            last_activity: Instant::now(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleCutoff<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.last_activity = Instant::now();
                Poll::Ready(result)
            }
            Poll::Pending => loop {
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let now = Instant::now();
                if !this.in_flight.idle() {
                    // A request is being processed, however long it takes: not idle.
                    this.last_activity = now;
                }
                let due = this.last_activity + this.limit;
                if now >= due {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection idle for too long",
                    )));
                }
                // Fired early: activity came since it was set. Push it back and poll it again
                // so that it is registered with this waker.
                this.timer.as_mut().reset(due);
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleCutoff<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
