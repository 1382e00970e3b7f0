//! The running deployment: which listeners exist, which ports they hold, and in which state.
//!
//! Every change goes through [`Topology::apply`]: the first start, a restart an operator asks
//! for, and a redeploy after a file changed. It compares the new plan with what runs, group by
//! group (a group is one connection, or one shared-server connector): an unchanged group keeps
//! running untouched; a changed one gets its new version swapped in without closing its port
//! (requests in flight finish on the old version), and is rebound only when its endpoints
//! changed; a removed one is closed. Listener states live in the [`StatusBoard`] and outlive
//! all of this, so a paused listener stays paused.

mod apply;
mod exchanged;
mod fingerprint;
mod partners;
#[cfg(test)]
mod tests;
mod urls;
mod view;
pub mod watch;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub use partners::PartnerPair;
pub use view::ListenerView;

use crate::deploy::Plan;
use crate::intake::Intake;
use crate::server::{Binding, MountSlot, Router, Server};
use crate::settings::HostSettings;
use crate::status::{ListenerStatus, StatusBoard};

/// `(connection name or "", connector kind)`.
type GroupKey = (String, String);

/// One running listener group.
struct Group {
    fingerprint: u64,
    slot: Arc<MountSlot>,
    endpoints: Vec<crate::server::Endpoint>,
    bindings: Vec<Binding>,
    shared_prefixes: Vec<String>,
    processes: Vec<String>,
    /// What partners send to, per process.
    partner_urls: urls::PartnerUrls,
    connection: Option<String>,
    kind: String,
    /// Why the group's ports are not bound.
    error: Option<String>,
}

#[derive(Default)]
struct Running {
    groups: BTreeMap<GroupKey, Group>,
    shared: Option<SharedRunning>,
}

struct SharedRunning {
    router: Arc<Router>,
    bindings: Vec<Binding>,
    error: Option<String>,
}

pub struct Topology {
    dir: PathBuf,
    settings: HostSettings,
    server: Server,
    status: Arc<StatusBoard>,
    running: tokio::sync::Mutex<Running>,
    /// The last deployment that could not be applied, and when.
    deploy_error: Mutex<Option<(String, SystemTime)>>,
    started: SystemTime,
    /// Told about the certificates of each applied deployment (expiry gauge and warnings).
    certificates: std::sync::OnceLock<Arc<crate::run::certs::CertificateWatch>>,
    /// The processes of the deployment in force, for the partners view.
    deployed: Mutex<Vec<Arc<berth_process::ProcessDef>>>,
}

/// Why an operator's request was refused.
#[derive(Debug)]
pub enum ControlError {
    NotFound(String),
    Conflict(String),
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlError::NotFound(m) | ControlError::Conflict(m) => f.write_str(m),
        }
    }
}

