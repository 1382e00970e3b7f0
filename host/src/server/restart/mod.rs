//! AS2 Restart (draft-harding-as2-restart), the receiving side, for the partner pairs whose
//! connector asked for it (`Endpoint::restart_transfers`).
//!
//! A request of such a pair that carries the sender's transfer identifier (`ETag`) is a
//! restartable transfer:
//! - a `POST` is written to a file of its own in `DATA_DIR/restart/` as it arrives; cut off
//!   (connection lost, body timeout), the file is kept with its metadata beside it, keyed by
//!   the ETag and the partner pair (`AS2-From`, `AS2-To`);
//! - a `HEAD` answers, in `Content-Length`, how many bytes of the transfer arrived (0 when none
//!   are kept, so that the sender starts over);
//! - a `POST` with `Content-Range: bytes FIRST-LAST/TOTAL` appends when FIRST is exactly the
//!   number of bytes kept, and is refused with 416 and `Content-Range: bytes */KEPT` otherwise.
//!
//! Once the body is whole, the connector gets it as one ordinary request: the final request's
//! head, without `Content-Range` and with the whole `Content-Length`, and the file as a spooled
//! body. Kept transfers are purged once they are older than their pair's keeping age.

mod partials;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming as IncomingBody;
use tokio::io::{AsyncWriteExt, BufWriter};

pub use partials::Partials;
use partials::{now, Identity, Meta};

use super::evidence::raw_request;
use super::mount::Mount;
use super::service::{text, HttpResponse, Peer};
use super::Shared;
use crate::body::{Body, SpoolFile};

/// Writes are batched this much, as for spooled bodies.
const WRITE_BUFFER: usize = 1 << 20;

/// How often kept transfers are checked for their age while berth runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The longest ETag accepted: it is an identifier, not a document.
const MAX_ETAG: usize = 256;

/// The transfer a request belongs to and how long it is kept, when the request is a `POST` or
/// `HEAD` that names one for a pair whose transfers restart.
pub fn identity(mount: &Mount, parts: &http::request::Parts) -> Option<(Identity, u64)> {
    if mount.restart_transfers.is_empty()
        || !(parts.method == Method::POST || parts.method == Method::HEAD)
    {
        return None;
    }
    let value = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
    };
    let etag = value("etag")?;
    // AS2 names may be quoted (RFC 4130 section 6.2); the pair is listed unquoted.
    let name = |header: &str| {
        let raw = value(header)?;
        let unquoted = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .map_or(raw.clone(), |r| r.replace("\\\"", "\""));
        Some(unquoted)
    };
    let pair = (name("as2-from")?, name("as2-to")?);
    let keep = *mount.restart_transfers.get(&pair)?;
    let (as2_from, as2_to) = pair;
    Some((
        Identity {
            etag,
            as2_from,
            as2_to,
        },
        keep,
    ))
}

