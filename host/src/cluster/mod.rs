//! This node among the nodes that share a store: it registers under `cluster.node`, sends a
//! heartbeat with its deployment's fingerprint and listener states, warns when its deployment
//! differs from the other live nodes', takes over the unfinished documents of nodes that
//! stopped sending heartbeats, and applies the listener controls made on other nodes (see
//! `control.rs`). On the embedded store the node is alone, and all of this is about itself.

mod control;
pub mod fingerprint;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use berth_store::{Node, NodeInfo, Registration, Store, StoreError};

use crate::intake::Intake;
use crate::settings::HostSettings;
use crate::topology::Topology;
use fingerprint::Fingerprint;

pub use control::publish;

/// This node: what it tells the others, and how it judges them.
pub struct ClusterNode {
    store: Store,
    info: Mutex<NodeInfo>,
    fingerprint: Arc<Fingerprint>,
    pub heartbeat: Duration,
    pub timeout: Duration,
}

impl ClusterNode {
    /// Registers this node. A name that a live node of another process holds stops the start,
    /// since two nodes of one name would each run the other's documents again.
    pub async fn join(
        store: Store,
        settings: &HostSettings,
        dir: &std::path::Path,
        certificates: Vec<String>,
    ) -> anyhow::Result<Arc<ClusterNode>> {
        let cluster = &settings.cluster;
        let name = cluster.node_name();
        let address = cluster.address.clone().unwrap_or_else(|| {
            format!(
                "{}:{}",
                crate::server::bracket(&settings.admin.address),
                settings.admin.port
            )
        });
        let fingerprint = Fingerprint::new(dir, certificates);
        let files = fingerprint.files();
        let info = NodeInfo {
            name: name.clone(),
            instance: instance(),
            address,
            version: env!("CARGO_PKG_VERSION").to_string(),
            files,
            listeners: Vec::new(),
        };
        let timeout = Duration::from_secs(cluster.timeout_seconds);
        match store.cluster().register(&info, timeout).await {
            Ok(Registration::Registered) => {}
            Ok(Registration::Taken {
                address,
                heartbeat_age,
            }) => bail!(
                "cluster.node: the node name `{name}` is in use by a live node at {address} \
                 (its last heartbeat {:.1} seconds ago); give this node another name, or wait \
                 {} seconds after that node stopped",
                heartbeat_age as f64 / 1000.0,
                cluster.timeout_seconds
            ),
            Err(error) => {
                bail!("cluster.node: cannot register node `{name}` in the store: {error}")
            }
        }
        tracing::info!(node = %name, address = %info.address, "registered in the cluster");
        Ok(Arc::new(ClusterNode {
            store,
            info: Mutex::new(info),
            fingerprint: Arc::new(fingerprint),
            heartbeat: Duration::from_secs(cluster.heartbeat_seconds),
            timeout,
        }))
    }

    pub fn name(&self) -> String {
        self.info().name
    }

