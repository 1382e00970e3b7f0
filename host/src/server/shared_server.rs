//! The shared web server's endpoints and its authentication, applied before any connector
//! sees a request.

use std::path::Path;
use std::sync::Arc;

use berth_connector_sdk::auth::BasicAuth;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::endpoint::{tls_source, Endpoint};
use super::router::MountSlot;
use super::router::Router;
use super::service::{text, HttpResponse, Peer};
use crate::settings::{Authentication, SharedServer};

/// Who may send to the shared web server.
pub enum SharedAuth {
    None,
    Basic(BasicAuth),
    ClientCertificate,
}

impl SharedAuth {
    /// `Some(answer)` when the request must be refused.
    pub fn refuse(&self, peer: &Peer, headers: &HeaderMap) -> Option<HttpResponse> {
        match self {
            SharedAuth::None => None,
            SharedAuth::Basic(credentials) => {
                let ok = headers
                    .get(http::header::AUTHORIZATION)
                    .is_some_and(|v| credentials.matches_header(v.as_bytes()));
                if ok {
                    return None;
                }
                tracing::warn!(peer = %peer.remote_addr, "shared web server: missing or wrong credentials");
                let mut answer = text(StatusCode::UNAUTHORIZED, "authentication required");
                answer.headers_mut().insert(
                    http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"berth\""),
                );
                Some(answer)
            }
            // The TLS handshake already refused clients without a trusted certificate; what is
            // left to refuse here is the plain port.
            SharedAuth::ClientCertificate if peer.secure && !peer.client_certificate.is_empty() => {
                None
            }
            SharedAuth::ClientCertificate => {
                tracing::warn!(peer = %peer.remote_addr, "shared web server: no client certificate");
                Some(text(
                    StatusCode::FORBIDDEN,
                    "this server requires a client certificate over HTTPS",
                ))
            }
        }
    }
}

/// The endpoints to bind for the shared web server, and the router they share.
pub fn targets(
    server: &SharedServer,
    dir: &Path,
    routes: Vec<(String, Arc<MountSlot>)>,
) -> Result<(Vec<Endpoint>, Arc<Router>), String> {
    let auth = match (&server.authentication, &server.basic_auth) {
        (Authentication::Basic, Some(credentials)) => SharedAuth::Basic(credentials.clone()),
        (Authentication::ClientCertificate, _) => SharedAuth::ClientCertificate,
        _ => SharedAuth::None,
    };
    let client_ca = match server.authentication {
        Authentication::ClientCertificate => server.client_ca.as_ref().map(|ca| dir.join(ca)),
        _ => None,
    };
    let mut targets = vec![Endpoint {
        address: server.address.clone(),
        port: server.port,
        tls: None,
        client_ca: None,
    }];
    if let Some(tls) = &server.tls {
        // berth.yaml's checks refuse an incomplete combination; resolving says so rather than
        // guess.
        let files = tls
            .files
            .resolve_in(dir)
            .map_err(|e| format!("shared_server.{e}"))?;
        targets.push(Endpoint {
            address: server.address.clone(),
            port: tls.port,
            tls: Some(tls_source(&files)),
            client_ca,
        });
    }
    let router = Router::Prefixes {
        routes: std::sync::RwLock::new(routes),
        auth: Arc::new(auth),
    };
    Ok((targets, Arc::new(router)))
}
