//! Certificate Exchange Messaging on the receiving side (see `crate::cem`): a partner's request,
//! already decrypted and verified with its current certificate, is answered with the usual MDN,
//! and the CEM response (each certificate accepted or rejected with its reason) goes to the
//! request's ResponseURL through the host's outbound deliveries. The accepted certificates go
//! to the host with the answer; the host stores them before answering and hands the stored set
//! back to every listener ([`take_exchanged`]), which is what makes a certificate verify from
//! its respond-by date, on every node and after a restart.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_connector_sdk::exchange::ExchangedCertificate;
use berth_connector_sdk::prelude::*;
use openssl::hash::{hash, MessageDigest};
use openssl::x509::X509;

use super::answer::Route;
use super::partner::{Partner, PartnerTable};
use super::rollover::unix_now;
use super::{As2Listener, Pending};
use crate::cem::{self, xml, Accepted, CemError, CemRequest};
use crate::disposition::{Disposition, ProcessingError};
use crate::micalg::MicAlg;
use crate::mime::MimePart;
use crate::receive::MdnContext;
use crate::unwrap::Security;

/// What a partner's request was, once read as a possible CEM request.
pub(super) struct Exchange<'a> {
    pub partner: &'a Arc<Partner>,
    pub related: &'a MimePart,
    pub security: &'a Security,
    pub context: &'a MdnContext,
    pub route: Route,
    pub remote_addr: &'a str,
    pub archive_stem: Option<String>,
}

/// `None` when the message is no CEM request (an ordinary document: the caller goes on with
/// it); otherwise the whole answer.
pub(super) fn answer(listener: &As2Listener, x: Exchange<'_>) -> Option<Response> {
    let request = match cem::parse_request(x.related) {
        Ok(request) => request,
        Err(CemError::NotCem(_)) => return None,
        Err(e) => {
            let detail = format!("certificate exchange request not readable: {e}");
            return Some(refuse(
                listener,
                x,
                ProcessingError::UnexpectedProcessingError,
                &detail,
            ));
        }
    };
    if !x.security.signed() {
        // Anyone could otherwise swap a partner's certificate for their own.
        let detail = "a certificate exchange request must be signed";
        return Some(refuse(
            listener,
            x,
            ProcessingError::InsufficientMessageSecurity,
            detail,
        ));
    }
    let partner = x.partner;
    let Some(signer) = partner.mdn_signing_keys.current() else {
        let detail = "no signing key to sign the certificate exchange response with";
        return Some(refuse(
            listener,
            x,
            ProcessingError::UnexpectedProcessingError,
            detail,
        ));
    };
    let ours = x.context.headers.as2_to.clone();
    let theirs = x.context.headers.as2_from.clone();
    let decided = cem::verify(&request, unix_now());
    let mut by_url: BTreeMap<&str, Vec<xml::TrustResponse>> = BTreeMap::new();
    let mut accepted = Vec::new();
    for (trust, (outcome, response)) in request.trust.iter().zip(decided) {
        match outcome {
            Ok(ok) => accepted.push(ok),
            Err(reason) => listener.log.warn(
                &partner.process,
                &format!(
                    "certificate exchange request {} from {theirs} at {}: certificate {} / {} \
                     rejected: {reason}",
                    request.request_id, x.remote_addr, trust.issuer_name, trust.serial_number
                ),
            ),
        }
        by_url
            .entry(trust.response_url.as_str())
            .or_default()
            .push(response);
    }
    let mut deliveries = Vec::new();
    for (url, responses) in &by_url {
        let body = xml::build_response(&request.request_id, responses);
        let message =
            cem::response::build_response_message(&body, &ours, &theirs, signer, MicAlg::Sha256);
        match message {
            Ok(message) => deliveries.push(Delivery {
                url: (*url).into(),
                method: "POST".into(),
                headers: message
                    .headers
                    .iter()
                    .map(|(n, v)| OwnedHeader::new(n.as_str(), v.as_str()))
                    .collect(),
                body: message.body.into(),
                verify_hostname: partner.verify_hostname_for_async_mdn,
            }),
            Err(e) => {
                let detail = format!("the certificate exchange response could not be signed: {e}");
                listener.log.error(&partner.process, &detail);
                return Some(refuse(
                    listener,
                    x,
                    ProcessingError::UnexpectedProcessingError,
                    &detail,
                ));
            }
        }
    }
    let certificates = match to_exchanged(&partner.process, &theirs, &request, accepted) {
        Ok(certificates) => certificates,
        Err(detail) => {
            listener.log.error(&partner.process, &detail);
            return Some(refuse(
                listener,
                x,
                ProcessingError::UnexpectedProcessingError,
                &detail,
            ));
        }
    };
    listener.log.info(
        &partner.process,
        &format!(
            "certificate exchange request {} from {theirs}: {} of {} certificates accepted; \
             response to {}",
            request.request_id,
            certificates.len(),
            request.trust.len(),
            by_url.keys().copied().collect::<Vec<_>>().join(", ")
        ),
    );
    let pending = pending(x.partner, x.context, x.route, x.archive_stem);
    let mut response = listener
        .answer(
            partner,
            &pending.context,
            &pending.route,
            Disposition::Processed,
            None,
            (200, ""),
        )
        .with_summary("processed: certificate exchange");
    response.deliveries.extend(deliveries);
    response.certificates.extend(certificates);
    listener.archive_answer(&pending, &response);
    Some(response)
}

