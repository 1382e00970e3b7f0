//! The shared web server's endpoints and its authentication, applied before any connector
//! sees a request.

use std::path::Path;
use std::sync::Arc;

use berth_connector_sdk::basic_credentials_match;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::endpoint::Endpoint;
use super::router::MountSlot;
use super::router::Router;
use super::service::{text, HttpResponse, Peer};
use super::tls::TlsSource;
use crate::settings::{Authentication, SharedServer};

/// Who may send to the shared web server.
pub enum SharedAuth {
    None,
    Basic { user: String, password: String },
    ClientCertificate,
}

impl SharedAuth {
    /// `Some(answer)` when the request must be refused.
    pub fn refuse(&self, peer: &Peer, headers: &HeaderMap) -> Option<HttpResponse> {
        match self {
            SharedAuth::None => None,
            SharedAuth::Basic { user, password } => {
                let ok = headers
                    .get(http::header::AUTHORIZATION)
                    .is_some_and(|v| basic_credentials_match(v.as_bytes(), user, password));
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
        (Authentication::Basic, Some(credentials)) => SharedAuth::Basic {
            user: credentials.user.clone(),
            password: credentials.password.clone(),
        },
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
        let source = match (&tls.pkcs12, &tls.certificate, &tls.private_key) {
            (Some(file), _, _) => TlsSource::Pkcs12 {
                file: dir.join(file),
                password: tls.password.clone().unwrap_or_default(),
            },
            (None, Some(certificate), Some(key)) => TlsSource::Pem {
                certificate: dir.join(certificate),
                private_key: dir.join(key),
            },
            // berth.yaml's checks refuse this combination; say so rather than guess.
            _ => {
                return Err("shared_server.tls needs certificate and private_key, or pkcs12".into())
            }
        };
        targets.push(Endpoint {
            address: server.address.clone(),
            port: tls.port,
            tls: Some(source),
            client_ca,
        });
    }
    let router = Router::Prefixes {
        routes: std::sync::RwLock::new(routes),
        auth: Arc::new(auth),
    };
    Ok((targets, Arc::new(router)))
}
