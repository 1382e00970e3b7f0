//! One AS2 request: route, partner pair, access rules, unwrapping, and the document submitted
//! to the pair's process (or the error MDN when the message cannot be accepted).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use berth_connector_sdk::prelude::*;
use bytes::Bytes;

use super::answer::Route;
use super::partner::Partner;
use super::{As2Listener, Pending, AS2_PATH};
use crate::disposition::{Disposition, ProcessingError};
use crate::headers::{safe_filename, As2Headers};
use crate::receive::{receive_body, Body, Failed, MdnContext, MdnOptions, Received, Rejection};

use super::submit::submit;
pub(super) use super::submit::{PayloadAt, Unwrapped};

pub fn handle(listener: &As2Listener, request: &Request<'_>) -> Decision<Pending> {
    let respond = Decision::Respond;
    let Some(account) = account_of(request.path.as_str(), listener.account_paths) else {
        return respond(Response::text(
            404,
            format!("no AS2 endpoint at {}; send to {AS2_PATH}", request.path),
        ));
    };
    if request.method.as_str() != "POST" {
        return respond(
            Response::text(405, "AS2 messages are sent with POST").with_header("allow", "POST"),
        );
    }
    let raw_headers: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    let headers = match As2Headers::parse(&raw_headers) {
        Ok(h) => h,
        // No MDN is possible without the AS2 names: a plain 400 naming the header.
        Err(e) => return respond(Response::text(400, e.to_string())),
    };
    let pair = (headers.as2_from.clone(), headers.as2_to.clone());
    let Some(partner) = listener.partners.get(&pair) else {
        return respond(unknown_pair(listener, request, headers));
    };
    if !partner.ip_filter.allows(request.remote_addr.as_str()) {
        listener.log.warn(
            &partner.process,
            &format!(
                "403 for {} -> {} from {}: not in the IP filter",
                pair.0, pair.1, request.remote_addr
            ),
        );
        return respond(Response::text(
            403,
            "this address may not send for this partner",
        ));
    }
    if let Some(auth) = &partner.basic_auth {
        if !auth.matches(request) {
            listener.log.warn(
                &partner.process,
                &format!(
                    "401 for {} -> {} from {}: missing or wrong credentials",
                    pair.0, pair.1, request.remote_addr
                ),
            );
            return respond(
                Response::text(401, "authentication required")
                    .with_header("www-authenticate", "Basic realm=\"berth AS2\""),
            );
        }
    }
    // An oversize message gets an HTTP error status, not an MDN, here as in the host's refusal
    // of a `Content-Length` beyond the disk's room minus `store.disk_reserve_bytes` (413 before
    // the body is read). In RFC 4130 an error MDN reports a message that was received and
    // could not be processed; one that was not received gets an HTTP error, which
    // every AS2 sender treats as a failed transfer it may send again, whereas a
    // `processed/error` MDN is final. An MDN here would also be a poor one: without the body
    // there is no Received-Content-MIC and the signature is unchecked, so the receipt would
    // prove nothing, and the host refuses before any connector code runs.
    if request.body_len > partner.max_message_bytes {
        return respond(Response::text(
            413,
            format!(
                "message of {} bytes is over this partner's limit of {} bytes",
                request.body_len, partner.max_message_bytes
            ),
        ));
    }
    let archive_stem = partner.archive_directory.as_ref().map(|dir| {
        let stem = archive_stem(headers.message_id.as_deref());
        let name = format!("{stem}.message");
        if let Err(e) = archive_message(dir, &name, request) {
            let message = format!("cannot archive {name} in {}: {e}", dir.display());
            listener.log.error(&partner.process, &message);
        }
        stem
    });
    let open = || request.body_reader();
    if let (true, Some(file)) = (
        request.body_is_spooled(),
        request.payload_file.into_option(),
    ) {
        // A large body: unwrapped as one stream into the host's payload file, never whole in
        // memory (see `to_file`).
        let received =
            match super::to_file::receive(listener, request, headers, partner, file.as_str()) {
                Ok(received) => received,
                Err(refusal) => {
                    return refuse(listener, request, (&pair, partner), refusal, archive_stem)
                }
            };
        let (tracked, security, context) =
            (received.properties, received.security, received.context);
        let unwrapped = Unwrapped {
            tracked,
            security,
            context,
            payload: PayloadAt::PayloadFile,
        };
        let unwrapped = match super::several::split(request, unwrapped) {
            Ok(unwrapped) => unwrapped,
            Err(refusal) => {
                return refuse(listener, request, (&pair, partner), refusal, archive_stem)
            }
        };
        return submit(listener, request, partner, unwrapped, account, archive_stem);
    }
    let body = if request.body_is_spooled() {
        Body::Stream {
            open: &open,
            len: request.body_len,
        }
    } else {
        Body::Memory(Bytes::copy_from_slice(request.body.as_slice()))
    };
    let settings = partner.settings_at(super::rollover::unix_now());
    match receive_body(headers, body, &settings, &partner.limits) {
        Ok(received) => {
            let Received {
                payload,
                properties: tracked,
                security,
                context,
                related,
            } = received;
            if let (true, Some(related)) = (partner.accept_certificate_exchange, &related) {
                let exchange = super::exchange::Exchange {
                    partner,
                    related,
                    security: &security,
                    route: route_of(&context, partner.verify_hostname_for_async_mdn),
                    context: &context,
                    remote_addr: request.remote_addr.as_str(),
                    archive_stem: archive_stem.clone(),
                };
                if let Some(response) = super::exchange::answer(listener, exchange) {
                    return respond(response);
                }
            }
            drop(related);
            // The bytes are taken once the MIME parts and the security record are gone (see
            // `payload_vec`), so `submit` drops the security record before taking them.
            let payload = PayloadAt::Memory(payload);
            let unwrapped = Unwrapped {
                tracked,
                security,
                context,
                payload,
            };
            match super::several::split(request, unwrapped) {
                Ok(unwrapped) => {
                    submit(listener, request, partner, unwrapped, account, archive_stem)
                }
                Err(refusal) => refuse(listener, request, (&pair, partner), refusal, archive_stem),
            }
        }
        Err(refusal) => {
            let refusal = Refusal::Rejected(refusal);
            refuse(listener, request, (&pair, partner), refusal, archive_stem)
        }
    }
}

