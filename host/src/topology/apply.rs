//! Bringing what runs in line with a new plan, group by group.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_connector_sdk::abi::Listen;

use super::fingerprint::fingerprint;
use super::urls::{partner_urls, PartnerUrls};
use super::{Group, GroupKey, Running, SharedRunning, Topology};
use crate::deploy::{Plan, PlannedListener};
use crate::server::{shared_server_targets, Endpoint, Mount, MountSlot, Router};

pub(super) async fn apply(
    topology: &Topology,
    running: &mut Running,
    plan: Plan,
    restart: Option<GroupKey>,
) {
    // Documents that run again (recovery, retries) run through the version deployed now.
    let deployed = plan.listeners.iter().flat_map(|l| l.processes.iter());
    topology.server.shared.intake.deploy(deployed);
    let mut groups = BTreeMap::new();
    for planned in plan.listeners {
        let key: GroupKey = (
            planned.connection.clone().unwrap_or_default(),
            planned.kind.clone(),
        );
        let forced = restart.as_ref() == Some(&key);
        let print = fingerprint(&planned);
        let group = match running.groups.remove(&key) {
            Some(old) if old.fingerprint == print && !forced => old,
            Some(old) => replace(topology, old, planned, print, forced).await,
            None => start(topology, planned, print).await,
        };
        mark(topology, &group);
        groups.insert(key, group);
    }
    for (_, old) in std::mem::take(&mut running.groups) {
        for binding in old.bindings {
            binding.close().await;
        }
        for name in &old.processes {
            tracing::info!(listener = %name, "undeployed");
            topology.status.remove(name);
        }
    }
    running.groups = groups;
    update_shared_server(topology, running).await;
}

/// A new group: its mount, and its ports bound.
async fn start(topology: &Topology, planned: PlannedListener, print: u64) -> Group {
    let endpoints = port_endpoints(&planned);
    let shared_prefixes = shared_prefixes(&planned);
    let processes = names(&planned);
    let urls = partner_urls(&planned, &topology.settings.shared_server);
    let (connection, kind) = (planned.connection.clone(), planned.kind.clone());
    let slot = Arc::new(MountSlot::new(Arc::new(mount_of(planned))));
    let mut group = Group {
        fingerprint: print,
        slot,
        endpoints,
        bindings: Vec::new(),
        shared_prefixes,
        processes,
        partner_urls: urls,
        connection,
        kind,
        error: None,
    };
    bind(topology, &mut group).await;
    log_partner_urls(&group.partner_urls);
    group
}

/// A changed group: the new version takes over; the ports are rebound only when they changed,
/// when they were never bound, or when an operator asked for a restart.
async fn replace(
    topology: &Topology,
    mut old: Group,
    planned: PlannedListener,
    print: u64,
    forced: bool,
) -> Group {
    let endpoints = port_endpoints(&planned);
    let processes = names(&planned);
    for gone in old.processes.iter().filter(|p| !processes.contains(p)) {
        tracing::info!(listener = %gone, "undeployed");
        topology.status.remove(gone);
    }
    old.shared_prefixes = shared_prefixes(&planned);
    old.processes = processes;
    old.partner_urls = partner_urls(&planned, &topology.settings.shared_server);
    old.fingerprint = print;
    old.slot.replace(Arc::new(mount_of(planned)));
    let rebind = forced || old.error.is_some() || old.endpoints != endpoints;
    if rebind {
        for binding in std::mem::take(&mut old.bindings) {
            binding.close().await;
        }
        old.endpoints = endpoints;
        bind(topology, &mut old).await;
    }
    tracing::info!(listeners = %old.processes.join(", "), "redeployed");
    log_partner_urls(&old.partner_urls);
    old
}

async fn bind(topology: &Topology, group: &mut Group) {
    group.error = None;
    let description = format!("processes {}", group.processes.join(", "));
    for endpoint in &group.endpoints {
        let router = Arc::new(Router::Single(Arc::clone(&group.slot)));
        match topology.server.bind(endpoint, router).await {
            Ok(binding) => {
                let (url, on) = (endpoint.partner_url(), &binding.url);
                tracing::info!(%url, %on, "listening: {description}");
                group.bindings.push(binding);
            }
            Err(error) => {
                tracing::error!(url = %endpoint.url(), %error, "cannot listen: {description}");
                group.error = Some(error);
            }
        }
    }
}

/// One line per process with the exact URLs its partners send to: what an operator gives a
/// new partner.
fn log_partner_urls(urls: &PartnerUrls) {
    for (listener, urls) in urls {
        tracing::info!(%listener, urls = %urls.join(" "), "partners send to {}", urls.join(" and "));
    }
}

