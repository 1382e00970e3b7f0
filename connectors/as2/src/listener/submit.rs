//! The document an accepted AS2 message becomes: its properties (tracked headers, security,
//! the layers unwrapped), where its payload is, and the submission to the pair's process.

use std::sync::Arc;

use berth_connector_sdk::prelude::*;
use bytes::Bytes;

use super::filename;
use super::partner::Partner;
use super::request::route_of;
use super::{As2Listener, Pending};
use crate::ediint;
use crate::receive::{payload_vec, MdnContext, TrackedProperties};
use crate::unwrap::{Layer, Security};

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

pub(super) fn submit(
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