/// Serves a restartable transfer's request: `Ok` with the whole body once it is complete (the
/// head in `parts` made that of a request that carried it in one piece), else the answer.
pub async fn receive(
    shared: &Arc<Shared>,
    mount: &Mount,
    peer: &Peer,
    parts: &mut http::request::Parts,
    body: IncomingBody,
    (identity, keep): (Identity, u64),
) -> Result<Body, HttpResponse> {
    let refuse = |status, reason: &str| refusal(mount, peer, &identity, status, reason);
    if identity.etag.is_empty()
        || identity.etag.len() > MAX_ETAG
        || !identity.etag.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "the ETag must be 1 to 256 printable ASCII characters",
        ));
    }
    let partials = &shared.partials;
    // A POST holds its transfer until the body is whole and moved out of the transfer's name,
    // or kept for a resume; a HEAD only reads.
    let _claim = if parts.method == Method::HEAD {
        None
    } else {
        match partials.claim(&identity) {
            Some(claim) => Some(claim),
            None => {
                return Err(refuse(
                    StatusCode::CONFLICT,
                    "another request is sending this transfer now; resume once it has ended",
                ))
            }
        }
    };
    let kept = match partials.find(&identity) {
        Some((meta, _)) if meta.keep_until <= now() => {
            partials.purge(&meta, "older than its keeping age");
            None
        }
        other => other,
    };
    if parts.method == Method::HEAD {
        let received = kept.as_ref().map_or(0, |(_, len)| *len);
        tracing::info!(listener = %mount.label, peer = %peer.remote_addr, etag = %shorten(&identity.etag), received, "AS2 restart: told the sender how many bytes arrived");
        return Err(received_so_far(&identity.etag, received));
    }
    let range = match parts.headers.get(http::header::CONTENT_RANGE) {
        None => None,
        Some(value) => match parse_content_range(value) {
            Some(range) => Some(range),
            None => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "Content-Range must be `bytes FIRST-LAST/TOTAL`",
                ))
            }
        },
    };
    let first = range.map_or(0, |r| r.first);
    let kept_len = kept.as_ref().map_or(0, |(_, len)| *len);
    if first > 0 && kept.is_none() {
        let mut answer = refuse(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "no bytes of this transfer (ETag and partner pair) are kept here: send it whole",
        );
        set_range_star(&mut answer, 0);
        return Err(answer);
    }
    if first != kept_len && first > 0 {
        let mut answer = refuse(
            StatusCode::RANGE_NOT_SATISFIABLE,
            &format!(
                "this transfer has {kept_len} bytes here; resume from byte {kept_len}, not {first}"
            ),
        );
        set_range_star(&mut answer, kept_len);
        return Err(answer);
    }
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let total = range
        .and_then(|r| r.total)
        .or_else(|| declared.map(|len| first + len));
    if total.is_some_and(|t| t > mount.max_body_bytes) {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the body is over the limit of {} bytes",
                mount.max_body_bytes
            ),
        ));
    }
    let room =
        crate::disk::free_beyond_reserve(partials.dir(), shared.disk_reserve).unwrap_or(u64::MAX);
    if total.is_some_and(|t| t - first > room) {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the rest of the message does not fit on this server's disk now ({room} bytes free beyond its reserve)"),
        ));
    }
    let files = partials.files(&identity);
    if first == 0 && kept.is_some() {
        tracing::info!(listener = %mount.label, peer = %peer.remote_addr, etag = %shorten(&identity.etag), bytes = kept_len, "AS2 restart: the sender starts the transfer over; the bytes kept are dropped");
        partials.remove(&identity);
    }
    let mut meta = Meta {
        identity: identity.clone(),
        peer: peer.remote_addr.clone(),
        total,
        keep_until: now() + keep,
    };
    // The metadata goes first: a crash in the middle of the body then leaves a transfer that
    // can be resumed, not an orphan.
    if let Err(e) = partials.write_meta(&meta) {
        tracing::error!(listener = %mount.label, error = %e, "cannot keep a restartable transfer's metadata");
        return Err(unavailable());
    }
    let file = match tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&files.body)
        .await
    {
        Ok(file) => file,
        Err(e) => {
            tracing::error!(listener = %mount.label, error = %e, "cannot open a restartable transfer's file");
            partials.remove(&meta.identity);
            return Err(unavailable());
        }
    };
    let limit = mount.max_body_bytes.min(first.saturating_add(room));
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER, file);
    let read =
        tokio::time::timeout(shared.body_timeout, append(body, &mut writer, first, limit)).await;
    // What arrived is kept whatever happened next: flushed before anything is decided.
    let flushed = writer.flush().await;
    let outcome = match (read, flushed) {
        (Ok(Ok(len)), Ok(())) => Ok(len),
        (Ok(Err(Cut::Broken(e))), _) => Err((true, StatusCode::BAD_REQUEST, e)),
        (Err(_), _) => Err((
            true,
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time".into(),
        )),
        (Ok(Err(Cut::TooLarge)), _) => Err((
            false,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body passed {limit} bytes, the limit or the disk's room"),
        )),
        (Ok(Err(Cut::Write(e))), _) | (Ok(Ok(_)), Err(e)) => Err((
            false,
            if crate::disk::is_out_of_space(&e) {
                StatusCode::INSUFFICIENT_STORAGE
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            },
            format!("writing the transfer: {e}"),
        )),
    };
    let len = match outcome {
        Ok(len) if total.is_none_or(|t| t == len) => len,
        Ok(len) => {
            // A Content-Range whose TOTAL is more than this request carried: the rest follows
            // in a later request, as after a cut.
            meta.keep_until = now() + keep;
            let _ = partials.write_meta(&meta);
            tracing::info!(listener = %mount.label, peer = %peer.remote_addr, etag = %shorten(&meta.identity.etag), received = len, total, "AS2 restart: part of a transfer kept; the rest is awaited");
            let mut answer = text(StatusCode::ACCEPTED, "part kept; send the rest");
            set_range_star(&mut answer, len);
            return Err(answer);
        }
        Err((true, status, reason)) => {
            meta.keep_until = now() + keep;
            let _ = partials.write_meta(&meta);
            let received = std::fs::metadata(&files.body).map_or(0, |m| m.len());
            tracing::warn!(listener = %mount.label, peer = %peer.remote_addr, etag = %shorten(&meta.identity.etag), as2_from = %meta.identity.as2_from, as2_to = %meta.identity.as2_to, received, total, reason = %reason, "AS2 restart: a transfer was cut off; its bytes are kept for a resume");
            return Err(text(
                status,
                "the transfer was cut off; resume it with HEAD and Content-Range",
            ));
        }
        Err((false, status, reason)) => {
            partials.remove(&meta.identity);
            return Err(refusal(mount, peer, &meta.identity, status, &reason));
        }
    };
    // Whole: the metadata goes, the file becomes the request's spooled body (removed with the
    // request, like any spool file).
    let body_path = match partials.complete(&meta.identity) {
        Ok(path) => path,
        Err(e) => {
            tracing::error!(listener = %mount.label, error = %e, "cannot take a complete restartable transfer over");
            partials.remove(&meta.identity);
            return Err(unavailable());
        }
    };
    parts.headers.remove(http::header::CONTENT_RANGE);
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    if first > 0 {
        tracing::info!(listener = %mount.label, peer = %peer.remote_addr, etag = %shorten(&meta.identity.etag), bytes = len, "AS2 restart: a resumed transfer is complete");
    }
    Ok(Body::Spooled(Arc::new(SpoolFile {
        path: body_path,
        len,
        head: raw_request(parts, &Bytes::new(), false),
    })))
}

