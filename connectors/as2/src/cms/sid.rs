//! Which certificate a SignerInfo (`SignerIdentifier`) or a KeyTransRecipientInfo
//! (`RecipientIdentifier`) names: both are the same CHOICE of issuer and serial number or
//! `[0]` subject key identifier. With several certificates configured for one partner (a
//! renewal overlap), this is what picks the one to use, and what a refusal names.

use crate::der::{self, Element, TAG_INTEGER, TAG_SEQUENCE};
use openssl::bn::BigNum;
use openssl::x509::{X509NameRef, X509Ref, X509};
use std::cmp::Ordering;

/// A certificate as a CMS structure names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertId<'a> {
    /// The issuer's Name (DER, with its tag) and the serial number's INTEGER content octets.
    IssuerSerial { issuer: Vec<u8>, serial: &'a [u8] },
    /// The subject key identifier's octets.
    Ski(&'a [u8]),
    /// A choice this reader does not know (a later CMS version): names nothing.
    Other,
}

impl<'a> CertId<'a> {
    /// Reads the identifier CHOICE.
    pub(crate) fn parse(el: &Element<'a>) -> Result<CertId<'a>, &'static str> {
        match el.tag {
            TAG_SEQUENCE => {
                let parts = el.children().map_err(|_| "bad issuerAndSerialNumber")?;
                match parts.as_slice() {
                    [issuer, serial] if issuer.tag == TAG_SEQUENCE && serial.tag == TAG_INTEGER => {
                        Ok(CertId::IssuerSerial {
                            issuer: der::write_tlv(issuer.tag, issuer.content),
                            serial: serial.content,
                        })
                    }
                    _ => Err("bad issuerAndSerialNumber"),
                }
            }
            0x80 => Ok(CertId::Ski(el.content)),
            _ => Ok(CertId::Other),
        }
    }

    /// Whether this identifier names `cert`, compared as OpenSSL compares them (names in
    /// canonical form, serial numbers as integers), so that this choice and OpenSSL's agree.
    pub(crate) fn names(&self, cert: &X509Ref) -> bool {
        match self {
            CertId::IssuerSerial { issuer, serial } => {
                let negative = serial.first().is_some_and(|&b| b & 0x80 != 0);
                let same_serial = !negative
                    && BigNum::from_slice(serial).is_ok_and(|theirs| {
                        cert.serial_number()
                            .to_bn()
                            .is_ok_and(|ours| !ours.is_negative() && ours == theirs)
                    });
                same_serial && same_name(issuer, cert.issuer_name())
            }
            CertId::Ski(ski) => cert
                .subject_key_id()
                .is_some_and(|id| id.as_slice() == *ski),
            CertId::Other => false,
        }
    }

    /// For messages: `issuer CN=..., serial 0A1B` or `subject key identifier 01:02:...`.
    pub(crate) fn describe(&self) -> String {
        match self {
            CertId::IssuerSerial { issuer, serial } => {
                let issuer = openssl::x509::X509Name::from_der(issuer)
                    .map(|n| name_text(&n))
                    .unwrap_or_else(|_| "(unreadable name)".into());
                let significant = serial.iter().position(|&b| b != 0).unwrap_or(serial.len());
                format!(
                    "issuer {issuer}, serial {}",
                    hex(&serial[significant..], "")
                )
            }
            CertId::Ski(ski) => format!("subject key identifier {}", hex(ski, ":")),
            CertId::Other => "a certificate by an unknown kind of identifier".into(),
        }
    }
}

/// How a configured certificate is named in messages: subject, issuer and serial number.
pub(crate) fn describe_certificate(cert: &X509Ref) -> String {
    let serial = cert
        .serial_number()
        .to_bn()
        .map(|bn| hex(&bn.to_vec(), ""))
        .unwrap_or_default();
    format!(
        "{} (issuer {}, serial {serial})",
        crate::cms::subject_text(cert),
        name_text(cert.issuer_name())
    )
}

/// The identifiers of every SignerInfo of a SignedData ContentInfo; `None` when the structure
/// does not parse (OpenSSL then reports on it).
pub(crate) fn signer_ids(der_bytes: &[u8]) -> Option<Vec<CertId<'_>>> {
    crate::cms::signer_infos(der_bytes)?
        .iter()
        .map(|si| {
            let sid = si.children().ok()?.get(1).copied()?;
            CertId::parse(&sid).ok()
        })
        .collect()
}

/// The certificates of `configured` that one of `ids` names, in configured order, or an
/// explanation naming what the signer asked for and what is configured.
pub(crate) fn select_named(ids: &[CertId<'_>], configured: &[X509]) -> Result<Vec<X509>, String> {
    let named: Vec<X509> = configured
        .iter()
        .filter(|cert| ids.iter().any(|id| id.names(cert)))
        .cloned()
        .collect();
    if !named.is_empty() {
        return Ok(named);
    }
    let asked: Vec<String> = ids.iter().map(CertId::describe).collect();
    let have: Vec<String> = configured.iter().map(|c| describe_certificate(c)).collect();
    Err(format!(
        "the signature names {}; the configured partner certificates are {}",
        asked.join(" and "),
        have.join(" and ")
    ))
}

fn same_name(issuer_der: &[u8], ours: &X509NameRef) -> bool {
    openssl::x509::X509Name::from_der(issuer_der)
        .ok()
        .and_then(|theirs| theirs.try_cmp(ours).ok())
        == Some(Ordering::Equal)
}

fn name_text(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn hex(bytes: &[u8], separator: &str) -> String {
    let digits: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    digits.join(separator)
}

#[cfg(test)]
#[path = "sid_tests.rs"]
mod tests;
