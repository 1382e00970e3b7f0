//! Every certificate and key a deployment uses, as its connectors report them: which process
//! uses it for what, its subject, fingerprint and end of validity, and whether a configured key
//! belongs to it. `berth certs`, `berth validate`, the expiry gauge and the daily warning read
//! this; a key that does not match its certificate is a problem with the file, line and field.

use std::time::{SystemTime, UNIX_EPOCH};

use berth_connector_sdk::abi::Tls;
use berth_connector_sdk::certs::{CertificateUse, KeyCheck, Section};
use berth_process::{Deployment, Diagnostic};
use openssl::hash::MessageDigest;
use openssl::x509::X509;

use crate::plugins::Registry;

/// Seconds in a day, for the warning window and days left.
pub const DAY: i64 = 86_400;

/// One certificate as one process uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub process: String,
    pub role: String,
    /// The file as written in the settings.
    pub file: String,
    /// The private key's file, when one goes with this certificate.
    pub key_file: Option<String>,
    pub key: KeyState,
    /// What was read, or why it could not be.
    pub details: Result<Details, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    pub subject: String,
    /// SHA-256 of the DER, as colon-separated hex.
    pub fingerprint: String,
    /// The end of validity (notAfter), Unix seconds.
    pub not_after: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    NoKey,
    Matches,
    Mismatch,
}

impl CertificateRecord {
    /// Seconds until the end of validity at `now`, negative once expired.
    pub fn seconds_left(&self, now: i64) -> Option<i64> {
        self.details.as_ref().ok().map(|d| d.not_after - now)
    }

    /// Whole days left at `now` (see [`days`]).
    pub fn days_left(&self, now: i64) -> Option<i64> {
        self.seconds_left(now).map(days)
    }
}

/// Whole days of `seconds` as people count them: 9.5 days left is "10 days left" (within ten
/// days), and an end 2.5 days ago "expired 2 days ago", but never 0 once expired.
pub fn days(seconds: i64) -> i64 {
    if seconds > 0 {
        (seconds + DAY - 1) / DAY
    } else if seconds < 0 {
        -(seconds.unsigned_abs() as i64 / DAY).max(1)
    } else {
        0
    }
}

/// The records within `warn_days` of their end at `now` (expired ones included), with their
/// days left.
pub fn due(
    records: &[CertificateRecord],
    now: i64,
    warn_days: u32,
) -> Vec<(&CertificateRecord, i64)> {
    let window = i64::from(warn_days) * DAY;
    records
        .iter()
        .filter_map(|r| {
            let left = r.seconds_left(now)?;
            (left < window).then(|| (r, days(left)))
        })
        .collect()
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Ask every process's plugin (and its connection's) for the certificates they use. Settings a
/// plugin cannot parse are skipped: the settings checks report them. Returns the records, soonest
/// expiry first (unreadable ones last), and a problem for each key that does not match.
pub fn collect(
    deployment: &Deployment,
    registry: &Registry,
) -> (Vec<CertificateRecord>, Vec<Diagnostic>) {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let dir = &deployment.dir;
    for process in &deployment.processes {
        let Some((plugin, kind)) = registry.kind(&process.start.connector) else {
            continue;
        };
        let operation = &process.start.operation;
        let uses = plugin.certificates(&kind.name, Section::OPERATION, operation, dir);
        for found in uses.unwrap_or_default() {
            let (mut read, mismatch) = record(&process.name, &found);
            if let Some(message) = mismatch {
                problems.push(process.operation_diagnostic(&found.pointer, message));
            }
            records.append(&mut read);
        }
    }
    for connection in &deployment.connections {
        let users: Vec<&str> = deployment
            .processes
            .iter()
            .filter(|p| p.start.connection.as_deref() == Some(connection.name.as_str()))
            .map(|p| p.name.as_str())
            .collect();
        let Some((plugin, kind)) = registry.kind(&connection.connector) else {
            continue;
        };
        if users.is_empty() || !kind.needs_connection {
            continue;
        }
        let settings = &connection.settings;
        let uses = plugin.certificates(&kind.name, Section::CONNECTION, settings, dir);
        for found in uses.unwrap_or_default() {
            let mut mismatch_reported = false;
            for process in &users {
                let (mut read, mismatch) = record(process, &found);
                if let (Some(message), false) = (mismatch, mismatch_reported) {
                    problems.push(connection.settings_diagnostic(&found.pointer, message));
                    mismatch_reported = true;
                }
                records.append(&mut read);
            }
        }
    }
    sort(&mut records);
    (records, problems)
}

/// Soonest end of validity first; unreadable files last, by process.
pub fn sort(records: &mut [CertificateRecord]) {
    records.sort_by(|a, b| {
        let key = |r: &CertificateRecord| {
            let end = r.details.as_ref().map_or(i64::MAX, |d| d.not_after);
            (end, r.process.clone(), r.role.clone(), r.file.clone())
        };
        key(a).cmp(&key(b))
    });
}

