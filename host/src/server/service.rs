//! One HTTP request, from the socket to the answer: read the body within its limit and time, let
//! the connector decide, hand a submitted document to the intake, and turn its answer into HTTP.

use std::sync::Arc;
use std::time::Instant;

use berth_connector_sdk::abi::Response as PluginResponse;
use berth_connector_sdk::module::FfiDecision;
use berth_process::PayloadBody;
use berth_process::ProcessDef;
use berth_store::StoredPayload;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use hyper::body::Body as _;
use hyper::body::Incoming as IncomingBody;

use super::evidence::raw_request;
use super::mount::{Incoming, Mount};
use super::response_body::ResponseBody;
use super::restart;
use super::spool::{read_body, BodyError, SpoolPolicy};
use super::Shared;
use crate::body::{Body, SpoolFile};
use crate::intake::{Answer, Arrival};

pub type HttpResponse = http::Response<ResponseBody>;

/// Bodies below this size are not measured against the disk's free space: the reserve is there
/// for them, and a file system query per small message would cost the hot path.
const MEASURED_ABOVE: u64 = 1 << 20;

/// Who is on the other end of a connection.
#[derive(Clone)]
pub struct Peer {
    pub remote_addr: String,
    pub client_certificate: Bytes,
    pub secure: bool,
}

/// What the metrics learn about a request while it is served.
#[derive(Default)]
struct Seen {
    /// Shared, not copied: a string allocation per request shows in the benchmark.
    process: Option<Arc<ProcessDef>>,
    bytes_in: u64,
}

pub async fn handle(
    shared: Arc<Shared>,
    mount: Arc<Mount>,
    peer: Peer,
    request: http::Request<IncomingBody>,
) -> HttpResponse {
    let started = Instant::now();
    let mut seen = Seen::default();
    let response = serve(&shared, &mount, peer, request, &mut seen).await;
    let bytes_out = response.body().size_hint().exact().unwrap_or(0);
    shared.intake.metrics().request(
        seen.process.as_ref().map_or("", |p| p.name.as_str()),
        response.status().as_u16(),
        seen.bytes_in,
        bytes_out,
        started.elapsed(),
    );
    response
}

async fn serve(
    shared: &Arc<Shared>,
    mount: &Arc<Mount>,
    peer: Peer,
    request: http::Request<IncomingBody>,
    seen: &mut Seen,
) -> HttpResponse {
    let (shared, mount) = (Arc::clone(shared), Arc::clone(mount));
    let (mut parts, body) = request.into_parts();
    let body = match restart::identity(&mount, &parts) {
        Some(identity) => {
            restart::receive(&shared, &mount, &peer, &mut parts, body, identity).await
        }
        None => read_plain(&shared, &mount, &peer, &parts, body).await,
    };
    let body = match body {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    seen.bytes_in = body.len() as u64;
    // A large body may unwrap into a large payload: the connector gets a file to write it to.
    let payload_file = match &body {
        Body::Memory(_) => None,
        Body::Spooled(file) => match SpoolFile::create_beside(&file.path).await {
            Ok(created) => Some(Arc::new(created)),
            Err(e) => {
                tracing::error!(listener = %mount.label, error = %e, "cannot create a payload file");
                return text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the message could not be received here; send again later",
                );
            }
        },
    };
    // Declared before the request's other values, so dropped after them: the parts a
    // connector wrote and the host did not take go when the request ends.
    let _parts = UnusedParts(payload_file.as_ref().map(|f| f.path.clone()));
    let incoming = Arc::new(Incoming {
        parts,
        body,
        payload_file,
        remote_addr: peer.remote_addr,
        client_certificate: peer.client_certificate,
        secure: peer.secure,
    });
    let decision = match mount.decide(Arc::clone(&incoming)).await {
        Ok(decision) => decision,
        Err(e) => return connector_failed(&mount, &e),
    };
    let intake = &shared.intake;
    let (submission, pending) = match decision {
        FfiDecision::Respond(response) => {
            let response = intake.respond(&mount.label, response).await;
            return to_http(&mount, &incoming.remote_addr, response, None);
        }
        FfiDecision::Submit {
            submission,
            pending,
        } => (submission, pending),
    };
    let Some(process) = mount.processes.get(submission.operation.as_str()) else {
        let message = format!(
            "the connector submitted to process `{}`, which does not use this listener",
            submission.operation
        );
        return connector_failed(&mount, &message);
    };
    seen.process = Some(Arc::clone(process));
    // Only for a body in memory: a spooled one keeps its head beside its file.
    let evidence = |with_body: bool| {
        let body = match &incoming.body {
            Body::Memory(bytes) => bytes.clone(),
            Body::Spooled(_) => Bytes::new(),
        };
        raw_request(&incoming.parts, &body, with_body)
    };
    let arrival = Arrival {
        listener: &mount.label,
        process,
        submission,
        pending,
        blocking: mount.blocking,
        body: &incoming.body,
        payload_file: incoming.payload_file.as_ref(),
        evidence: &evidence,
    };
    match intake.receive(arrival).await {
        Answer::Connector { response, payload } => {
            to_http(&mount, &incoming.remote_addr, response, payload)
        }
        Answer::Paused => {
            let mut answer = text(
                StatusCode::SERVICE_UNAVAILABLE,
                "this listener is paused; send again later",
            );
            answer
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("60"));
            answer
        }
        // Logged by the intake.
        Answer::ConnectorFailed => failed_answer(),
        Answer::Refused(reason) => {
            let mut answer = text(StatusCode::SERVICE_UNAVAILABLE, &reason);
            answer
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("30"));
            answer
        }
    }
}

