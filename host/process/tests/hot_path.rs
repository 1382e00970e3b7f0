//! The hot path of a process with a single `return` step allocates nothing: the payload is
//! handed back as the response body. Checked with a counting global allocator (which is why
//! this test has its own binary).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use berth_process::{Document, RunOutcome, Runner};
use bytes::Bytes;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn single_return_step_does_not_allocate() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::process(
        dir.path(),
        "name: echo\nstart: {connector: x}\nsteps:\n  - return: {status: 200}\n",
    );
    let runner = Runner::new(dir.path());
    let payload = Bytes::from_static(b"<order/>");
    let doc = Document {
        id: "1".into(),
        payload: payload.clone().into(),
        properties: [("a", "b")].into_iter().collect(),
    };
    let mut future = std::pin::pin!(runner.run(&p, doc));
    let mut cx = Context::from_waker(Waker::noop());
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    // A return-only process never waits, so one poll finishes it.
    let outcome = match future.as_mut().poll(&mut cx) {
        Poll::Ready(outcome) => outcome,
        Poll::Pending => panic!("a return-only process should not wait"),
    };
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(after - before, 0, "allocations on the hot path");
    let RunOutcome::Completed {
        returned: Some(r), ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!((r.status, r.body, r.body_is_payload), (200, payload, false));
}