/// The records of one reported use (one per certificate in its file), and the problem when its
/// key does not match.
fn record(process: &str, found: &CertificateUse) -> (Vec<CertificateRecord>, Option<String>) {
    let key_file = found.key_file.as_ref().map(|f| f.to_string()).into_option();
    let base = |key, details| CertificateRecord {
        process: process.to_string(),
        role: found.role.to_string(),
        file: found.file.to_string(),
        key_file: key_file.clone(),
        key,
        details,
    };
    if let Some(error) = found.error.as_ref().into_option() {
        return (vec![base(KeyState::NoKey, Err(error.to_string()))], None);
    }
    let read = match (found.tls.as_ref().into_option(), found.key) {
        (Some(tls), KeyCheck::BY_HOST) => read_tls(tls),
        (_, key) => parse_all(found.certificates.iter().map(|c| c.as_slice()))
            .map(|certs| (certs, key_state(key))),
    };
    let (certificates, key) = match read {
        Ok(read) => read,
        Err(error) => return (vec![base(KeyState::NoKey, Err(error))], None),
    };
    let mismatch = (key == KeyState::Mismatch).then(|| {
        format!(
            "the private key {} does not belong to the certificate {} ({})",
            key_file.as_deref().unwrap_or(&found.file),
            found.file,
            found.role
        )
    });
    let records = certificates
        .iter()
        .enumerate()
        .map(|(i, cert)| {
            // The key belongs to the first certificate; the rest of a file is its chain.
            let key = if i == 0 { key } else { KeyState::NoKey };
            base(key, details(cert))
        })
        .collect();
    (records, mismatch)
}

fn key_state(check: KeyCheck) -> KeyState {
    match check {
        KeyCheck::MATCHES => KeyState::Matches,
        KeyCheck::MISMATCH => KeyState::Mismatch,
        _ => KeyState::NoKey,
    }
}

fn parse_all<'a>(blobs: impl Iterator<Item = &'a [u8]>) -> Result<Vec<X509>, String> {
    let mut out = Vec::new();
    for blob in blobs {
        let parsed = if blob.starts_with(b"-----") {
            X509::stack_from_pem(blob)
        } else {
            X509::from_der(blob).map(|c| vec![c])
        };
        out.extend(parsed.map_err(|e| format!("not a certificate: {e}"))?);
    }
    Ok(out)
}

/// A TLS section read the way the host reads it to serve HTTPS, with the key checked.
fn read_tls(tls: &Tls) -> Result<(Vec<X509>, KeyState), String> {
    use openssl::pkcs12::Pkcs12;
    use openssl::pkey::PKey;
    let read = |file: &str| std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"));
    let (certificates, key) = match tls {
        Tls::Pem {
            certificate_file,
            private_key_file,
        } => {
            let certs = X509::stack_from_pem(&read(certificate_file)?)
                .map_err(|e| format!("{certificate_file}: not a PEM certificate: {e}"))?;
            let key = PKey::private_key_from_pem(&read(private_key_file)?)
                .map_err(|e| format!("{private_key_file}: not a PEM private key: {e}"))?;
            (certs, key)
        }
        Tls::Pkcs12 { file, password } => {
            let parsed = Pkcs12::from_der(&read(file)?)
                .and_then(|p12| p12.parse2(password.expose()))
                .map_err(|e| format!("{file}: cannot open the PKCS#12 file: {e}"))?;
            let mut certs: Vec<X509> = parsed.cert.into_iter().collect();
            certs.extend(parsed.ca.iter().flatten().map(|c| c.to_owned()));
            let key = parsed.pkey.ok_or(format!("{file}: no private key"))?;
            (certs, key)
        }
    };
    let first = certificates.first().ok_or("no certificate in the file")?;
    let matches = first.public_key().is_ok_and(|p| p.public_eq(&key));
    let state = if matches {
        KeyState::Matches
    } else {
        KeyState::Mismatch
    };
    Ok((certificates, state))
}

pub(crate) fn details(certificate: &X509) -> Result<Details, String> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).map_err(|e| e.to_string())?;
    let diff = epoch
        .diff(certificate.not_after())
        .map_err(|e| format!("unreadable end of validity: {e}"))?;
    Ok(Details {
        subject: crate::cert::name(certificate.subject_name()),
        fingerprint: crate::cert::fingerprint(certificate, MessageDigest::sha256())
            .map_err(|e| e.to_string())?,
        not_after: i64::from(diff.days) * DAY + i64::from(diff.secs),
    })
}

#[cfg(test)]
#[path = "certs_tests.rs"]
mod tests;
