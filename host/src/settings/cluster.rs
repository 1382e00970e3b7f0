//! `cluster`: this node's name among the nodes that share one PostgreSQL store, and how often
//! nodes tell each other they are alive.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// Unique among the live nodes; the host name when not given (one node per machine).
    #[serde(default)]
    pub node: Option<String>,
    /// Where operators reach this node, as `berth cluster status` lists it; the admin API's
    /// address and port when not given.
    #[serde(default)]
    pub address: Option<String>,
    /// Seconds between heartbeats. 5: one small write per node every few seconds is nothing to
    /// the database, and a dead node is noticed soon after the timeout.
    #[serde(default = "heartbeat")]
    pub heartbeat_seconds: u64,
    /// A node whose last heartbeat is older than this is dead, and a live node takes over its
    /// unfinished documents. 30: six missed heartbeats, far longer than a pause of a live node
    /// (a slow disk, a database failover, a stalled checkpoint), since declaring a live node
    /// dead would let two nodes run the same document; short enough that documents of a dead
    /// node resume within a minute. Also how long a restarted node waits for its own name.
    #[serde(default = "timeout")]
    pub timeout_seconds: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            node: None,
            address: None,
            heartbeat_seconds: heartbeat(),
            timeout_seconds: timeout(),
        }
    }
}

impl ClusterSettings {
    /// This node's name: `cluster.node`, or the host name.
    pub fn node_name(&self) -> String {
        self.node
            .clone()
            .unwrap_or_else(|| crate::server::host_name().to_string())
    }

    /// The first problem of the settings, as (JSON pointer, message).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.node.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Some(("/cluster/node", "must not be empty".into()));
        }
        if self.heartbeat_seconds == 0 {
            return Some((
                "/cluster/heartbeat_seconds",
                "must be at least 1 second".into(),
            ));
        }
        // Fewer than three heartbeats per timeout and one late heartbeat would make a live
        // node look dead.
        if self.timeout_seconds < 3 * self.heartbeat_seconds {
            return Some((
                "/cluster/timeout_seconds",
                format!(
                    "must be at least three heartbeats ({} seconds)",
                    3 * self.heartbeat_seconds
                ),
            ));
        }
        None
    }
}

fn heartbeat() -> u64 {
    5
}
fn timeout() -> u64 {
    30
}

#[cfg(test)]
mod tests {
    use crate::settings::load;

    fn settings(yaml: &str) -> Result<super::ClusterSettings, berth_process::Diagnostic> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("berth.yaml"), yaml).unwrap();
        load(dir.path()).map(|s| s.cluster)
    }

    #[test]
    fn the_node_defaults_to_the_host_name() {
        let cluster = settings("").unwrap();
        assert_eq!(cluster.node_name(), crate::server::host_name());
        assert_eq!(
            (cluster.heartbeat_seconds, cluster.timeout_seconds),
            (5, 30)
        );
        let cluster = settings("cluster:\n  node: berth-a\n").unwrap();
        assert_eq!(cluster.node_name(), "berth-a");
    }

    #[test]
    fn a_timeout_shorter_than_three_heartbeats_is_refused_at_its_line() {
        let d = settings("cluster:\n  heartbeat_seconds: 5\n  timeout_seconds: 10\n").unwrap_err();
        assert_eq!(
            (d.field.as_str(), d.line),
            ("cluster.timeout_seconds", Some(3)),
            "{d}"
        );
        let d = settings("cluster:\n  node: \"\"\n").unwrap_err();
        assert_eq!(d.field, "cluster.node", "{d}");
    }
}
