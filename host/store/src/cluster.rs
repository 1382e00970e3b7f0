//! The nodes of a cluster, as the store sees them: who is alive (registration and heartbeats),
//! who owns which unfinished document, and the listener controls every node applies.
//!
//! Every node of a cluster opens the same PostgreSQL store; the store is the only thing they
//! share, so it is also where they find each other. A node registers under its name
//! (`cluster.node`), then sends a heartbeat every few seconds; a node whose heartbeat is older
//! than the timeout is dead, and a live node claims its unfinished documents (`take_over`).
//! Liveness is judged by the database's clock, never by comparing the nodes' clocks, which may
//! differ by more than the timeout.
//!
//! The embedded SQLite store is one process by construction (the data dir's lock): its cluster
//! is that one node, kept in memory, listed as itself, with nobody to take over from and no one
//! else to tell about a listener control.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::BoxFuture;
use crate::error::StoreError;
use crate::types::StoredDocument;

/// What a node says about itself when it registers and with each heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// `cluster.node`: unique among the live nodes.
    pub name: String,
    /// This process's own id, so that a node tells its own row from another process that
    /// claims the same name.
    pub instance: String,
    /// Where operators reach this node (its admin API).
    pub address: String,
    pub version: String,
    /// The deployment's files as (path relative to the deployment folder, hash), sorted by
    /// path.
    pub files: Vec<(String, String)>,
    /// (listener, state), as the admin API lists them.
    pub listeners: Vec<(String, String)>,
}

/// A node as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub info: NodeInfo,
    /// Unix milliseconds (the database's clock).
    pub started: i64,
    pub last_heartbeat: i64,
    /// Milliseconds since the last heartbeat, by the database's clock.
    pub heartbeat_age: i64,
    /// Heartbeat younger than the timeout and not stopped.
    pub live: bool,
    /// Stopped cleanly (`leave`).
    pub stopped: bool,
}

/// The outcome of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    Registered,
    /// Another process runs under this name: its heartbeat is fresh.
    Taken {
        address: String,
        heartbeat_age: i64,
    },
}

/// Documents claimed from a dead node.
#[derive(Debug, Clone)]
pub struct TakenOver {
    pub from: String,
    pub documents: Vec<StoredDocument>,
}

/// A listener control made on one node, for every node to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlCommand {
    /// Increasing: a node applies the commands after the last one it saw.
    pub id: i64,
    pub listener: String,
    /// `pause`, `resume` or `restart`.
    pub action: String,
    /// The node it was made on (which applied it already).
    pub origin: String,
}

/// The cluster side of a store.
pub trait Cluster: Send + Sync {
    /// Registers this node, or finds its name taken by a live node of another instance. A node
    /// registered here owns the documents it receives from now on.
    fn register<'a>(
        &'a self,
        node: &'a NodeInfo,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Registration, StoreError>>;

    /// Records a heartbeat with the node's current files and listener states. Returns false
    /// when the node's row now belongs to another instance (it was declared dead and its name
    /// reused).
    fn heartbeat<'a>(&'a self, node: &'a NodeInfo) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Marks this node stopped, so that others take over at once what it left unfinished and
    /// its name may be used again.
    fn leave(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Every node that has registered, by name; `live` judged with `timeout`.
    fn nodes(&self, timeout: Duration) -> BoxFuture<'_, Result<Vec<Node>, StoreError>>;

    /// Claims the unfinished documents of the nodes whose heartbeat is older than `timeout`
    /// (or that stopped): each document's owner becomes this node in the transaction that
    /// finds it, rows another node is claiming at the same moment are skipped, so that every
    /// document goes to one node. The caller runs them again.
    fn take_over(&self, timeout: Duration) -> BoxFuture<'_, Result<Vec<TakenOver>, StoreError>>;

    /// Records a listener control for the other nodes and wakes them.
    fn publish<'a>(
        &'a self,
        listener: &'a str,
        action: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The controls recorded after `after` (all of them with 0), oldest first.
    fn controls_after(&self, after: i64) -> BoxFuture<'_, Result<Vec<ControlCommand>, StoreError>>;

    /// Notified when another node publishes a control (None when there are no other nodes);
    /// a notification may be missed while the database is away, so callers also poll.
    fn wakeups(&self) -> Option<Arc<tokio::sync::Notify>>;
}
