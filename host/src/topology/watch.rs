//! Live deploy: the deployment folder is looked at every two seconds; when a process,
//! connection or plugin file was added, changed or removed, the deployment is applied again.
//! Polling (rather than inotify) works the same on every filesystem, network mounts included,
//! and two seconds is well inside what operators expect of a deploy.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Topology;

const EVERY: Duration = Duration::from_secs(2);

/// Names, sizes and modification times of everything a deployment is made of.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut entries = Vec::new();
    for folder in ["processes", "connections", "plugins"] {
        let Ok(read) = std::fs::read_dir(dir.join(folder)) else {
            continue;
        };
        for entry in read.flatten() {
            if let Ok(meta) = entry.metadata() {
                entries.push((entry.path(), meta.len(), meta.modified().ok()));
            }
        }
    }
    entries.sort();
    entries
}

pub fn start(topology: Arc<Topology>) {
    tokio::spawn(async move {
        let dir = topology.dir().to_path_buf();
        let mut last = snapshot(&dir);
        let berth_yaml = |dir: &Path| {
            std::fs::metadata(dir.join("berth.yaml"))
                .and_then(|m| m.modified())
                .ok()
        };
        let mut last_settings = berth_yaml(&dir);
        loop {
            tokio::time::sleep(EVERY).await;
            let now = {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || snapshot(&dir))
                    .await
                    .unwrap_or_default()
            };
            if berth_yaml(&dir) != last_settings {
                last_settings = berth_yaml(&dir);
                tracing::warn!(
                    "berth.yaml changed: host settings apply at the next start of berth"
                );
            }
            if now == last {
                continue;
            }
            last = now;
            tracing::info!("the deployment folder changed; applying it");
            // Problems are logged and kept for the admin API by `redeploy`.
            let _ = topology.redeploy(None).await;
        }
    });
}
