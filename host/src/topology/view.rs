//! Listeners as operators see them: the admin API's and the CLI's view.

use std::sync::atomic::Ordering;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::Topology;
use crate::documents::format_date;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListenerView {
    /// The process name.
    pub name: String,
    pub connector: String,
    pub connection: Option<String>,
    /// The exact URLs partners send to (scheme, host, port and path).
    pub urls: Vec<String>,
    pub state: String,
    pub error: Option<String>,
    pub error_at: Option<String>,
    pub documents: u64,
    pub errors: u64,
    pub last_error: Option<String>,
}

impl Topology {
    pub async fn listeners(&self) -> Vec<ListenerView> {
        let running = self.running.lock().await;
        let mut views = Vec::new();
        for group in running.groups.values() {
            for name in &group.processes {
                let status = self.status.of(name);
                let error = status.error();
                views.push(ListenerView {
                    name: name.clone(),
                    connector: group.kind.clone(),
                    connection: group.connection.clone(),
                    urls: group.partner_urls.get(name).cloned().unwrap_or_default(),
                    state: status.state().as_str().to_string(),
                    error_at: error.as_ref().map(|(_, at)| {
                        let millis = at
                            .duration_since(UNIX_EPOCH)
                            .map(|d| d.as_millis() as i64)
                            .unwrap_or(0);
                        format_date(millis)
                    }),
                    error: error.map(|(e, _)| e),
                    documents: status.documents.load(Ordering::Relaxed),
                    errors: status.errors.load(Ordering::Relaxed),
                    last_error: status.last_error(),
                });
            }
        }
        views.sort_by(|a, b| a.name.cmp(&b.name));
        views
    }

    pub async fn listener(&self, name: &str) -> Option<ListenerView> {
        self.listeners().await.into_iter().find(|l| l.name == name)
    }
}
