//! Cutting connections that sit idle: a client that connects and says nothing, keeps a
//! connection open between requests, or drips a request head a byte at a time would otherwise
//! hold one of the limited connection slots forever.
//!
//! One deadline covers all three: from the moment a connection has no request in flight (it
//! opened, or its last request was answered) until the next request's head is complete, at
//! most `limit` may pass, however many bytes arrive meanwhile. This stands in for hyper's
//! header read timeout, which costs a timer per request; this costs one per `limit`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Counts the requests of one connection that are being processed: while any is, the
/// connection is busy, not idle, however long the process takes. It also remembers when the
/// last one ended: the idle deadline runs from there.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Counts>);

#[derive(Default)]
struct Counts {
    requests: AtomicUsize,
    /// When the count last fell to zero, in nanoseconds after `epoch()`; 0: never.
    idle_since: AtomicU64,
}

impl InFlight {
    pub fn start(&self) -> InFlightGuard {
        self.0.requests.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(Arc::clone(&self.0))
    }

    fn idle(&self) -> bool {
        self.0.requests.load(Ordering::Acquire) == 0
    }

    /// When the last request ended, if one has.
    fn idle_since(&self) -> Option<Instant> {
        match self.0.idle_since.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(epoch() + Duration::from_nanos(nanos)),
        }
    }
}

pub struct InFlightGuard(Arc<Counts>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.requests.fetch_sub(1, Ordering::AcqRel) == 1 {
            let nanos = Instant::now().saturating_duration_since(epoch()).as_nanos();
            let nanos = u64::try_from(nanos).unwrap_or(u64::MAX).max(1);
            self.0.idle_since.store(nanos, Ordering::Release);
        }
    }
}

/// A fixed instant to express times as numbers (atomics hold no `Instant`).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A stream whose reads fail with `TimedOut` once `limit` has passed since it last had no
/// request in flight (see the module documentation).
///
/// The timer is not re-armed for every request: when it fires early (requests came and went
/// since it was set) it is pushed to `last idle moment + limit`. On a busy keep-alive
/// connection that is one timer registration per `limit`, not one per request.
pub struct IdleCutoff<S> {
    inner: S,
    limit: Duration,
    in_flight: InFlight,
    timer: Pin<Box<Sleep>>,
    opened: Instant,
}

impl<S> IdleCutoff<S> {
    pub fn new(inner: S, limit: Duration, in_flight: InFlight) -> Self {
        Self {
            inner,
            limit,
            in_flight,
            timer: Box::pin(tokio::time::sleep(limit)),
            opened: Instant::now(),
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
            // Bytes do not push the deadline back: a head dripped a byte at a time must not
            // hold the connection for ever.
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => loop {
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let now = Instant::now();
                let since = if this.in_flight.idle() {
                    this.in_flight.idle_since().unwrap_or(this.opened)
                } else {
                    // A request is being processed, however long it takes: not idle.
                    now
                };
                let due = since + this.limit;
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

super::write_through::write_through!(IdleCutoff);
