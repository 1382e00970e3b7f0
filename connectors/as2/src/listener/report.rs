//! What the AS2 connectors tell the host about the certificates and keys of their settings: each
//! partner certificate, decryption key and MDN signing key (single and list forms), and the
//! legacy connection's HTTPS certificate. The host warns before they expire and refuses a key
//! that does not belong to its certificate (`berth validate`, `berth certs`).

use std::path::Path;

use berth_connector_sdk::certs::{role, CertificateUse, KeyCheck};
use berth_connector_sdk::secret::Secret;
use openssl::x509::X509;

use super::settings::{As2Operation, KeyFile, LegacyConnection};
use crate::certs::{load_certificates, load_private_key};

/// Every certificate an operation uses, in the order of its settings.
pub fn operation_certificates(dir: &Path, op: &As2Operation) -> Vec<CertificateUse> {
    let password = op.partner_certificate_password.as_ref().map(Secret::expose);
    let mut uses = Vec::new();
    let single = op
        .partner_certificate
        .iter()
        .map(|f| (f, "/partner_certificate".to_string()));
    let listed = op.partner_certificates.iter().enumerate();
    let listed = listed.map(|(i, f)| (f, format!("/partner_certificates/{i}")));
    for (file, pointer) in single.chain(listed) {
        uses.push(partner_certificate(dir, file, &pointer, password));
    }
    let decryption = op
        .decryption_key
        .iter()
        .map(|k| (k, "/decryption_key".into()));
    let listed = op.decryption_keys.iter().enumerate();
    let listed = listed.map(|(i, k)| (k, format!("/decryption_keys/{i}")));
    for (key, at) in decryption.chain(listed) {
        uses.push(key_pair(dir, role::DECRYPTION, key, &at));
    }
    if let Some(key) = &op.mdn_signing_key {
        uses.push(key_pair(dir, role::MDN_SIGNING, key, "/mdn_signing_key"));
    }
    for (i, dated) in op.mdn_signing_keys.iter().enumerate() {
        let key = KeyFile {
            key: dated.key.clone(),
            certificate: dated.certificate.clone(),
            password: dated.password.clone(),
        };
        let at = format!("/mdn_signing_keys/{i}");
        uses.push(key_pair(dir, role::MDN_SIGNING, &key, &at));
    }
    uses
}

/// The legacy connection's HTTPS certificate, which the host reads and checks itself.
pub fn connection_certificates(dir: &Path, connection: &LegacyConnection) -> Vec<CertificateUse> {
    let tls = connection.tls.as_ref();
    tls.and_then(|tls| tls.files.certificate_use(dir, "/tls"))
        .into_iter()
        .collect()
}

fn partner_certificate(
    dir: &Path,
    file: &str,
    pointer: &str,
    password: Option<&str>,
) -> CertificateUse {
    let role = role::PARTNER_SIGNATURE;
    let loaded = read(dir, file).and_then(|data| {
        load_certificates(&data, password)
            .map_err(|e| e.to_string())?
            .iter()
            .map(der)
            .collect::<Result<Vec<_>, _>>()
    });
    match loaded {
        Ok(certificates) => {
            CertificateUse::read(role, file, pointer, certificates, KeyCheck::NO_KEY)
        }
        Err(e) => CertificateUse::unreadable(role, file, pointer, e),
    }
}

/// A key with its certificate (from the key file itself unless one is named beside it), and
/// whether the two belong together. `at` is the key section's pointer; a mismatch is reported at
/// its `key` field.
fn key_pair(dir: &Path, role: &str, file: &KeyFile, at: &str) -> CertificateUse {
    let password = file.password.as_ref().map(Secret::expose);
    let cert_file = file.certificate.as_deref().unwrap_or(&file.key);
    let pointer = format!("{at}/key");
    let loaded = (|| -> Result<(Vec<Vec<u8>>, KeyCheck), String> {
        let key_data = read(dir, &file.key)?;
        let key =
            load_private_key(&key_data, password).map_err(|e| format!("{}: {e}", file.key))?;
        let cert_data = match &file.certificate {
            Some(cert) => read(dir, cert)?,
            None => key_data,
        };
        let certificates =
            load_certificates(&cert_data, password).map_err(|e| format!("{cert_file}: {e}"))?;
        let first = certificates
            .first()
            .ok_or_else(|| format!("{cert_file}: no certificate"))?;
        let matches = first
            .public_key()
            .is_ok_and(|public| public.public_eq(&key));
        let check = if matches {
            KeyCheck::MATCHES
        } else {
            KeyCheck::MISMATCH
        };
        let der = certificates.iter().map(der).collect::<Result<_, _>>()?;
        Ok((der, check))
    })();
    match loaded {
        Ok((certificates, key)) => {
            CertificateUse::read(role, cert_file, &pointer, certificates, key)
        }
        Err(e) => CertificateUse::unreadable(role, cert_file, &pointer, e),
    }
    .with_key_file(&file.key)
}

fn der(certificate: &X509) -> Result<Vec<u8>, String> {
    certificate
        .to_der()
        .map_err(|e| format!("cannot encode a certificate: {e}"))
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>, String> {
    let path = dir.join(file);
    std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