/// Reads an ordinary request's body: in memory, or spooled above the mount's threshold; the
/// answer instead when the body is refused or cannot be read.
async fn read_plain(
    shared: &Shared,
    mount: &Mount,
    peer: &Peer,
    parts: &http::request::Parts,
    body: IncomingBody,
) -> Result<Body, HttpResponse> {
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > mount.max_body_bytes) {
        return Err(too_large(mount, peer));
    }
    if let Some(len) = declared.filter(|len| *len > MEASURED_ABOVE) {
        if let Some(refusal) = no_room(shared, mount, peer, len) {
            return Err(refusal);
        }
    }
    let head = || raw_request(parts, &Bytes::new(), false);
    let policy = (mount.spool_above_bytes > 0).then(|| SpoolPolicy {
        dir: &shared.spool_dir,
        above: mount.spool_above_bytes,
        head: &head,
        reserve: shared.disk_reserve,
    });
    let read = read_body(body, mount.max_body_bytes, shared.body_timeout, policy).await;
    match read {
        Ok(body) => Ok(body),
        Err(BodyError::TooLarge) => Err(too_large(mount, peer)),
        Err(BodyError::Timeout) => {
            tracing::warn!(listener = %mount.label, peer = %peer.remote_addr, "body read timed out");
            Err(text(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            ))
        }
        Err(BodyError::Broken(e)) => {
            tracing::warn!(listener = %mount.label, peer = %peer.remote_addr, error = %e, "body read failed");
            Err(text(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            ))
        }
        Err(BodyError::NoSpace(e)) => {
            tracing::warn!(listener = %mount.label, peer = %peer.remote_addr, reason = %e, "refused: out of disk space during the body; nothing was kept");
            Err(text(
                StatusCode::INSUFFICIENT_STORAGE,
                "the message does not fit on this server's disk; nothing was kept",
            ))
        }
        Err(BodyError::Spool(e)) => {
            tracing::error!(listener = %mount.label, error = %e, "cannot spool a request body");
            Err(text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the message could not be received here; send again later",
            ))
        }
    }
}

/// The refusal of a message whose declared length would leave the disk with less than its
/// reserve free; `None` when it fits (or when the free space cannot be measured, which the
/// spooling then finds out for itself).
fn no_room(shared: &Shared, mount: &Mount, peer: &Peer, len: u64) -> Option<HttpResponse> {
    let room = match crate::disk::free_beyond_reserve(&shared.spool_dir, shared.disk_reserve) {
        Ok(room) => room,
        Err(e) => {
            tracing::warn!(dir = %shared.spool_dir.display(), error = %e, "cannot measure the free disk space");
            return None;
        }
    };
    if len <= room {
        return None;
    }
    tracing::warn!(listener = %mount.label, peer = %peer.remote_addr, length = len, room, reserve = shared.disk_reserve, "refused: the message does not fit on the disk beside its reserve");
    Some(text(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "the message of {len} bytes does not fit on this server's disk now ({room} bytes free beyond its reserve); send it later or in parts"
        ),
    ))
}

fn too_large(mount: &Mount, peer: &Peer) -> HttpResponse {
    tracing::warn!(listener = %mount.label, peer = %peer.remote_addr, limit = mount.max_body_bytes, "refused: the body is over the limit");
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "the body is over the limit of {} bytes",
            mount.max_body_bytes
        ),
    )
}

fn connector_failed(mount: &Mount, error: &str) -> HttpResponse {
    tracing::error!(listener = %mount.label, %error, "connector failed on a request");
    failed_answer()
}

/// What the sender gets when the connector failed: the reason is in the log, not the answer.
fn failed_answer() -> HttpResponse {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the connector failed on this request",
    )
}

/// A plugin's answer as an HTTP response, its body streamed from `payload` when the answer asks
/// for the document's payload; an answer that HTTP cannot carry becomes a 500 rather than a
/// broken response on the wire.
fn to_http(
    mount: &Mount,
    peer: &str,
    response: PluginResponse,
    payload: Option<StoredPayload>,
) -> HttpResponse {
    let Ok(status) = StatusCode::from_u16(response.status) else {
        let message = format!("invalid HTTP status {}", response.status);
        return connector_failed(mount, &message);
    };
    if status.is_client_error() {
        // A connector's refusal: the first line of its answer says why.
        let line = response
            .body
            .split(|b| *b == b'\n')
            .next()
            .unwrap_or_default();
        let reason = String::from_utf8_lossy(&line[..line.len().min(200)]);
        tracing::warn!(listener = %mount.label, %peer, status = status.as_u16(), reason = %reason.trim_end(), "refused by the connector");
    }
    let mut builder = http::Response::builder().status(status);
    for header in response.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes());
        let value = HeaderValue::from_str(header.value.as_str());
        match (name, value) {
            (Ok(name), Ok(value)) => builder = builder.header(name, value),
            _ => {
                let message = format!("invalid response header `{}`", header.name);
                return connector_failed(mount, &message);
            }
        }
    }
    builder
        // Adopted, not copied (the plugin's allocator frees it when hyper is done).
        .body(match payload {
            Some(payload) => ResponseBody::Payload(PayloadBody::new(payload)),
            None => ResponseBody::from(Bytes::from_owner(response.body)),
        })
        .unwrap_or_else(|e| connector_failed(mount, &e.to_string()))
}

pub fn text(status: StatusCode, message: &str) -> HttpResponse {
    let mut response = http::Response::new(ResponseBody::from(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The part files beside a request's payload file (see `Request::part_file`), removed when the
/// request ends unless the host took them as documents' payloads.
struct UnusedParts(Option<std::path::PathBuf>);

impl Drop for UnusedParts {
    fn drop(&mut self) {
        if let Some(payload_file) = &self.0 {
            crate::intake::remove_unused_parts(payload_file);
        }
    }
}
