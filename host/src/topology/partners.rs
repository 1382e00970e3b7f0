//! The AS2 partner pairs deployed: which partner (AS2 From) sends to which of our IDs (AS2 To),
//! through which process and URLs, and with which security required.
//!
//! The pairs are read from the operation settings the host already holds as JSON, not asked of
//! the plugins: every AS2 connector names a pair with `as2_from` and `as2_to` (one process, one
//! pair) and its rules with `require_signed` and `require_encrypted`, so a settings shape is
//! all the host needs to know, and no plugin has to grow a call for it.

use std::sync::Arc;

use berth_process::ProcessDef;
use serde::Serialize;
use serde_json::Value;

use super::Topology;
use crate::deploy::Plan;

/// One partner pair as operators see it.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerPair {
    /// The process that receives the pair's messages.
    pub process: String,
    pub connector: String,
    /// The partner's AS2 ID (the AS2-From of its messages).
    pub as2_from: String,
    /// Our AS2 ID for this partner (the AS2-To).
    pub as2_to: String,
    /// Where the partner sends to.
    pub urls: Vec<String>,
    pub require_signed: bool,
    pub require_encrypted: bool,
    /// The listener's state: listening, paused, errored or stopped.
    pub state: String,
}

/// Keeps the processes of a plan being applied, for [`Topology::partners`].
pub(super) fn remember(topology: &Topology, plan: &Plan) {
    let defs: Vec<Arc<ProcessDef>> = plan
        .listeners
        .iter()
        .flat_map(|l| l.processes.iter().cloned())
        .collect();
    *topology.deployed.lock().unwrap_or_else(|p| p.into_inner()) = defs;
}

/// The pair a process's operation settings name, if they name one.
fn pair_of(operation: &Value) -> Option<(String, String, bool, bool)> {
    let text = |name: &str| operation.get(name)?.as_str().map(str::to_string);
    let flag = |name: &str| operation.get(name).and_then(Value::as_bool) == Some(true);
    Some((
        text("as2_from")?,
        text("as2_to")?,
        flag("require_signed"),
        flag("require_encrypted"),
    ))
}

impl Topology {
    /// The deployed AS2 partner pairs, by process name.
    pub async fn partners(&self) -> Vec<PartnerPair> {
        let defs = self
            .deployed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let listeners = self.listeners().await;
        let mut pairs: Vec<PartnerPair> = defs
            .iter()
            .filter_map(|def| {
                let (as2_from, as2_to, require_signed, require_encrypted) =
                    pair_of(&def.start.operation)?;
                let listener = listeners.iter().find(|l| l.name == def.name);
                Some(PartnerPair {
                    process: def.name.clone(),
                    connector: def.start.connector.clone(),
                    as2_from,
                    as2_to,
                    urls: listener.map(|l| l.urls.clone()).unwrap_or_default(),
                    require_signed,
                    require_encrypted,
                    state: listener.map_or_else(|| "stopped".into(), |l| l.state.clone()),
                })
            })
            .collect();
        pairs.sort_by(|a, b| a.process.cmp(&b.process));
        pairs
    }

    /// The certificates and keys of the deployment in force, as the expiry gauge knows them,
    /// and the warning window in days; empty before the first deployment is applied.
    pub fn certificates(&self) -> (Vec<crate::deploy::certs::CertificateRecord>, u32) {
        match self.certificates.get() {
            Some(watch) => (watch.records(), watch.warn_days()),
            None => (Vec::new(), 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_pair_is_read_from_as2_operation_settings_only() {
        let as2 = json!({"as2_from": "ACME", "as2_to": "BERTH", "require_signed": true});
        assert_eq!(
            super::pair_of(&as2),
            Some(("ACME".into(), "BERTH".into(), true, false))
        );
        assert_eq!(super::pair_of(&json!({"path": "/orders"})), None);
        assert_eq!(super::pair_of(&json!({"as2_from": "ACME"})), None);
        assert_eq!(super::pair_of(&json!({"as2_from": 1, "as2_to": "B"})), None);
    }
}
