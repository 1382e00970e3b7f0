//! The admin server: a JSON API to see and control listeners and find documents, `/metrics`
//! for Prometheus, and the operator console (static files, no build step). It listens on
//! loopback by default; every `/api` call needs the token berth keeps in its data dir.
//! `/health` and `/ready` (see `crate::health`) are for load balancers and need no token.

mod api;
mod body;
mod documents;
mod evidence;
mod nodes;
mod partners;
pub mod token;
mod traffic;

pub use nodes::{NodeView, NodesView};

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::health::Readiness;
use crate::intake::Intake;
use crate::settings::AdminSettings;
use crate::topology::Topology;

pub type Answer = http::Response<body::Body>;

/// What the handlers share.
pub struct Admin {
    pub topology: Arc<Topology>,
    pub intake: Intake,
    pub readiness: Arc<Readiness>,
    token: String,
    /// This node among those sharing the store (set once the node has registered).
    cluster: std::sync::OnceLock<Arc<crate::cluster::ClusterNode>>,
}

impl Admin {
    /// The admin state; creates the token on first run.
    pub fn new(
        topology: Arc<Topology>,
        intake: Intake,
        readiness: Arc<Readiness>,
        data_dir: &Path,
    ) -> anyhow::Result<Admin> {
        Ok(Admin {
            topology,
            intake,
            readiness,
            token: token::load_or_create(data_dir)?,
            cluster: std::sync::OnceLock::new(),
        })
    }

    pub fn set_cluster(&self, node: Arc<crate::cluster::ClusterNode>) {
        let _ = self.cluster.set(node);
    }

    pub fn cluster(&self) -> Option<&Arc<crate::cluster::ClusterNode>> {
        self.cluster.get()
    }
}

/// Bind the admin server and serve it in the background. A port that cannot be bound is an
/// error in the log, not a reason to stop serving partners.
pub async fn start(settings: &AdminSettings, admin: Admin) {
    let admin = Arc::new(admin);
    let address = format!("{}:{}", settings.address, settings.port);
    let listener = match address.parse::<SocketAddr>() {
        Ok(address) => TcpListener::bind(address).await,
        Err(_) => {
            tracing::error!(%address, "admin server: not an IP address and port");
            return;
        }
    };
    let listener = match listener {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%address, %error, "admin server cannot listen");
            return;
        }
    };
    tracing::info!(url = %format!("http://{address}/"), "admin API and console listening");
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let admin = Arc::clone(&admin);
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let admin = Arc::clone(&admin);
                    async move { Ok::<_, Infallible>(route(admin, request, peer).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// The console's files, embedded so that the binary serves them without files beside it.
/// The charts are drawn by uPlot (MIT), vendored unchanged from npm so that the console needs no
/// internet access: 50 KB without dependencies, made for time series like documents per minute,
/// canvas-fast with many listeners, and actively kept. Why not another library, and how to
/// update it: console/vendor/uplot/README.md.
const CONSOLE_FILES: &[(&str, &str, &str)] = {
    const JS: &str = "text/javascript; charset=utf-8";
    const CSS: &str = "text/css; charset=utf-8";
    &[
        (
            "/",
            include_str!("console/index.html"),
            "text/html; charset=utf-8",
        ),
        ("/console.js", include_str!("console/console.js"), JS),
        ("/documents.js", include_str!("console/documents.js"), JS),
        ("/nodes.js", include_str!("console/nodes.js"), JS),
        ("/deliveries.js", include_str!("console/deliveries.js"), JS),
        ("/charts.js", include_str!("console/charts.js"), JS),
        ("/partners.js", include_str!("console/partners.js"), JS),
        ("/console.css", include_str!("console/console.css"), CSS),
        (
            "/vendor/uPlot.iife.min.js",
            include_str!("console/vendor/uplot/uPlot.iife.min.js"),
            JS,
        ),
        (
            "/vendor/uPlot.min.css",
            include_str!("console/vendor/uplot/uPlot.min.css"),
            CSS,
        ),
    ]
};

fn console_file(path: &str) -> Option<(&'static str, &'static str)> {
    CONSOLE_FILES
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, body, content_type)| (*body, *content_type))
}

async fn route(
    admin: Arc<Admin>,
    request: http::Request<hyper::body::Incoming>,
    peer: SocketAddr,
) -> Answer {
    let path = request.uri().path().to_string();
    if request.method() == Method::GET {
        if let Some((body, content_type)) = console_file(&path) {
            return file(body, content_type);
        }
    }
    match (request.method(), path.as_str()) {
        (&Method::GET, "/metrics") => metrics(&admin).await,
        // For load balancers, which hold no token; the answers hold nothing but a reason.
        (&Method::GET, "/health") => line(StatusCode::OK, "alive"),
        (&Method::GET, "/ready") => {
            let (status, reason) = admin
                .readiness
                .check(&admin.topology, admin.intake.store())
                .await;
            line(status, &reason)
        }
        (_, path) if path.starts_with("/api/") => {
            let authorized = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
                .is_some_and(|given| token::matches(given, &admin.token));
            if !authorized {
                tracing::warn!(%peer, %path, "admin API: refused, no valid admin token");
                return error(StatusCode::UNAUTHORIZED, "a valid admin token is required");
            }
            let query = request.uri().query().unwrap_or("").to_string();
            let method = request.method().clone();
            // API requests carry no bodies worth reading; a bounded read keeps it that way.
            let _ = Limited::new(request.into_body(), 64 * 1024).collect().await;
            api::handle(&admin, &method, path, &query, peer).await
        }
        _ => error(StatusCode::NOT_FOUND, "no such page"),
    }
}

/// Prometheus text. Unauthenticated like most exporters: the admin server listens on loopback
/// unless its address is changed, and the figures hold no document content.
async fn metrics(admin: &Admin) -> Answer {
    for listener in admin.topology.listeners().await {
        admin
            .intake
            .metrics()
            .set_listener_state(&listener.name, &listener.state);
    }
    let store_bytes = match admin.intake.store() {
        Some(store) => store.size_bytes().await.unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot measure the message store");
            0
        }),
        None => 0,
    };
    admin.intake.metrics().set_store_bytes(store_bytes);
    let mut answer = http::Response::new(body::full(admin.intake.metrics().render()));
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    answer
}

fn file(text: &'static str, content_type: &'static str) -> Answer {
    let mut answer = http::Response::new(body::full(Bytes::from_static(text.as_bytes())));
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer
}

/// A one-line text answer (`/health`, `/ready`).
fn line(status: StatusCode, text: &str) -> Answer {
    let mut answer = http::Response::new(body::full(format!("{text}\n")));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    answer
}

pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Answer {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut answer = http::Response::new(body::full(body));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    answer
}

/// A 400 for a request the API cannot read: logged with its reason and where it came from, since
/// an operator's script sending bad queries is worth finding.
pub fn bad_request(peer: SocketAddr, message: &str) -> Answer {
    tracing::warn!(%peer, reason = message, "admin API: bad request refused");
    error(StatusCode::BAD_REQUEST, message)
}

pub fn error(status: StatusCode, message: &str) -> Answer {
    json(status, &serde_json::json!({ "error": message }))
}
