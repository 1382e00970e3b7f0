//! Binding the ports a deployment needs and serving them until SIGINT or SIGTERM, then a
//! graceful stop: no new connections, requests in flight finish, exit.

mod accept;
mod idle;
mod mount;
mod service;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
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
    // Accept loops hold clones until they stop; connections hold only watchers, so once the
    // loops have ended this is the last reference and the graceful shutdown can begin.
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop, stopped) = watch::channel(false);
    let mut loops = JoinSet::new();
    let mut expected = 0usize;
    let mut bound = 0usize;
    let mut shared_routes: Vec<(String, Arc<Mount>)> = Vec::new();

    for planned in plan.listeners {
        let label = planned.label();
        let mount = Arc::new(Mount {
            label: label.clone(),
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
                .collect::<HashMap<_, _>>(),
        });
        let names: Vec<&str> = planned.processes.iter().map(|p| p.name.as_str()).collect();
        for endpoint in planned.endpoints {
            if endpoint.kind == EndpointKind::SHARED {
                shared_routes.push((endpoint.path_prefix.to_string(), Arc::clone(&mount)));
                continue;
            }
            expected += 1;
            let tls = endpoint.tls.as_ref().into_option().map(|t| {
                (
                    t.certificate_file.to_string(),
                    t.private_key_file.to_string(),
                )
            });
            let target = Endpoint {
                address: endpoint.address.to_string(),
                port: endpoint.port,
                tls,
            };
            match bind(&target).await {
                Ok((listener, acceptor)) => {
                    bound += 1;
                    tracing::info!(
                        url = %target.url(),
                        listener = %label,
                        processes = %names.join(", "),
                        "listening"
                    );
                    let router = Arc::new(Router::Single(Arc::clone(&mount)));
                    loops.spawn(accept_loop(
                        listener,
                        acceptor,
                        router,
                        Arc::clone(&shared),
                        Arc::clone(&graceful),
                        stopped.clone(),
                    ));
                }
                Err(error) => tracing::error!(listener = %label, %error, "cannot listen"),
            }
        }
    }

    if !shared_routes.is_empty() {
        let server = &settings.shared_server;
        let router = Arc::new(Router::Prefixes(shared_routes));
        let mut targets = vec![Endpoint {
            address: server.address.clone(),
            port: server.port,
            tls: None,
        }];
        if let Some(tls) = &server.tls {
            targets.push(Endpoint {
                address: server.address.clone(),
                port: tls.port,
                tls: Some((
                    resolve(&plan.dir, &tls.certificate),
                    resolve(&plan.dir, &tls.private_key),
                )),
            });
        }
        for target in targets {
            expected += 1;
            match bind(&target).await {
                Ok((listener, acceptor)) => {
                    bound += 1;
                    tracing::info!(url = %target.url(), "shared web server listening");
                    loops.spawn(accept_loop(
                        listener,
                        acceptor,
                        Arc::clone(&router),
                        Arc::clone(&shared),
                        Arc::clone(&graceful),
                        stopped.clone(),
                    ));
                }
                Err(error) => tracing::error!(%error, "shared web server cannot listen"),
            }
        }
    }

    if expected > 0 && bound == 0 {
        bail!("no listener could be bound; see the errors above");
    }
    if expected == 0 {
        tracing::warn!("no process is deployed: nothing to listen on");
    }
    tracing::info!(listeners = bound, "berth is ready");
    // Documents a crash or a kill left unfinished run again now, beside new traffic.
    tokio::spawn(async move { documents.recover(&deployed).await });

    wait_for_signal().await;
    tracing::info!("stopping: no new connections; finishing requests in flight");
    let _ = stop.send(true);
    while loops.join_next().await.is_some() {}
    let grace = Duration::from_secs(settings.limits.shutdown_grace_seconds);
    let Ok(graceful) = Arc::try_unwrap(graceful) else {
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

fn resolve(dir: &Path, file: &str) -> String {
    dir.join(file).display().to_string()
}

async fn bind(
    target: &Endpoint,
) -> Result<(TcpListener, Option<Arc<openssl::ssl::SslAcceptor>>), String> {
    let acceptor = match &target.tls {
        Some((certificate, key)) => Some(Arc::new(tls::acceptor(
            Path::new(certificate),
            Path::new(key),
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
