//! `berth run`: check the deployment, open the store, bind every listener, serve the admin API,
//! watch the folder for changes, and stop gracefully on SIGINT or SIGTERM.

pub mod certs;
mod signal;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use berth_process::Runner;

use crate::cluster::ClusterNode;
use crate::deploy::{check_deployment, deployment_dir, report};
use crate::health::{self, Readiness};
use crate::intake::Intake;
use crate::topology::{watch, Topology};
use crate::{admin, retention};

pub use signal::wait_for_signal;

pub fn run(dir: &Path) -> anyhow::Result<ExitCode> {
    let dir = deployment_dir(dir)?;
    let (settings, plan) = match check_deployment(&dir) {
        Ok(checked) => checked,
        Err(diagnostics) => {
            report(&dir, &diagnostics);
            return Ok(ExitCode::FAILURE);
        }
    };
    tracing::info!(deployment = %dir.display(), listeners = plan.listeners.len(), "starting");
    let store = crate::store::open(&dir, &settings.store)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("berth")
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        if let Some(store) = store.clone() {
            retention::start(store, &settings.store);
        }
        let grace = Duration::from_secs(settings.limits.shutdown_grace_seconds);
        let drain_period = Duration::from_secs(settings.limits.drain_seconds);
        let admin_settings = settings.admin.clone();
        let data_dir = dir.join(&settings.store.data_dir);
        // Registered before any listener binds, so that every document received has its node.
        let node = match &store {
            Some(store) => {
                let files = plan
                    .certificates
                    .iter()
                    .flat_map(|c| std::iter::once(c.file.clone()).chain(c.key_file.clone()))
                    .collect();
                Some(ClusterNode::join(store.clone(), &settings, &dir, files).await?)
            }
            None => None,
        };
        let intake = Intake::new(Runner::new(&dir), store);
        // Claims carry the cluster's name of this node (the host name by default), so that an
        // operator reading the outbox sees which node holds a delivery.
        intake.start_deliveries(&settings.deliveries, &settings.cluster.node_name())?;
        intake
            .metrics()
            .set_plugin_load_failures(plan.refused_plugins as u64);
        let certificates = certs::CertificateWatch::new(
            Arc::clone(intake.metrics()),
            settings.certificates.warn_days,
        );
        if let Some(store) = intake.store() {
            // Listeners open with the certificates partners exchanged before this start.
            if let Err(error) = intake.exchanged().reload(store).await {
                tracing::error!(%error, "cannot read the certificates partners exchanged; they are read again every few seconds");
            }
            intake.exchanged().start_polling(store.clone());
        }
        let topology = Topology::new(dir.clone(), settings, intake.clone());
        topology.watch_certificates(Arc::clone(&certificates));
        topology.apply(plan, None).await;
        topology.follow_exchanged_certificates();
        certificates.start_daily();
        let (bound, failed) = topology.bound().await;
        if bound == 0 && failed > 0 {
            anyhow::bail!("no listener could be bound; see the errors above");
        }
        let readiness = Arc::new(Readiness::default());
        if admin_settings.enabled {
            let admin = admin::Admin::new(
                Arc::clone(&topology),
                intake.clone(),
                Arc::clone(&readiness),
                &data_dir,
            )?;
            if let Some(node) = &node {
                admin.set_cluster(Arc::clone(node));
            }
            admin::start(&admin_settings, admin).await;
        }
        if let Some(store) = intake.store() {
            health::watch_store(store.clone());
        }
        watch::start(Arc::clone(&topology));
        if let Some(node) = &node {
            node.start(Arc::clone(&topology), intake.clone()).await;
        }
        tracing::info!(listeners = bound, "berth is ready");
        // Documents a crash or a kill left unfinished run again now, beside new traffic.
        let recovering = intake.clone();
        tokio::spawn(async move { recovering.recover().await });

        wait_for_signal().await;
        drain(&readiness, drain_period).await;
        tracing::info!("stopping: no new connections; finishing requests in flight");
        topology.shutdown(grace).await;
        intake.stop_deliveries().await;
        if let Some(node) = &node {
            node.leave().await;
        }
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// The first part of a stop: `/ready` turns 503 "draining" at once, and the listeners keep
/// serving for `period` so that a load balancer checking `/ready` stops sending here before
/// they close (closing first would refuse the connections it still sends). Skipped when no
/// load balancer has asked `/ready`; a second signal ends it early.
async fn drain(readiness: &Readiness, period: Duration) {
    let watched = readiness.drain();
    if !watched || period.is_zero() {
        return;
    }
    tracing::info!(
        seconds = period.as_secs(),
        "draining: /ready answers 503; listeners serve on until the load balancer has seen it"
    );
    tokio::select! {
        _ = tokio::time::sleep(period) => {}
        _ = wait_for_signal() => tracing::info!("second signal: draining cut short"),
    }
}