/// Listener states follow their group's binding.
fn mark(topology: &Topology, group: &Group) {
    for name in &group.processes {
        let status = topology.status.of(name);
        match &group.error {
            Some(error) => status.errored(error.clone()),
            None if group.shared_prefixes.is_empty() => status.up(),
            // Shared-server groups are marked when the shared server is (re)bound.
            None => {}
        }
    }
}

/// Bind the shared web server when the first group needs it, route it to the groups that use
/// it, and close it when none does.
async fn update_shared_server(topology: &Topology, running: &mut Running) {
    let routes: Vec<(String, Arc<MountSlot>)> = running
        .groups
        .values()
        .flat_map(|g| {
            g.shared_prefixes
                .iter()
                .map(|p| (p.clone(), Arc::clone(&g.slot)))
        })
        .collect();
    let users: Vec<String> = running
        .groups
        .values()
        .filter(|g| !g.shared_prefixes.is_empty())
        .flat_map(|g| g.processes.iter().cloned())
        .collect();
    if routes.is_empty() {
        if let Some(shared) = running.shared.take() {
            for binding in shared.bindings {
                binding.close().await;
            }
        }
        return;
    }
    if running.shared.is_none() {
        running.shared = Some(bind_shared_server(topology, Vec::new()).await);
    }
    let shared = running.shared.as_mut().expect("bound just above");
    shared.router.set_routes(routes);
    for name in users {
        let status = topology.status.of(&name);
        match &shared.error {
            Some(error) => status.errored(error.clone()),
            None => status.up(),
        }
    }
}

async fn bind_shared_server(
    topology: &Topology,
    routes: Vec<(String, Arc<MountSlot>)>,
) -> SharedRunning {
    let server = &topology.settings.shared_server;
    let description = match &server.base_url {
        Some(url) => format!("the shared web server, reached by partners at {url}"),
        None => "the shared web server".to_string(),
    };
    let (targets, router) = match shared_server_targets(server, &topology.dir, routes) {
        Ok(built) => built,
        Err(error) => {
            tracing::error!(%error, "cannot listen: {description}");
            return SharedRunning {
                router: Arc::new(Router::unrouted()),
                bindings: Vec::new(),
                error: Some(error),
            };
        }
    };
    let mut shared = SharedRunning {
        router,
        bindings: Vec::new(),
        error: None,
    };
    for target in targets {
        match topology
            .server
            .bind(&target, Arc::clone(&shared.router))
            .await
        {
            Ok(binding) => {
                let (url, on) = (target.partner_url(), &binding.url);
                tracing::info!(%url, %on, "listening: {description}");
                shared.bindings.push(binding);
            }
            Err(error) => {
                tracing::error!(url = %target.url(), %error, "cannot listen: {description}");
                shared.error = Some(error);
            }
        }
    }
    shared
}

fn port_endpoints(planned: &PlannedListener) -> Vec<Endpoint> {
    planned
        .endpoints
        .iter()
        .filter_map(Endpoint::of_plugin)
        .collect()
}

fn shared_prefixes(planned: &PlannedListener) -> Vec<String> {
    planned
        .endpoints
        .iter()
        .filter_map(|e| match e.listen()? {
            Listen::Shared { path_prefix } => Some(path_prefix.to_string()),
            Listen::Port { .. } => None,
        })
        .collect()
}

fn names(planned: &PlannedListener) -> Vec<String> {
    planned.processes.iter().map(|p| p.name.clone()).collect()
}

fn mount_of(planned: PlannedListener) -> Mount {
    Mount {
        unfold_headers: planned.endpoints.iter().any(|e| e.unfold_folded_headers),
        restart_transfers: planned
            .endpoints
            .iter()
            .flat_map(|e| e.restart_transfers.iter())
            .map(|r| {
                let pair = (r.as2_from.to_string(), r.as2_to.to_string());
                (pair, r.keep_seconds)
            })
            .collect(),
        label: planned.label(),
        listener: planned.listener,
        blocking: planned.blocking,
        max_body_bytes: planned
            .endpoints
            .iter()
            .map(|e| e.max_body_bytes)
            .max()
            .unwrap_or(0),
        // A listener with several endpoints spools at the lowest threshold any of them asked.
        spool_above_bytes: planned
            .endpoints
            .iter()
            .map(|e| e.spool_above_bytes)
            .filter(|&above| above > 0)
            .min()
            .unwrap_or(0),
        processes: planned
            .processes
            .iter()
            .map(|p| (p.name.clone(), Arc::clone(p)))
            .collect(),
    }
}