/// Every refusal says why in the log, with the peer and the transfer.
fn refusal(
    mount: &Mount,
    peer: &Peer,
    identity: &Identity,
    status: StatusCode,
    reason: &str,
) -> HttpResponse {
    tracing::warn!(listener = %mount.label, peer = %peer.remote_addr, etag = %shorten(&identity.etag), as2_from = %identity.as2_from, as2_to = %identity.as2_to, status = status.as_u16(), reason, "refused an AS2 restart request");
    text(status, reason)
}

enum Cut {
    Broken(String),
    TooLarge,
    Write(std::io::Error),
}

/// Appends the body to the transfer's file; the file's length when the body ends.
async fn append(
    mut body: IncomingBody,
    writer: &mut BufWriter<tokio::fs::File>,
    mut len: u64,
    limit: u64,
) -> Result<u64, Cut> {
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Cut::Broken(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        len += data.len() as u64;
        if len > limit {
            return Err(Cut::TooLarge);
        }
        writer.write_all(&data).await.map_err(Cut::Write)?;
    }
    Ok(len)
}

/// The answer to a `HEAD`: the bytes received, in `Content-Length`, with no body.
fn received_so_far(etag: &str, received: u64) -> HttpResponse {
    let mut answer = http::Response::new(super::response_body::ResponseBody::from(Bytes::new()));
    let headers = answer.headers_mut();
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(received));
    if let Ok(etag) = HeaderValue::from_str(etag) {
        headers.insert(http::header::ETAG, etag);
    }
    answer
}

fn set_range_star(answer: &mut HttpResponse, kept: u64) {
    if let Ok(value) = HeaderValue::from_str(&format!("bytes */{kept}")) {
        answer
            .headers_mut()
            .insert(http::header::CONTENT_RANGE, value);
    }
}

fn unavailable() -> HttpResponse {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "the message could not be received here; send again later",
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    first: u64,
    total: Option<u64>,
}

/// `bytes FIRST-LAST/TOTAL` (TOTAL may be `*`); LAST is checked for order only, since the body
/// that follows says how many bytes come.
fn parse_content_range(value: &HeaderValue) -> Option<Range> {
    let spec = value.to_str().ok()?.trim();
    let spec = spec.strip_prefix("bytes").unwrap_or(spec).trim_start();
    let (range, total) = spec.split_once('/')?;
    let (first, last) = range.trim().split_once('-')?;
    let (first, last) = (
        first.trim().parse::<u64>().ok()?,
        last.trim().parse::<u64>().ok()?,
    );
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().ok()?),
    };
    (last >= first && total.is_none_or(|t| last < t)).then_some(Range { first, total })
}

/// At most 64 characters of an ETag, for the log.
fn shorten(etag: &str) -> &str {
    etag.get(..64).unwrap_or(etag)
}

#[cfg(test)]
mod tests;
