//! The AS2 listen connectors' shared plugin-level code (feature `connector`): settings, the
//! partner table, and one request from the HTTP body to a submitted document and back to an MDN.
//!
//! The two plugin crates (`berth-as2-shared-server`, `berth-as2-server-legacy`) only name their
//! connector kind and say where the host must listen; everything else is here, so no protocol
//! code is duplicated between them.

mod answer;
mod exchange;
mod filename;
mod ipfilter;
mod partner;
pub mod report;
mod request;
pub mod rollover;
pub mod settings;
mod several;
mod submit;
mod to_file;

use std::sync::Arc;

use berth_connector_sdk::prelude::*;

pub use answer::SentMdn;
use answer::{archive, respond, Route};
use partner::{load_partners, Partner, PartnerTable};
use settings::{As2Operation, LegacyConnection};

use crate::disposition::{Disposition, ProcessingError};
use crate::receive::MdnContext;

/// The path both connectors serve.
pub const AS2_PATH: &str = "/as2";

/// Open the AS2 Shared Server: the host's shared web server routes `/as2` and `/as2/...` here.
pub fn open_shared(
    context: OpenContext,
    operations: Vec<(String, As2Operation)>,
) -> Result<(Vec<Endpoint>, As2Listener), String> {
    let names = operation_names(&operations);
    let restart = restart_pairs(&operations);
    let partners = load_partners(&context, operations)?;
    let mut endpoint = Endpoint::shared(AS2_PATH, max_body(&partners))
        .spooling_above(SPOOL_ABOVE)
        .restarting_transfers(restart);
    for name in &names {
        endpoint = endpoint
            .with_partner_path(name, AS2_PATH)
            .with_partner_path(name, ACCOUNT_PATH);
    }
    Ok((
        vec![endpoint],
        As2Listener::new(partners, true, context.log),
    ))
}

/// Open an AS2 Server (legacy) connection: its HTTP port, and its HTTPS port when configured.
pub fn open_legacy(
    context: OpenContext,
    connection: LegacyConnection,
    operations: Vec<(String, As2Operation)>,
) -> Result<(Vec<Endpoint>, As2Listener), String> {
    let names = operation_names(&operations);
    let restart = restart_pairs(&operations);
    let partners = load_partners(&context, operations)?;
    let max = max_body(&partners);
    let mut endpoints = vec![
        Endpoint::port(&connection.address, connection.port, None, max)
            .spooling_above(SPOOL_ABOVE)
            .unfolding_folded_headers()
            .restarting_transfers(restart.clone()),
    ];
    if let Some(tls) = &connection.tls {
        let files = tls.files.resolve(&context)?;
        endpoints.push(
            Endpoint::port(&connection.address, tls.port, Some(files), max)
                .spooling_above(SPOOL_ABOVE)
                .unfolding_folded_headers()
                .restarting_transfers(restart),
        );
    }
    // Every partner pair of the connection sends to `/as2`, on each port.
    let endpoints = endpoints
        .into_iter()
        .map(|endpoint| {
            names
                .iter()
                .fold(endpoint, |e, name| e.with_partner_path(name, AS2_PATH))
        })
        .collect();
    Ok((endpoints, As2Listener::new(partners, false, context.log)))
}

/// The shared server's second form, as operators give it to partners: any one path segment
/// after `/as2/` names the account (it ends up in the `as2.account_id` property).
const ACCOUNT_PATH: &str = "/as2/{account-id}";

/// The pairs whose cut-off transfers the host keeps for AS2 Restart, each for its own age. The
/// host keeps and resumes the bytes (it sees the connection drop and owns the disk); this
/// connector then receives the whole message as any other.
fn restart_pairs(operations: &[(String, As2Operation)]) -> Vec<RestartTransfers> {
    operations
        .iter()
        .filter(|(_, op)| op.as2_restart)
        .map(|(_, op)| RestartTransfers {
            as2_from: op.as2_from.as_str().into(),
            as2_to: op.as2_to.as_str().into(),
            keep_seconds: op.as2_restart_max_age_seconds,
        })
        .collect()
}

fn operation_names(operations: &[(String, As2Operation)]) -> Vec<String> {
    operations.iter().map(|(name, _)| name.clone()).collect()
}

/// Messages above this size reach us in a file the host wrote as they arrived: an encrypted one
/// is then decrypted as it streams from the file (see `receive_stream`), so a large message
/// costs about its decrypted size in memory, once. Below it, a copy is cheaper than a file.
const SPOOL_ABOVE: u64 = 4 << 20;

/// The host stops reading at the largest partner limit; each partner's own limit is checked
/// once the pair is known, so a small limit for one partner does not cap the others.
fn max_body(partners: &PartnerTable) -> u64 {
    partners
        .values()
        .map(|p| p.max_message_bytes)
        .max()
        .unwrap_or(0)
}

/// A listener for every partner pair of one connection (or of the shared web server).
pub struct As2Listener {
    partners: PartnerTable,
    /// The shared server also serves `/as2/{account-id}`; the legacy connector `/as2` only.
    account_paths: bool,
    log: Logger,
}

/// What `complete` needs to answer once the document's fate is known.
pub struct Pending {
    partner: Arc<Partner>,
    context: MdnContext,
    route: Route,
    /// File name stem of this message's evidence files, when archiving.
    archive_stem: Option<String>,
    /// Set when the operation refuses a file name received before.
    name_check: Option<filename::NameCheck>,
}