fn pending(
    partner: &Arc<Partner>,
    context: &MdnContext,
    route: Route,
    archive_stem: Option<String>,
) -> Pending {
    Pending {
        partner: Arc::clone(partner),
        context: context.clone(),
        route,
        archive_stem,
        name_check: None,
    }
}

/// The error MDN for a request that cannot be taken; nothing is recorded, nothing is sent to
/// the ResponseURL (the partner learns of it from the MDN).
fn refuse(
    listener: &As2Listener,
    x: Exchange<'_>,
    error: ProcessingError,
    detail: &str,
) -> Response {
    listener.log.warn(
        &x.partner.process,
        &format!(
            "certificate exchange request from {} at {} not accepted: {detail}",
            x.context.headers.as2_from, x.remote_addr
        ),
    );
    let pending = pending(x.partner, x.context, x.route, x.archive_stem);
    let status = format!("not accepted: {detail}");
    let response = listener.answer(
        x.partner,
        &pending.context,
        &pending.route,
        Disposition::Error(error),
        Some(detail),
        (400, &status),
    );
    listener.archive_answer(&pending, &response);
    response
}

fn to_exchanged(
    process: &str,
    partner: &str,
    request: &CemRequest,
    accepted: Vec<Accepted>,
) -> Result<Vec<ExchangedCertificate>, String> {
    accepted
        .into_iter()
        .map(|a| {
            let der = a
                .certificate
                .to_der()
                .map_err(|e| format!("certificate not encodable: {e}"))?;
            let usages: Vec<&str> = a.usages.iter().map(|u| u.as_str()).collect();
            Ok(ExchangedCertificate {
                operation: process.into(),
                partner: partner.into(),
                usages: usages.join(",").into(),
                fingerprint: fingerprint(&der)?.into(),
                certificate_der: der.into(),
                active_from: a.active_from,
                request_id: request.request_id.as_str().into(),
                received_at: 0,
            })
        })
        .collect()
}

/// SHA-256 of a DER certificate, lowercase hex.
pub fn fingerprint(der: &[u8]) -> Result<String, String> {
    let digest = hash(MessageDigest::sha256(), der).map_err(|e| e.to_string())?;
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Takes the host's stored set: each partner keeps the signing certificates of its own
/// operation and AS2 identifier. A certificate the store holds but that does not parse is
/// logged and skipped; the others still apply.
pub(super) fn take_exchanged(
    partners: &PartnerTable,
    certificates: &[ExchangedCertificate],
    log: &Logger,
) {
    for ((as2_from, _), partner) in partners {
        let mut signing = Vec::new();
        for c in certificates {
            let mine = c.operation.as_str() == partner.process && c.partner.as_str() == as2_from;
            let signs = c.usages.split(',').any(|u| u == "digitalSignature");
            if !(mine && signs) {
                continue;
            }
            match X509::from_der(c.certificate_der.as_slice()) {
                Ok(cert) => signing.push((c.active_from, cert)),
                Err(e) => log.error(
                    &partner.process,
                    &format!(
                        "stored exchanged certificate {} unreadable: {e}",
                        c.fingerprint
                    ),
                ),
            }
        }
        *partner.exchanged.write().unwrap_or_else(|p| p.into_inner()) = signing;
    }
}