/// Why a message is not submitted: the AS2 check that failed, or (streamed into the payload
/// file) the payload could not be written here, which is this side's fault and temporary.
pub(super) enum Refusal {
    Rejected(Rejection),
    /// Answered 503 so the sender sends again later (a transport failure to AS2 senders), not
    /// with an error MDN, which would end the transfer for good.
    NotStored(String),
}

fn refuse(
    listener: &As2Listener,
    request: &Request<'_>,
    (pair, partner): (&(String, String), &Arc<Partner>),
    refusal: Refusal,
    archive_stem: Option<String>,
) -> Decision<Pending> {
    let respond = Decision::Respond;
    match refusal {
        Refusal::NotStored(detail) => {
            listener.log.error(
                &partner.process,
                &format!(
                    "message from {} -> {} at {} not stored: {detail}; answered 503",
                    pair.0, pair.1, request.remote_addr
                ),
            );
            respond(Response::text(
                503,
                "the message could not be stored here; send again later",
            ))
        }
        Refusal::Rejected(Rejection::BadRequest(e)) => respond(Response::text(400, e.to_string())),
        Refusal::Rejected(Rejection::Failed(failed)) => {
            listener.log.warn(
                &partner.process,
                &format!(
                    "message {} from {} -> {} at {} not accepted: {} ({})",
                    failed
                        .context
                        .headers
                        .message_id
                        .as_deref()
                        .unwrap_or("without Message-ID"),
                    pair.0,
                    pair.1,
                    request.remote_addr,
                    failed.disposition,
                    failed.detail
                ),
            );
            let route = route_of(&failed.context, partner.verify_hostname_for_async_mdn);
            let pending = Pending {
                partner: Arc::clone(partner),
                context: failed.context.clone(),
                route,
                archive_stem,
                name_check: None,
            };
            let status = format!("not accepted: {}", failed.disposition);
            let response = listener.answer(
                partner,
                &pending.context,
                &pending.route,
                failed.disposition,
                Some(&failed.detail),
                (400, &status),
            );
            listener.archive_answer(&pending, &response);
            respond(response)
        }
    }
}

/// `Some(account-id)` (empty for none) when the path is one this listener serves.
fn account_of(path: &str, account_paths: bool) -> Option<String> {
    if path == AS2_PATH || path == "/as2/" {
        return Some(String::new());
    }
    let account = path.strip_prefix("/as2/")?;
    (account_paths && !account.contains('/')).then(|| account.to_string())
}

/// An unknown pair gets an unsigned error MDN (we have no key agreed with a stranger) and a log
/// line naming the pair, so an operator can see a partner whose IDs are misconfigured.
fn unknown_pair(listener: &As2Listener, request: &Request<'_>, headers: As2Headers) -> Response {
    listener.log.warn(
        "",
        &format!(
            "unknown AS2 partner pair {} -> {} from {}: answered unknown-trading-partner",
            headers.as2_from, headers.as2_to, request.remote_addr
        ),
    );
    let options = MdnOptions {
        reporting_ua: format!("berth AS2 {}", env!("CARGO_PKG_VERSION")),
        message_id_domain: headers.as2_to.clone(),
        legacy_smime: false,
    };
    let detail = format!(
        "no trading partner agreement for {} -> {}",
        headers.as2_from, headers.as2_to
    );
    let failed = Failed::new(
        headers,
        Disposition::Error(ProcessingError::UnknownTradingPartner),
        detail,
    );
    let route = route_of(&failed.context, true);
    match failed.build_mdn(&options, None) {
        Ok(mdn) => super::answer::respond(
            mdn.map(super::SentMdn::from_mdn),
            &route,
            (404, "unknown AS2 partner pair"),
        ),
        Err(e) => Response::text(500, format!("the receipt could not be built: {e}")),
    }
}

pub(super) fn route_of(context: &MdnContext, verify_hostname: bool) -> Route {
    match &context.receipt {
        None => Route::None,
        Some(receipt) => match &receipt.request.async_url {
            Some(url) => Route::Async {
                url: url.clone(),
                verify_hostname,
            },
            None => Route::Sync,
        },
    }
}

/// A unique, safe evidence file name stem: time, then the Message-ID made safe.
fn archive_stem(message_id: Option<&str>) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let id = message_id
        .map(|id| id.trim_matches(|c| c == '<' || c == '>'))
        .and_then(safe_filename)
        .map(|id| id.chars().take(150).collect::<String>())
        .unwrap_or_else(|| "no-message-id".into());
    format!("{millis}-{id}")
}

/// Archives the message as received on the wire: request line, headers, empty line, body;
/// a spooled body is copied from its file, never held in memory.
fn archive_message(
    dir: &std::path::Path,
    name: &str,
    request: &Request<'_>,
) -> std::io::Result<()> {
    use std::io::Write;
    let mut head = format!("{} {}\r\n", request.method, request.path).into_bytes();
    for header in request.headers.iter() {
        head.extend_from_slice(header.name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(header.value.as_slice());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    std::fs::create_dir_all(dir)?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join(name))?);
    file.write_all(&head)?;
    std::io::copy(&mut request.body_reader()?, &mut file)?;
    file.flush()
}