impl Topology {
    pub fn new(dir: PathBuf, settings: HostSettings, intake: Intake) -> Arc<Topology> {
        let status = Arc::clone(intake.status());
        let spool_dir = dir.join(&settings.store.data_dir).join("spool");
        let server = Server::new(&settings, intake, spool_dir);
        Arc::new(Topology {
            dir,
            settings,
            server,
            status,
            running: tokio::sync::Mutex::new(Running::default()),
            deploy_error: Mutex::new(None),
            started: SystemTime::now(),
            certificates: std::sync::OnceLock::new(),
            deployed: Mutex::new(Vec::new()),
        })
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub fn started(&self) -> SystemTime {
        self.started
    }

    pub fn deploy_error(&self) -> Option<(String, SystemTime)> {
        self.deploy_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Load the deployment from disk again and apply it. On problems the running version stays
    /// as it is, and the problems are logged and kept for the admin API.
    pub async fn redeploy(&self, restart: Option<&str>) -> Result<(), String> {
        let dir = self.dir.clone();
        let checked = tokio::task::spawn_blocking(move || crate::deploy::check_deployment(&dir))
            .await
            .map_err(|e| format!("loading the deployment did not finish: {e}"))?;
        match checked {
            Ok((_, plan)) => {
                let restart_group = match restart {
                    Some(name) => Some(
                        self.group_of(name)
                            .await
                            .ok_or_else(|| format!("no listener `{name}` is deployed"))?,
                    ),
                    None => None,
                };
                *self.deploy_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                self.apply(plan, restart_group).await;
                Ok(())
            }
            Err(diagnostics) => {
                let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
                for line in &lines {
                    tracing::error!("deployment not applied: {line}");
                }
                let text = lines.join("\n");
                *self.deploy_error.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((text.clone(), SystemTime::now()));
                Err(text)
            }
        }
    }

    async fn group_of(&self, process: &str) -> Option<GroupKey> {
        let running = self.running.lock().await;
        running
            .groups
            .iter()
            .find(|(_, g)| g.processes.iter().any(|p| p == process))
            .map(|(key, _)| key.clone())
    }

    /// Report the certificates of every deployment applied from now on to `watch`.
    pub fn watch_certificates(&self, watch: Arc<crate::run::certs::CertificateWatch>) {
        let _ = self.certificates.set(watch);
    }

    /// Apply a checked plan; `restart` forces that group to be reopened and rebound.
    pub async fn apply(&self, plan: Plan, restart: Option<GroupKey>) {
        if let Some(watch) = self.certificates.get() {
            watch.update(&plan.certificates);
        }
        partners::remember(self, &plan);
        let mut running = self.running.lock().await;
        apply::apply(self, &mut running, plan, restart).await;
        // A listener opened now starts with the certificates partners exchanged so far.
        let certificates = self.server.shared.intake.exchanged().current();
        exchanged::hand_over(&running, &certificates).await;
    }

    /// Hands every running listener the exchanged certificates whenever they change (see
    /// `crate::exchange`), for as long as berth runs.
    pub fn follow_exchanged_certificates(self: &Arc<Self>) {
        let topology = Arc::clone(self);
        let mut changes = self.server.shared.intake.exchanged().subscribe();
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let certificates = Arc::clone(&changes.borrow_and_update());
                let running = topology.running.lock().await;
                exchanged::hand_over(&running, &certificates).await;
            }
        });
    }

    /// How many endpoints are bound, and how many could not be.
    pub async fn bound(&self) -> (usize, usize) {
        let running = self.running.lock().await;
        let groups = running.groups.values();
        let bound = groups.clone().map(|g| g.bindings.len()).sum::<usize>()
            + running.shared.as_ref().map_or(0, |s| s.bindings.len());
        let failed = groups.filter(|g| g.error.is_some()).count()
            + running
                .shared
                .as_ref()
                .map_or(0, |s| usize::from(s.error.is_some()));
        (bound, failed)
    }

    pub fn pause(&self, name: &str) -> Result<(), ControlError> {
        let status = self.known(name)?;
        status.pause().map_err(ControlError::Conflict)?;
        tracing::info!(
            listener = name,
            "paused: partners get 503 until it is resumed"
        );
        Ok(())
    }

    pub fn resume(&self, name: &str) -> Result<(), ControlError> {
        let status = self.known(name)?;
        status.resume().map_err(ControlError::Conflict)?;
        tracing::info!(listener = name, "resumed");
        Ok(())
    }

    /// Reload the listener's process from disk, reopen and rebind it.
    pub async fn restart(&self, name: &str) -> Result<(), ControlError> {
        self.known(name)?;
        tracing::info!(listener = name, "restarting");
        self.redeploy(Some(name))
            .await
            .map_err(ControlError::Conflict)
    }

    fn known(&self, name: &str) -> Result<Arc<ListenerStatus>, ControlError> {
        self.status
            .get(name)
            .ok_or_else(|| ControlError::NotFound(format!("no listener `{name}` is deployed")))
    }

    /// Stop accepting everywhere, then let requests in flight finish.
    pub async fn shutdown(&self, grace: Duration) {
        let mut running = self.running.lock().await;
        for (_, group) in std::mem::take(&mut running.groups) {
            for binding in group.bindings {
                binding.close().await;
            }
        }
        if let Some(shared) = running.shared.take() {
            for binding in shared.bindings {
                binding.close().await;
            }
        }
        self.server.drain(grace).await;
    }
}
