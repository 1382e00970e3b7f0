//! The embedded store's cluster: the one node that holds the data dir's lock. Nothing to share
//! with another process, so its registration is kept in memory: it lists itself, has no one to
//! take over from, and applies listener controls alone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::backend::BoxFuture;
use crate::clock::now_millis;
use crate::cluster::{Cluster, ControlCommand, Node, NodeInfo, Registration, TakenOver};
use crate::error::StoreError;

/// This process's node, once registered.
#[derive(Default)]
pub(crate) struct LoneNode {
    node: Mutex<Option<Node>>,
}

impl LoneNode {
    fn with<T>(&self, f: impl FnOnce(&mut Option<Node>) -> T) -> T {
        f(&mut self.node.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Cluster for LoneNode {
    fn register<'a>(
        &'a self,
        node: &'a NodeInfo,
        _timeout: Duration,
    ) -> BoxFuture<'a, Result<Registration, StoreError>> {
        let now = now_millis();
        self.with(|slot| {
            *slot = Some(Node {
                info: node.clone(),
                started: now,
                last_heartbeat: now,
                heartbeat_age: 0,
                live: true,
                stopped: false,
            })
        });
        Box::pin(async { Ok(Registration::Registered) })
    }

    fn heartbeat<'a>(&'a self, node: &'a NodeInfo) -> BoxFuture<'a, Result<bool, StoreError>> {
        let now = now_millis();
        let mine = self.with(|slot| match slot {
            Some(known) if known.info.instance == node.instance => {
                known.info = node.clone();
                known.last_heartbeat = now;
                known.stopped = false;
                true
            }
            _ => false,
        });
        Box::pin(async move { Ok(mine) })
    }

    fn leave(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(|slot| {
            if let Some(node) = slot {
                node.stopped = true;
            }
        });
        Box::pin(async { Ok(()) })
    }

    fn nodes(&self, timeout: Duration) -> BoxFuture<'_, Result<Vec<Node>, StoreError>> {
        let now = now_millis();
        let timeout = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let nodes = self.with(|slot| {
            slot.iter()
                .cloned()
                .map(|mut node| {
                    node.heartbeat_age = now.saturating_sub(node.last_heartbeat);
                    node.live = !node.stopped && node.heartbeat_age < timeout;
                    node
                })
                .collect()
        });
        Box::pin(async move { Ok(nodes) })
    }

    fn take_over(&self, _timeout: Duration) -> BoxFuture<'_, Result<Vec<TakenOver>, StoreError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn publish<'a>(
        &'a self,
        _listener: &'a str,
        _action: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        // The control was applied on this node, the only one.
        Box::pin(async { Ok(()) })
    }

    fn controls_after(
        &self,
        _after: i64,
    ) -> BoxFuture<'_, Result<Vec<ControlCommand>, StoreError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn wakeups(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }
}
