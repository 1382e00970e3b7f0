//! The JSON API: listeners (see, pause, resume, restart), status, documents.

use std::net::SocketAddr;
use std::time::SystemTime;

use http::{Method, StatusCode};
use serde_json::json;

use super::{documents, evidence, nodes, partners, traffic};
use super::{error, json, Admin, Answer};
use crate::topology::ControlError;

pub async fn handle(
    admin: &Admin,
    method: &Method,
    path: &str,
    query: &str,
    peer: SocketAddr,
) -> Answer {
    let segments: Vec<&str> = path
        .trim_start_matches("/api/")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["status"]) => status(admin).await,
        (&Method::GET, ["listeners"]) => json(StatusCode::OK, &admin.topology.listeners().await),
        (&Method::GET, ["listeners", name]) => match admin.topology.listener(name).await {
            Some(view) => json(StatusCode::OK, &view),
            None => error(StatusCode::NOT_FOUND, &format!("no listener `{name}`")),
        },
        (&Method::POST, ["listeners", action]) => control_all(admin, action).await,
        (&Method::POST, ["listeners", name, action]) => control(admin, name, action).await,
        (&Method::GET, ["nodes"]) => nodes::list(admin).await,
        (&Method::GET, ["documents"]) => documents::list(admin, query, peer).await,
        (&Method::GET, ["traffic"]) => traffic::traffic(admin, query, peer).await,
        (&Method::GET, ["partners"]) => partners::partners(admin).await,
        (&Method::GET, ["certificates"]) => partners::certificates(admin).await,
        (&Method::GET, ["documents", id]) => documents::show(admin, id).await,
        (&Method::POST, ["documents", id, "retry"]) => documents::retry(admin, id).await,
        (&Method::GET, ["documents", id, part]) => evidence::download(admin, id, part).await,
        _ => error(StatusCode::NOT_FOUND, "no such API call"),
    }
}

async fn status(admin: &Admin) -> Answer {
    let listeners = admin.topology.listeners().await;
    let count = |state: &str| listeners.iter().filter(|l| l.state == state).count();
    let uptime = SystemTime::now()
        .duration_since(admin.topology.started())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let deploy_error = admin.topology.deploy_error().map(|(error, _)| error);
    json(
        StatusCode::OK,
        &json!({
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": uptime,
            "listeners": {
                "listening": count("listening"),
                "paused": count("paused"),
                "errored": count("errored"),
                "stopped": count("stopped"),
            },
            "deploy_error": deploy_error,
        }),
    )
}

async fn control(admin: &Admin, name: &str, action: &str) -> Answer {
    let result = match action {
        "pause" => admin.topology.pause(name),
        "resume" => admin.topology.resume(name),
        "restart" => admin.topology.restart(name).await,
        _ => return error(StatusCode::NOT_FOUND, "use pause, resume or restart"),
    };
    if result.is_ok() {
        crate::cluster::publish(admin.intake.store(), name, action).await;
    }
    match result {
        Ok(()) => match admin.topology.listener(name).await {
            Some(view) => json(StatusCode::OK, &view),
            None => error(StatusCode::NOT_FOUND, &format!("no listener `{name}`")),
        },
        Err(ControlError::NotFound(message)) => error(StatusCode::NOT_FOUND, &message),
        Err(ControlError::Conflict(message)) => error(StatusCode::CONFLICT, &message),
    }
}

/// Pause, resume or restart every listener; those the action does not apply to (resume of a
/// listener that is not paused) are left as they are.
async fn control_all(admin: &Admin, action: &str) -> Answer {
    let names: Vec<String> = admin
        .topology
        .listeners()
        .await
        .into_iter()
        .map(|l| l.name)
        .collect();
    match action {
        "pause" => {
            for name in &names {
                if admin.topology.pause(name).is_ok() {
                    crate::cluster::publish(admin.intake.store(), name, "pause").await;
                }
            }
        }
        "resume" => {
            for name in &names {
                if admin.topology.resume(name).is_ok() {
                    crate::cluster::publish(admin.intake.store(), name, "resume").await;
                }
            }
        }
        "restart" => {
            if let Err(message) = admin.topology.redeploy(None).await {
                return error(StatusCode::CONFLICT, &message);
            }
            for name in &names {
                if let Err(e) = admin.topology.restart(name).await {
                    return error(StatusCode::CONFLICT, &e.to_string());
                }
                crate::cluster::publish(admin.intake.store(), name, "restart").await;
            }
        }
        _ => return error(StatusCode::NOT_FOUND, "use pause, resume or restart"),
    }
    json(StatusCode::OK, &admin.topology.listeners().await)
}
