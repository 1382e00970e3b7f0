//! Listener controls across the cluster: a pause, resume or restart made through one node's
//! admin API is applied there at once, recorded in the store and announced (PostgreSQL's
//! `LISTEN/NOTIFY`); every other node applies it when woken, or at its next poll when a
//! notification was lost with the connection. A node that starts takes the pauses in force.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_store::{ControlCommand, Store};

use super::ClusterNode;
use crate::topology::Topology;

/// Tells the other nodes about a control applied on this one. A failure leaves it applied
/// here only, and says so.
pub async fn publish(store: Option<&Store>, listener: &str, action: &str) {
    let Some(store) = store else { return };
    if let Err(error) = store.cluster().publish(listener, action).await {
        tracing::warn!(
            listener,
            action,
            %error,
            "applied on this node only: cannot tell the other nodes"
        );
    }
}

/// Applies the pauses in force, then follows the controls other nodes make.
pub(super) async fn start(node: Arc<ClusterNode>, topology: Arc<Topology>) {
    let mut last = 0;
    match node.store().cluster().controls_after(0).await {
        Ok(controls) => {
            last = controls.last().map_or(0, |c| c.id);
            for (listener, action) in in_force(&controls) {
                if action == "pause" && topology.pause(&listener).is_ok() {
                    tracing::info!(listener = %listener, "paused, as the cluster's listener is");
                }
            }
        }
        Err(error) => tracing::warn!(%error, "cannot read the cluster's listener controls"),
    }
    tokio::spawn(follow(node, topology, last));
}

/// The last pause or resume of each listener.
fn in_force(controls: &[ControlCommand]) -> BTreeMap<String, String> {
    controls
        .iter()
        .filter(|c| c.action == "pause" || c.action == "resume")
        .map(|c| (c.listener.clone(), c.action.clone()))
        .collect()
}

async fn follow(node: Arc<ClusterNode>, topology: Arc<Topology>, mut last: i64) {
    let Some(wake) = node.store().cluster().wakeups() else {
        return; // alone: nobody else makes controls
    };
    let me = node.name();
    loop {
        // Woken by a notification; the poll catches one lost while the database was away.
        let _ = tokio::time::timeout(node.heartbeat, wake.notified()).await;
        let controls = match node.store().cluster().controls_after(last).await {
            Ok(controls) => controls,
            Err(_) => continue, // the heartbeat reports the database's absence
        };
        for control in controls {
            last = control.id;
            if control.origin != me {
                apply(&topology, &control).await;
            }
        }
    }
}

async fn apply(topology: &Topology, control: &ControlCommand) {
    let name = control.listener.as_str();
    tracing::info!(
        listener = name,
        action = %control.action,
        node = %control.origin,
        "applying a listener control made on another node"
    );
    let result = match control.action.as_str() {
        "pause" => topology.pause(name),
        "resume" => topology.resume(name),
        "restart" => topology.restart(name).await,
        other => {
            tracing::warn!(action = other, "unknown listener control ignored");
            return;
        }
    };
    if let Err(error) = result {
        // Already in that state, or not deployed on this node (a deployment that differs).
        tracing::info!(listener = name, %error, "listener control not applied here");
    }
}