    pub fn info(&self) -> NodeInfo {
        self.info.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Every registered node, live or not.
    pub async fn nodes(&self) -> Result<Vec<Node>, StoreError> {
        self.store.cluster().nodes(self.timeout).await
    }

    /// Starts the heartbeat (with the take-over of dead nodes) and the follower of other
    /// nodes' listener controls.
    pub async fn start(self: &Arc<Self>, topology: Arc<Topology>, intake: Intake) {
        control::start(Arc::clone(self), Arc::clone(&topology)).await;
        let node = Arc::clone(self);
        tokio::spawn(async move { node.beat(topology, intake).await });
    }

    /// Marks this node stopped, so that what it leaves unfinished is taken over at once.
    pub async fn leave(&self) {
        if let Err(error) = self.store.cluster().leave().await {
            tracing::warn!(%error, "cannot tell the cluster that this node stops");
        }
    }

    async fn beat(&self, topology: Arc<Topology>, intake: Intake) {
        let mut health = Health::default();
        let mut differing: Vec<(String, Vec<String>)> = Vec::new();
        // Since when this node's heartbeats have been recorded without a gap. Other nodes'
        // old heartbeats prove them dead only once this node has itself reached the database
        // for a whole timeout: after an outage that hid the database from every node, their
        // heartbeats are as old as this node's, and they resume within one interval.
        let mut reachable_since = Instant::now();
        loop {
            tokio::time::sleep(self.heartbeat).await;
            let listeners = topology
                .listeners()
                .await
                .into_iter()
                .map(|l| (l.name, l.state))
                .collect();
            let fingerprint = Arc::clone(&self.fingerprint);
            let Ok(files) = tokio::task::spawn_blocking(move || fingerprint.files()).await else {
                continue;
            };
            let info = {
                let mut info = self.info.lock().unwrap_or_else(|p| p.into_inner());
                info.listeners = listeners;
                info.files = files;
                info.clone()
            };
            match self.store.cluster().heartbeat(&info).await {
                Ok(true) => health.ok(),
                Ok(false) => health.failed(
                    Failure::Replaced,
                    &format!(
                        "another process now runs as node `{}` (this node's heartbeats were \
                         late past cluster.timeout_seconds); documents may run twice",
                        info.name
                    ),
                ),
                Err(error) => {
                    health.failed(
                        Failure::Unreachable,
                        &format!("cannot send this node's heartbeat: {error}"),
                    );
                    reachable_since = Instant::now();
                    continue;
                }
            }
            if let Ok(nodes) = self.nodes().await {
                differing = warn_differences(&info, &nodes, differing);
            }
            if reachable_since.elapsed() >= self.timeout {
                self.take_over(&intake).await;
            }
        }
    }

    /// Claims the unfinished documents of dead nodes and runs them again, beside this node's
    /// own traffic (the heartbeat goes on meanwhile).
    async fn take_over(&self, intake: &Intake) {
        let taken = match self.store.cluster().take_over(self.timeout).await {
            Ok(taken) => taken,
            Err(error) => {
                tracing::warn!(%error, "cannot look for the documents of stopped nodes");
                return;
            }
        };
        for group in taken {
            tracing::warn!(
                from = %group.from,
                documents = group.documents.len(),
                "taking over the unfinished documents of a node that stopped sending heartbeats"
            );
            let intake = intake.clone();
            tokio::spawn(async move { intake.run_again(group.documents).await });
        }
    }
}

/// Why heartbeats fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Unreachable,
    Replaced,
}

/// The heartbeat's state, so that a failure is logged once when it starts (whatever the
/// database's error says each time), not every beat.
#[derive(Default)]
struct Health {
    failing: Option<Failure>,
}

impl Health {
    fn ok(&mut self) {
        if self.failing.take().is_some() {
            tracing::info!("heartbeats are recorded again");
        }
    }

    fn failed(&mut self, failure: Failure, message: &str) {
        if self.failing != Some(failure) {
            tracing::error!("{message}");
            self.failing = Some(failure);
        }
    }
}

/// Logs, when it changes, which of this node's deployment files differ from each other live
/// node's. Returns what differs now.
fn warn_differences(
    me: &NodeInfo,
    nodes: &[Node],
    before: Vec<(String, Vec<String>)>,
) -> Vec<(String, Vec<String>)> {
    let now: Vec<(String, Vec<String>)> = nodes
        .iter()
        .filter(|n| n.live && n.info.name != me.name)
        .map(|n| {
            (
                n.info.name.clone(),
                fingerprint::differing(&me.files, &n.info.files),
            )
        })
        .filter(|(_, files)| !files.is_empty())
        .collect();
    for (node, files) in &now {
        if !before.contains(&(node.clone(), files.clone())) {
            tracing::warn!(
                other = %node,
                files = %files.join(", "),
                "this node's deployment differs from another live node's"
            );
        }
    }
    if now.is_empty() && !before.is_empty() {
        tracing::info!("this node's deployment is the same as every other live node's again");
    }
    now
}

/// This process among all that ever ran under the node's name.
fn instance() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos:x}",
        crate::server::host_name(),
        std::process::id()
    )
}
