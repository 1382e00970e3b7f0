//! `GET /api/nodes`: the nodes sharing this store, each with its deployment's fingerprint and
//! the files in which it differs from this node's.

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{error, json, Admin, Answer};
use crate::cluster::fingerprint;

/// A node as the API lists it (and `berth cluster status` reads it).
#[derive(Debug, Serialize, Deserialize)]
pub struct NodeView {
    pub name: String,
    pub address: String,
    pub version: String,
    /// One hash of all its deployment files.
    pub fingerprint: String,
    /// Its files whose hash differs from this node's (or that only one of the two has).
    pub differs: Vec<String>,
    /// RFC 3339.
    pub started: String,
    pub last_heartbeat: String,
    pub heartbeat_age_seconds: f64,
    /// `live`, `stopped` (cleanly), or `dead` (no heartbeat within the timeout).
    pub state: String,
    /// The node answering.
    pub this_node: bool,
    /// (listener, state).
    pub listeners: Vec<(String, String)>,
}

/// The answer of `GET /api/nodes`.
#[derive(Debug, Serialize, Deserialize)]
pub struct NodesView {
    pub this_node: String,
    pub heartbeat_seconds: u64,
    pub timeout_seconds: u64,
    pub nodes: Vec<NodeView>,
}

pub async fn list(admin: &Admin) -> Answer {
    let Some(node) = admin.cluster() else {
        return error(
            StatusCode::NOT_FOUND,
            "no nodes: the message store is off, so this berth is in no cluster",
        );
    };
    let nodes = match node.nodes().await {
        Ok(nodes) => nodes,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("cannot read the nodes: {e}"),
            )
        }
    };
    let me = node.info();
    let views = nodes
        .into_iter()
        .map(|n| NodeView {
            fingerprint: fingerprint::summary(&n.info.files),
            differs: fingerprint::differing(&me.files, &n.info.files),
            started: time(n.started),
            last_heartbeat: time(n.last_heartbeat),
            heartbeat_age_seconds: n.heartbeat_age as f64 / 1000.0,
            state: if n.live {
                "live"
            } else if n.stopped {
                "stopped"
            } else {
                "dead"
            }
            .to_string(),
            this_node: n.info.name == me.name && n.info.instance == me.instance,
            name: n.info.name,
            address: n.info.address,
            version: n.info.version,
            listeners: n.info.listeners,
        })
        .collect();
    json(
        StatusCode::OK,
        &NodesView {
            this_node: me.name,
            heartbeat_seconds: node.heartbeat.as_secs(),
            timeout_seconds: node.timeout.as_secs(),
            nodes: views,
        },
    )
}

fn time(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|t| t.to_string())
        .unwrap_or_default()
}
