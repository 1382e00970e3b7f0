//! What a certificate file holds: PEM, DER, PKCS#12 or a PKCS#7 chain.

use std::path::Path;

use anyhow::Context;
use berth_as2::certs::load_certificates;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::x509::{X509NameRef, X509};

/// Print every certificate in `file`.
pub fn show(file: &Path, password: Option<&str>) -> anyhow::Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let certificates = load_certificates(&bytes, password)
        .with_context(|| format!("{} holds no certificate berth can read", file.display()))?;
    let mut out = String::new();
    for (index, certificate) in certificates.iter().enumerate() {
        if certificates.len() > 1 {
            out.push_str(&format!(
                "certificate {} of {}\n",
                index + 1,
                certificates.len()
            ));
        }
        out.push_str(&describe(certificate)?);
    }
    Ok(out)
}

fn describe(certificate: &X509) -> anyhow::Result<String> {
    let serial = certificate
        .serial_number()
        .to_bn()?
        .to_hex_str()?
        .to_string();
    let key = certificate.public_key()?;
    let key_text = match key.rsa() {
        Ok(rsa) => format!("RSA {} bits", rsa.size() * 8),
        Err(_) => format!("{:?} {} bits", key.id(), key.bits()),
    };
    Ok(format!(
        "  subject:    {}\n  issuer:     {}\n  serial:     {}\n  not before: {}\n  not after:  {}\n  key:        {}\n  SHA-1:      {}\n  SHA-256:    {}\n",
        name(certificate.subject_name()),
        name(certificate.issuer_name()),
        serial,
        certificate.not_before(),
        certificate.not_after(),
        key_text,
        fingerprint(certificate, MessageDigest::sha1())?,
        fingerprint(certificate, MessageDigest::sha256())?,
    ))
}

pub(crate) fn name(name: &X509NameRef) -> String {
    name.entries()
        .map(|entry| {
            let field = entry
                .object()
                .nid()
                .short_name()
                .unwrap_or_else(|_| Nid::UNDEF.short_name().unwrap_or("?"));
            let value = String::from_utf8_lossy(entry.data().as_slice());
            format!("{field}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn fingerprint(certificate: &X509, digest: MessageDigest) -> anyhow::Result<String> {
    let bytes = certificate.digest(digest)?;
    Ok(bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}
