//! `berth cluster status`: the nodes sharing the running berth's store, as its admin API lists
//! them.

use std::path::Path;
use std::process::ExitCode;

use crate::admin::NodesView;

pub fn status(dir: &Path) -> anyhow::Result<ExitCode> {
    let body = super::control::call(dir, reqwest::Method::GET, "/api/nodes")?;
    let view: NodesView = serde_json::from_value(body)?;
    print!("{}", table(&view));
    Ok(ExitCode::SUCCESS)
}

fn table(view: &NodesView) -> String {
    let mut out = format!(
        "{:<20} {:<24} {:<10} {:<8} {:<17} {:>10}  {}\n",
        "NODE", "ADDRESS", "VERSION", "STATE", "FINGERPRINT", "HEARTBEAT", "LISTENERS"
    );
    for node in &view.nodes {
        let name = if node.this_node {
            format!("{} *", node.name)
        } else {
            node.name.clone()
        };
        let listeners: Vec<String> = node
            .listeners
            .iter()
            .map(|(name, state)| format!("{name}={state}"))
            .collect();
        out.push_str(&format!(
            "{:<20} {:<24} {:<10} {:<8} {:<17} {:>9.1}s  {}\n",
            name,
            node.address,
            node.version,
            node.state,
            node.fingerprint,
            node.heartbeat_age_seconds,
            listeners.join(" ")
        ));
        if !node.differs.is_empty() {
            out.push_str(&format!(
                "{:<20} deployment differs from this node's: {}\n",
                "",
                node.differs.join(", ")
            ));
        }
    }
    let count = view.nodes.len();
    out.push_str(&format!(
        "{count} node{}; * answered; heartbeat every {}s, dead after {}s\n",
        if count == 1 { "" } else { "s" },
        view.heartbeat_seconds,
        view.timeout_seconds
    ));
    out
}