impl As2Listener {
    fn new(partners: PartnerTable, account_paths: bool, log: Logger) -> Self {
        Self {
            partners,
            account_paths,
            log,
        }
    }

    /// Build the MDN for `disposition` and answer along the request's route.
    fn answer(
        &self,
        partner: &Partner,
        context: &MdnContext,
        route: &Route,
        disposition: Disposition,
        detail: Option<&str>,
        fallback: (u16, &str),
    ) -> Response {
        let built = context.build_mdn(
            disposition,
            detail,
            &partner.mdn_options,
            partner.mdn_signing_keys.current(),
        );
        match built {
            Ok(mdn) => respond(
                mdn.map(|mdn| {
                    let mdn = crate::ediint::announce_restart(mdn, partner.restart);
                    let mdn = crate::ediint::announce_cem(mdn, partner.accept_certificate_exchange);
                    SentMdn::from_mdn(mdn)
                }),
                route,
                fallback,
            )
            .with_summary(disposition.to_string()),
            Err(e) => {
                self.log.error(
                    &partner.process,
                    &format!("cannot build the MDN ({disposition}): {e}"),
                );
                Response::text(500, "the receipt could not be built")
            }
        }
    }

    /// Keep the MDN beside the raw message, when the partner's operation archives.
    fn archive_answer(&self, pending: &Pending, response: &Response) {
        if let (Some(dir), Some(stem), Some(evidence)) = (
            &pending.partner.archive_directory,
            &pending.archive_stem,
            response.evidence.as_ref().into_option(),
        ) {
            let name = format!("{stem}.mdn");
            archive(dir, &name, evidence, &self.log, &pending.partner.process);
        }
    }
}

impl Listener for As2Listener {
    type Pending = Pending;

    fn handle(&self, request: &Request<'_>) -> Decision<Pending> {
        request::handle(self, request)
    }

    fn exchanged_certificates(
        &self,
        certificates: &[berth_connector_sdk::exchange::ExchangedCertificate],
    ) {
        exchange::take_exchanged(&self.partners, certificates, &self.log);
    }

    fn complete(&self, pending: Pending, outcome: &Outcome) -> Response {
        let partner = Arc::clone(&pending.partner);
        let id = pending
            .context
            .headers
            .message_id
            .clone()
            .unwrap_or_default();
        let answer = |disposition, detail: Option<&str>, fallback| {
            self.answer(
                &partner,
                &pending.context,
                &pending.route,
                disposition,
                detail,
                fallback,
            )
        };
        let error = outcome.error.as_ref().map_or("", |e| e.as_str());
        let response = match outcome.kind {
            OutcomeKind::ACCEPTED => {
                self.log.info(
                    &partner.process,
                    &format!("message {id} processed (document {})", outcome.document_id),
                );
                answer(Disposition::Processed, None, (200, ""))
            }
            OutcomeKind::FAILED => {
                // The partner learns that processing failed, not our internals; the log has them.
                self.log.warn(
                    &partner.process,
                    &format!("message {id} failed in the process: {error}"),
                );
                answer(
                    Disposition::Error(ProcessingError::UnexpectedProcessingError),
                    Some("the receiving process failed"),
                    (500, "the receiving process failed"),
                )
            }
            OutcomeKind::DUPLICATE => self.duplicate(&pending, outcome, &id),
            OutcomeKind::KEY_TAKEN => self.file_name_taken(&pending, outcome, &id),
            OutcomeKind::REFUSED => {
                self.log.warn(
                    &partner.process,
                    &format!("message {id} refused by the host: {error}"),
                );
                Response::text(503, format!("not accepted now: {error}"))
                    .with_header("retry-after", "30")
            }
            other => {
                self.log.error(
                    &partner.process,
                    &format!("message {id}: unknown outcome kind {}", other.0),
                );
                Response::text(500, "unknown outcome")
            }
        };
        self.archive_answer(&pending, &response);
        response
    }
}

impl As2Listener {
    /// A resent message (RFC 4130 §5.5): the MDN recorded the first time, again, unless the
    /// operation rejects duplicates with a warning.
    fn duplicate(&self, pending: &Pending, outcome: &Outcome, id: &str) -> Response {
        let partner = &pending.partner;
        let warning = |detail: &str| {
            self.answer(
                partner,
                &pending.context,
                &pending.route,
                Disposition::DuplicateDocument,
                Some(detail),
                (200, ""),
            )
        };
        if partner.reject_duplicates {
            self.log.warn(
                &partner.process,
                &format!("message {id} is a duplicate: rejected with a duplicate-document warning"),
            );
            return warning("this Message-ID was received before; the copy was not processed");
        }
        let stored = outcome
            .stored_answer
            .as_ref()
            .into_option()
            .and_then(|evidence| SentMdn::from_evidence(evidence));
        match stored {
            Some(mdn) => {
                self.log.info(
                    &partner.process,
                    &format!("message {id} is a duplicate: the first MDN is sent again"),
                );
                respond(Some(mdn.redated()), &pending.route, (200, ""))
                    .with_summary("duplicate: the first MDN sent again")
            }
            None => {
                self.log.warn(
                    &partner.process,
                    &format!("message {id} is a duplicate without a recorded MDN: warning sent"),
                );
                warning("this Message-ID was received before")
            }
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
mod to_file_tests;

#[cfg(test)]
mod exchange_tests;
