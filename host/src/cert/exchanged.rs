//! The certificates partners sent by certificate exchange, as `berth certs` and
//! `/api/certificates` show them: what the store keeps, with the certificate's subject and
//! expiry read from its DER, and its state (`pending` until its respond-by date).

use berth_store::PartnerCertificate;
use openssl::x509::X509;
use serde_json::{json, Value};

use crate::deploy::certs::days;
use crate::documents::format_date;

/// One stored certificate, described.
pub struct Described<'a> {
    pub stored: &'a PartnerCertificate,
    pub state: &'static str,
    /// Subject, or why the DER does not parse.
    pub subject: String,
    /// Unix seconds of the certificate's end, when it parses.
    pub not_after: Option<i64>,
}

pub fn describe(stored: &PartnerCertificate, now: i64) -> Described<'_> {
    let details = X509::from_der(&stored.certificate_der)
        .map_err(|e| e.to_string())
        .and_then(|cert| crate::deploy::certs::details(&cert));
    let (subject, not_after) = match details {
        Ok(d) => (d.subject, Some(d.not_after)),
        Err(e) => (format!("unreadable: {e}"), None),
    };
    Described {
        stored,
        state: stored.state(now),
        subject,
        not_after,
    }
}

/// The API's shape: one object per certificate.
pub fn to_json(d: &Described<'_>, now: i64) -> Value {
    let s = d.stored;
    json!({
        "process": s.operation,
        "partner": s.partner,
        "role": "partner (certificate exchange)",
        "usages": s.usages.split(',').collect::<Vec<_>>(),
        "subject": d.subject,
        "fingerprint": s.fingerprint,
        "state": d.state,
        "respond_by": format_date(s.active_from.saturating_mul(1000)),
        "received_at": format_date(s.received_at.saturating_mul(1000)),
        "request_id": s.request_id,
        "not_after": d.not_after.map(|t| format_date(t.saturating_mul(1000))),
        "days_left": d.not_after.map(|t| days(t - now)),
    })
}

/// The command line's table, columns aligned.
pub fn table(list: &[Described<'_>], now: i64) -> String {
    let mut rows = vec![[
        "STATE",
        "RESPOND BY",
        "PROCESS",
        "PARTNER",
        "USAGE",
        "SUBJECT",
        "DAYS LEFT",
        "SHA-256",
        "REQUEST",
    ]
    .map(String::from)];
    for d in list {
        let s = d.stored;
        rows.push([
            d.state.to_uppercase(),
            format_date(s.active_from.saturating_mul(1000)),
            s.operation.clone(),
            s.partner.clone(),
            s.usages.clone(),
            d.subject.clone(),
            d.not_after
                .map_or("-".into(), |t| days(t - now).to_string()),
            s.fingerprint.clone(),
            s.request_id.clone(),
        ]);
    }
    crate::cli::aligned(&rows)
}
