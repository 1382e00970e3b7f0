//! One AS2 request: route, partner pair, access rules, unwrapping, and the document submitted
//! to the pair's process (or the error MDN when the message cannot be accepted).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use berth_connector_sdk::prelude::*;
use bytes::Bytes;

use super::answer::Route;
use super::filename;
use super::partner::Partner;
use super::{As2Listener, Pending, AS2_PATH};
use crate::disposition::{Disposition, ProcessingError};
use crate::ediint;
use crate::headers::{safe_filename, As2Headers};
use crate::receive::{
    payload_vec, receive_body, Body, Failed, MdnContext, MdnOptions, Received, Rejection,
    TrackedProperties,
};
use crate::unwrap::{Layer, Security};

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

fn route_of(context: &MdnContext, verify_hostname: bool) -> Route {
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

/// An accepted message, its properties and MDN context, and where its payload is.
pub(super) struct Unwrapped {
    pub(super) tracked: TrackedProperties,
    pub(super) security: Security,
    pub(super) context: MdnContext,
    pub(super) payload: PayloadAt,
}

pub(super) enum PayloadAt {
    /// Unwrapped in memory (a small body).
    Memory(Bytes),
    /// Streamed into the host's payload file (a spooled body).
    PayloadFile,
    /// Several attachments, split (see `several`).
    Parts(super::several::Parts),
}

fn submit(
    listener: &As2Listener,
    request: &Request<'_>,
    partner: &Arc<Partner>,
    unwrapped: Unwrapped,
    account: String,
    archive_stem: Option<String>,
) -> Decision<Pending> {
    let Unwrapped {
        tracked,
        security,
        context,
        payload,
    } = unwrapped;
    let mut props = vec![
        Property::new(properties::AS2_FROM, tracked.as2_from.as_str()),
        Property::new(properties::AS2_TO, tracked.as2_to.as_str()),
        Property::new(properties::MIME_TYPE, tracked.mime_type.as_str()),
    ];
    let optional = [
        (properties::SUBJECT, &tracked.subject),
        (properties::MESSAGE_ID, &tracked.message_id),
        (properties::FILE_NAME, &tracked.file_name),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            props.push(Property::new(name, value.as_str()));
        }
    }
    if let Some(mic) = &context.mic {
        let value = mic.field_value(partner.mdn_options.legacy_smime);
        props.push(Property::new("as2.mic", value));
    }
    let layers: Vec<String> = security.layers.iter().map(layer_name).collect();
    let security_text = if layers.is_empty() {
        "none".to_string()
    } else {
        layers.join(",")
    };
    let flag = |b: bool| if b { "true" } else { "false" };
    props.extend([
        Property::new("as2.security", security_text),
        Property::new("as2.signed", flag(security.signed())),
        Property::new("as2.encrypted", flag(security.encrypted())),
        Property::new("as2.compressed", flag(security.compressed())),
        Property::new("as2.remote_addr", request.remote_addr.as_str()),
        Property::new("as2.mdn", receipt_kind(&context)),
    ]);
    let version = ediint::effective_version(context.headers.as2_version.as_deref());
    props.push(Property::new("as2.version", version));
    if !context.headers.ediint_features.is_empty() {
        // What the partner says it can do (RFC 6017), for processes that answer it.
        let features = context.headers.ediint_features.join(", ");
        props.push(Property::new("as2.features", features));
    }
    if !account.is_empty() {
        props.push(Property::new("as2.account_id", account));
    }
    // The duplicate key: partner pair and Message-ID, separated by a character no AS2 name or
    // Message-ID may hold (unit separator), so that no two distinct triples collide.
    let duplicate_key = tracked
        .message_id
        .as_ref()
        .map(|id| format!("{}\u{1f}{}\u{1f}{id}", tracked.as2_from, tracked.as2_to));
    drop(security);
    let (document, more) = match payload {
        PayloadAt::Memory(payload) => (
            Document::with_payload(payload_vec(payload), props),
            Vec::new(),
        ),
        PayloadAt::PayloadFile => (Document::from_payload_file(props), Vec::new()),
        PayloadAt::Parts(parts) => super::several::documents(props, parts),
    };
    let several = !more.is_empty();
    let mut submission = Submission::new(&partner.process, document).with_more_documents(more);
    if let Some(key) = duplicate_key {
        submission = submission.with_duplicate_key(key, partner.duplicate_window);
    }
    // A file name checked once ever is the message's single payload's: the attachments of a
    // message with several have names of their own, which this check does not cover.
    let name_check = (!several)
        .then(|| filename::name_check(partner, &tracked, request.remote_addr.as_str()))
        .flatten();
    if let Some(key) = filename::unique_key(partner, &tracked).filter(|_| !several) {
        submission = submission.with_unique_key(key);
    }
    listener.log.debug(
        &partner.process,
        &format!(
            "message {} from {} unwrapped ({}): submitting",
            tracked
                .message_id
                .as_deref()
                .unwrap_or("without Message-ID"),
            tracked.as2_from,
            layers.join(",")
        ),
    );
    let route = route_of(&context, partner.verify_hostname_for_async_mdn);
    Decision::Submit {
        submission,
        pending: Pending {
            partner: Arc::clone(partner),
            context,
            route,
            archive_stem,
            name_check,
        },
    }
}

fn layer_name(layer: &Layer) -> String {
    match layer {
        Layer::Encrypted {
            authenticated: false,
        } => "encrypted".into(),
        Layer::Encrypted {
            authenticated: true,
        } => "encrypted(gcm)".into(),
        Layer::Signed { alg, .. } => match alg {
            Some(alg) => format!("signed({})", alg.name(false)),
            None => "signed".into(),
        },
        Layer::Compressed => "compressed".into(),
    }
}

fn receipt_kind(context: &MdnContext) -> &'static str {
    match &context.receipt {
        None => "none",
        Some(r) if r.is_async() && r.request.signed => "async-signed",
        Some(r) if r.is_async() => "async",
        Some(r) if r.request.signed => "sync-signed",
        Some(_) => "sync",
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
