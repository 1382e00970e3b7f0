//! Binding the ports a deployment needs and serving them until SIGINT or SIGTERM, then a
//! graceful stop: no new connections, requests in flight finish, exit.

mod accept;
mod idle;
mod mount;
mod service;
mod shared_server;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use berth_connector_sdk::abi::EndpointKind;
use berth_process::ProcessDef;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::deploy::Plan;
use crate::outbound::Outbound;
use crate::runtime::Documents;
use crate::settings::HostSettings;
use accept::{accept_loop, Endpoint, Router};
use mount::Mount;

/// What every request handler shares.
pub struct Shared {
    pub documents: Documents,
    pub outbound: Outbound,
    pub body_timeout: Duration,
    pub header_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub connections: Arc<Semaphore>,
}

pub async fn serve(plan: Plan, settings: HostSettings, documents: Documents) -> anyhow::Result<()> {
    let limits = &settings.limits;
    let deployed: HashMap<String, Arc<ProcessDef>> = plan
        .listeners
        .iter()
        .flat_map(|l| l.processes.iter())
        .map(|p| (p.name.clone(), Arc::clone(p)))
        .collect();
    let shared = Arc::new(Shared {
        documents: documents.clone(),
        outbound: Outbound::start(),
        body_timeout: Duration::from_secs(limits.body_read_timeout_seconds),
        header_timeout: Duration::from_secs(limits.header_read_timeout_seconds),
        max_header_bytes: limits.max_header_bytes,
        max_headers: limits.max_headers,
        connections: Arc::new(Semaphore::new(limits.max_connections)),
    });
    let (stop, stopped) = watch::channel(false);
    let mut binder = Binder {
        shared,
        graceful: Arc::new(GracefulShutdown::new()),
        stopped,
        loops: JoinSet::new(),
        expected: 0,
        bound: 0,
    };

    let mut shared_routes: Vec<(String, Arc<Mount>)> = Vec::new();
    for planned in plan.listeners {
        let names: Vec<&str> = planned.processes.iter().map(|p| p.name.as_str()).collect();
        let description = format!("{} for processes {}", planned.label(), names.join(", "));
        let mount = Arc::new(Mount {
            label: planned.label(),
            listener: planned.listener,
            blocking: planned.blocking,
            max_body_bytes: planned
                .endpoints
                .iter()
                .map(|e| e.max_body_bytes)
                .max()
                .unwrap_or(0),
            processes: planned
                .processes
                .iter()
                .map(|p| (p.name.clone(), Arc::clone(p)))
                .collect(),
        });
        for endpoint in &planned.endpoints {
            if endpoint.kind == EndpointKind::SHARED {
                shared_routes.push((endpoint.path_prefix.to_string(), Arc::clone(&mount)));
            } else {
                let router = Arc::new(Router::Single(Arc::clone(&mount)));
                let target = Endpoint::of_plugin(endpoint);
                binder.bind(target, router, &description).await;
            }
        }
    }
    if !shared_routes.is_empty() {
        let server = &settings.shared_server;
        let description = match &server.base_url {
            Some(url) => format!("the shared web server, reached by partners at {url}"),
            None => "the shared web server".to_string(),
        };
        match shared_server::targets(server, &plan.dir, shared_routes) {
            Ok((targets, router)) => {
                for target in targets {
                    binder.bind(target, Arc::clone(&router), &description).await;
                }
            }
            Err(error) => {
                binder.expected += 1;
                tracing::error!(%error, "cannot listen: {description}");
            }
        }
    }

    if binder.expected > 0 && binder.bound == 0 {
        bail!("no listener could be bound; see the errors above");
    }
    if binder.expected == 0 {
        tracing::warn!("no process is deployed: nothing to listen on");
    }
    tracing::info!(listeners = binder.bound, "berth is ready");
    // Documents a crash or a kill left unfinished run again now, beside new traffic.
    tokio::spawn(async move { documents.recover(&deployed).await });

    wait_for_signal().await;
    tracing::info!("stopping: no new connections; finishing requests in flight");
    let _ = stop.send(true);
    binder
        .finish(Duration::from_secs(limits.shutdown_grace_seconds))
        .await
}

/// Binds endpoints and keeps their accept loops.
struct Binder {
    shared: Arc<Shared>,
    // Accept loops hold clones until they stop; connections hold only watchers, so once the
    // loops have ended this is the last reference and the graceful shutdown can begin.
    graceful: Arc<GracefulShutdown>,
    stopped: watch::Receiver<bool>,
    loops: JoinSet<()>,
    expected: usize,
    bound: usize,
}

impl Binder {
    /// Bind one endpoint and start accepting; a failure is logged and leaves the others up.
    async fn bind(&mut self, target: Endpoint, router: Arc<Router>, what: &str) {
        self.expected += 1;
        match bind(&target).await {
            Ok((listener, acceptor)) => {
                self.bound += 1;
                tracing::info!(url = %target.url(), "listening: {what}");
                self.loops.spawn(accept_loop(
                    listener,
                    acceptor,
                    router,
                    Arc::clone(&self.shared),
                    Arc::clone(&self.graceful),
                    self.stopped.clone(),
                ));
            }
            Err(error) => tracing::error!(url = %target.url(), %error, "cannot listen: {what}"),
        }
    }

    /// After the stop signal: wait for the accept loops, then for requests in flight.
    async fn finish(mut self, grace: Duration) -> anyhow::Result<()> {
        while self.loops.join_next().await.is_some() {}
        let Ok(graceful) = Arc::try_unwrap(self.graceful) else {
            bail!("internal error: an accept loop outlived the stop signal");
        };
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                seconds = grace.as_secs(),
                "requests still in flight after the grace period were cut"
            );
        }
        tracing::info!("stopped");
        Ok(())
    }
}

async fn bind(
    target: &Endpoint,
) -> Result<(TcpListener, Option<Arc<openssl::ssl::SslAcceptor>>), String> {
    let acceptor = match &target.tls {
        Some(source) => Some(Arc::new(tls::acceptor(
            source,
            target.client_ca.as_deref(),
        )?)),
        None => None,
    };
    let address: SocketAddr = format!("{}:{}", bracket(&target.address), target.port)
        .parse()
        .map_err(|_| format!("`{}` is not an IP address", target.address))?;
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    Ok((listener, acceptor))
}

fn bracket(address: &str) -> String {
    if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]")
    } else {
        address.to_string()
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch SIGTERM; stop berth with SIGINT");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
