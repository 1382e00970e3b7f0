//! Accepting connections on one bound socket: TLS handshake, HTTP/1.1 or HTTP/2, and routing
//! each request to its mount.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use openssl::ssl::{Ssl, SslAcceptor};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_openssl::SslStream;

use super::idle::{IdleCutoff, InFlight};
use super::router::Router;
use super::service::{self, Peer};
use super::unfold::{Report, Unfold};
use super::{Connections, Shared};

/// The header count hyper allows when told nothing.
const HYPER_MAX_HEADERS: usize = 100;

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<Arc<SslAcceptor>>,
    router: Arc<Router>,
    shared: Arc<Shared>,
    connections: Arc<Connections>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        // Take a connection slot before accepting: beyond the limit, new connections wait in
        // the kernel's backlog instead of all being served badly (back-pressure, not collapse).
        let permit = tokio::select! {
            permit = Arc::clone(&shared.connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            _ = stop.changed() => return,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let router = Arc::clone(&router);
        let shared_for_task = Arc::clone(&shared);
        let acceptor = acceptor.clone();
        // None once berth is stopping: the connection is closed unserved.
        let Some(watcher) = connections.watcher() else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let remote_addr = remote.to_string();
            match acceptor {
                None => {
                    let peer = Peer {
                        remote_addr,
                        client_certificate: Bytes::new(),
                        secure: false,
                    };
                    serve(stream, false, peer, router, shared_for_task, watcher).await
                }
                Some(acceptor) => match handshake(&acceptor, stream).await {
                    Ok(tls) => {
                        let client_certificate = tls
                            .ssl()
                            .peer_certificate()
                            .and_then(|c| c.to_der().ok())
                            .map(Bytes::from)
                            .unwrap_or_default();
                        let peer = Peer {
                            remote_addr,
                            client_certificate,
                            secure: true,
                        };
                        let h2 = tls.ssl().selected_alpn_protocol() == Some(b"h2");
                        serve(tls, h2, peer, router, shared_for_task, watcher).await
                    }
                    Err(error) => {
                        tracing::debug!(peer = %remote_addr, %error, "TLS handshake failed")
                    }
                },
            }
        });
    }
}

async fn handshake(
    acceptor: &SslAcceptor,
    stream: TcpStream,
) -> Result<SslStream<TcpStream>, String> {
    let ssl = Ssl::new(acceptor.context()).map_err(|e| e.to_string())?;
    let mut tls = SslStream::new(ssl, stream).map_err(|e| e.to_string())?;
    tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, std::pin::Pin::new(&mut tls).accept())
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    Ok(tls)
}

/// Serve one connection: HTTP/2 when TLS negotiated it by ALPN, HTTP/1.1 otherwise. Partners
/// do not speak cleartext HTTP/2, so plain connections skip the protocol sniffing hyper-util's
/// `auto` builder does on every connection.
async fn serve<S>(
    stream: S,
    h2: bool,
    peer: Peer,
    router: Arc<Router>,
    shared: Arc<Shared>,
    watcher: Watcher,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let header_timeout = shared.header_timeout;
    let (max_header_bytes, max_headers) = (shared.max_header_bytes, shared.max_headers);
    let in_flight = InFlight::default();
    let stream = IdleCutoff::new(stream, header_timeout, in_flight.clone());
    let remote = peer.remote_addr.clone();
    let unfold = router.unfolds();
    let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let shared = Arc::clone(&shared);
        let router = Arc::clone(&router);
        let peer = peer.clone();
        let busy = in_flight.start();
        async move {
            let _busy = busy;
            if let Router::Prefixes { auth, .. } = &*router {
                if let Some(refusal) = auth.refuse(&peer, request.headers()) {
                    return Ok(refusal);
                }
            }
            let response = match router.route(request.uri().path()) {
                // Boxed: the request future is large, and hyper moves the service future by
                // value; one allocation is cheaper than copying its state around.
                Some(mount) => Box::pin(service::handle(shared, mount, peer, request)).await,
                None => {
                    let path = request.uri().path();
                    tracing::info!(peer = %peer.remote_addr, %path, "refused: nothing listens on this path");
                    service::text(
                        http::StatusCode::NOT_FOUND,
                        &format!("nothing listens on {path}"),
                    )
                }
            };
            Ok::<_, Infallible>(response)
        }
    });
    let report = Report::default();
    let result = if h2 {
        let io = TokioIo::new(stream);
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(max_header_bytes).unwrap_or(u32::MAX));
        watcher.watch(builder.serve_connection(io, service)).await
    } else {
        // Folded header lines are unfolded before hyper parses the head (see `unfold`).
        let io = TokioIo::new(Unfold::new(stream, report.clone(), unfold));
        let mut builder = http1::Builder::new();
        // No header read timeout (and so no timer) for hyper: `IdleCutoff` bounds the time to a
        // complete head without a timer per request.
        builder.max_buf_size(max_header_bytes);
        // hyper's own limit is 100 headers, parsed into a stack array; naming any limit, even
        // 100, makes it build and copy a vector for every request.
        if max_headers != HYPER_MAX_HEADERS {
            builder.max_headers(max_headers);
        }
        watcher.watch(builder.serve_connection(io, service)).await
    };
    let seen = report.seen();
    if seen.folds > 0 {
        tracing::debug!(peer = %remote, folds = seen.folds, "unfolded folded header lines");
    }
    match result {
        // hyper answered the request itself (400, or 431 for a head over the limits) and
        // closed the connection: one line per connection, with what the unfolding reader saw.
        Err(e) if e.is_parse() => match seen.refused {
            Some(detail) => {
                tracing::warn!(peer = %remote, error = %e, detail, "refused a malformed request head")
            }
            None => tracing::warn!(peer = %remote, error = %e, "refused a malformed request head"),
        },
        Err(e) => tracing::debug!(peer = %remote, error = %e, "connection ended with an error"),
        Ok(()) => {}
    }
}
