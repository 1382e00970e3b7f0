//! Whether this node should get traffic, for a load balancer: `GET /health` (the process
//! answers) and `GET /ready` (the store answers, the deployment is applied, and the node is not
//! draining before a stop). Served by the admin server without its token (a load balancer holds
//! none); the answers say no more than a one-line reason.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use berth_store::{Store, StoreError};
use http::StatusCode;

use crate::topology::Topology;

/// How long `/ready` waits for the store's database before calling it unreachable: less than
/// the few seconds load balancers give a check (HAProxy's default `timeout check` is its
/// `inter`, 2 s), so that the node is marked down rather than the check timing out blind.
const PING_TIMEOUT: Duration = Duration::from_millis(1500);
/// While the database is unreachable, how often it is asked again, so that the node notices
/// its return (and logs it) even when no request or check comes.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// What `/ready` knows beyond the store and the topology: the stop that has begun, and whether
/// anyone checks readiness at all.
#[derive(Default)]
pub struct Readiness {
    draining: AtomicBool,
    /// Some client has asked `/ready`: a load balancer is watching, and draining is worth its
    /// wait.
    watched: AtomicBool,
}

impl Readiness {
    /// The stop has begun: `/ready` answers 503 from now on. Returns whether a load balancer
    /// has ever asked `/ready` (if none has, there is no one to tell, and no reason to wait).
    pub fn drain(&self) -> bool {
        self.draining.store(true, Ordering::SeqCst);
        self.watched.load(Ordering::SeqCst)
    }

    /// The answer to `GET /ready`: 200 or 503, and one line saying why.
    pub async fn check(&self, topology: &Topology, store: Option<&Store>) -> (StatusCode, String) {
        self.watched.store(true, Ordering::SeqCst);
        if self.draining.load(Ordering::SeqCst) {
            return (StatusCode::SERVICE_UNAVAILABLE, "draining".into());
        }
        if let Some(store) = store {
            match tokio::time::timeout(PING_TIMEOUT, store.ping()).await {
                Ok(Ok(())) => {}
                Ok(Err(StoreError::Unavailable(_))) => {
                    // The store's own words, as its log line said them.
                    let cause = store.unavailable().unwrap_or_default();
                    let reason = format!("store unavailable: {cause}");
                    return (StatusCode::SERVICE_UNAVAILABLE, one_line(&reason));
                }
                Ok(Err(error)) => {
                    let reason = format!("store unavailable: {error}");
                    return (StatusCode::SERVICE_UNAVAILABLE, one_line(&reason));
                }
                // No answer in time: while the store's own calls succeed, the node is busy (its
                // connections all at work), not cut off; taking it out would shift its load onto
                // the others. Once a call finds the database unreachable, the node is not ready.
                Err(_) => {
                    if let Some(cause) = store.unavailable() {
                        let reason = format!("store unavailable: {cause}");
                        return (StatusCode::SERVICE_UNAVAILABLE, one_line(&reason));
                    }
                }
            }
        }
        // The admin server starts once the deployment is applied and its listeners bound, so
        // a node answering here runs one. A later change that was refused leaves the previous
        // version running: still ready (taking every node out over one bad edit of files that
        // are copied to all of them would stop the whole cluster), but said.
        match topology.deploy_error() {
            Some(_) => (
                StatusCode::OK,
                "ready; the last change of the deployment was refused and the previous one runs"
                    .into(),
            ),
            None => (StatusCode::OK, "ready".into()),
        }
    }
}

/// While the store's database is unreachable, asks it again every few seconds: the store logs
/// its return, and the node is ready again without a restart, whether or not traffic comes.
pub fn watch_store(store: Store) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            if store.unavailable().is_some() {
                let _ = tokio::time::timeout(PROBE_EVERY, store.ping()).await;
            }
        }
    });
}

/// A reason fit for one line of a response (a database's message may hold line breaks).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
