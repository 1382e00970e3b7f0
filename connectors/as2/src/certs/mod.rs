//! Loading certificates and private keys in the formats partners hand over.

use openssl::pkcs12::Pkcs12;
use openssl::pkcs7::Pkcs7;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum CertError {
    #[error("no certificate found in the data (PEM, DER, PKCS#7 and PKCS#12 were tried)")]
    NoCertificate,
    #[error("no private key found in the data (PEM, DER and PKCS#12 were tried)")]
    NoPrivateKey,
    #[error("PKCS#12 could not be opened: {0}")]
    Pkcs12(String),
    #[error("the private key does not match the certificate")]
    KeyMismatch,
}

/// A certificate and its private key (ours: for decryption and MDN signing).
#[derive(Clone)]
pub struct KeyPair {
    pub certificate: X509,
    pub private_key: PKey<Private>,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("KeyPair")
            .field("certificate", &crate::cms::subject_text(&self.certificate))
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// Pairs a certificate with its key, checking that they belong together.
    pub fn new(certificate: X509, private_key: PKey<Private>) -> Result<KeyPair, CertError> {
        let public = certificate
            .public_key()
            .map_err(|_| CertError::KeyMismatch)?;
        if !public.public_eq(&private_key) {
            return Err(CertError::KeyMismatch);
        }
        Ok(KeyPair {
            certificate,
            private_key,
        })
    }

    /// Loads certificate and key from a PKCS#12 file.
    pub fn from_pkcs12(data: &[u8], password: &str) -> Result<KeyPair, CertError> {
        let parsed = open_pkcs12(data, password)?;
        let cert = parsed.cert.ok_or(CertError::NoCertificate)?;
        let key = parsed.pkey.ok_or(CertError::NoPrivateKey)?;
        KeyPair::new(cert, key)
    }
}

fn open_pkcs12(data: &[u8], password: &str) -> Result<openssl::pkcs12::ParsedPkcs12_2, CertError> {
    let p12 = Pkcs12::from_der(data).map_err(|e| CertError::Pkcs12(crate::cms::reason(&e)))?;
    p12.parse2(password)
        .map_err(|e| CertError::Pkcs12(crate::cms::reason(&e)))
}

/// Loads every certificate from PEM (one or many, or a PEM PKCS#7), DER,
/// DER PKCS#7 (.p7b) or PKCS#12 (`password` needed; its own cert first,
/// then its chain).
pub fn load_certificates(data: &[u8], password: Option<&str>) -> Result<Vec<X509>, CertError> {
    let is_pem = data.windows(11).any(|w| w == b"-----BEGIN ");
    if is_pem {
        if let Ok(p7) = Pkcs7::from_pem(data) {
            if let Some(certs) = pkcs7_certs(&p7) {
                return Ok(certs);
            }
        }
        return match X509::stack_from_pem(data) {
            Ok(certs) if !certs.is_empty() => Ok(certs),
            _ => Err(CertError::NoCertificate),
        };
    }
    if let Ok(cert) = X509::from_der(data) {
        return Ok(vec![cert]);
    }
    if let Ok(p7) = Pkcs7::from_der(data) {
        if let Some(certs) = pkcs7_certs(&p7) {
            return Ok(certs);
        }
    }
    if Pkcs12::from_der(data).is_ok() {
        let parsed = open_pkcs12(data, password.unwrap_or(""))?;
        let mut certs: Vec<X509> = parsed.cert.into_iter().collect();
        if let Some(chain) = parsed.ca {
            certs.extend(chain.iter().map(|c| c.to_owned()));
        }
        if !certs.is_empty() {
            return Ok(certs);
        }
    }
    Err(CertError::NoCertificate)
}

fn pkcs7_certs(p7: &Pkcs7) -> Option<Vec<X509>> {
    let certs: Vec<X509> = p7
        .signed()?
        .certificates()?
        .iter()
        .map(|c| c.to_owned())
        .collect();
    (!certs.is_empty()).then_some(certs)
}

/// Loads a private key from PEM (PKCS#1, PKCS#8, encrypted PKCS#8 with
/// `password`), DER (PKCS#1/PKCS#8) or PKCS#12.
pub fn load_private_key(data: &[u8], password: Option<&str>) -> Result<PKey<Private>, CertError> {
    let is_pem = data.windows(11).any(|w| w == b"-----BEGIN ");
    if is_pem {
        let key = match password {
            Some(p) => PKey::private_key_from_pem_passphrase(data, p.as_bytes()),
            None => PKey::private_key_from_pem(data),
        };
        return key.map_err(|_| CertError::NoPrivateKey);
    }
    if let Ok(key) = PKey::private_key_from_der(data) {
        return Ok(key);
    }
    if let Some(p) = password {
        if let Ok(key) = PKey::private_key_from_pkcs8_passphrase(data, p.as_bytes()) {
            return Ok(key);
        }
    }
    if Pkcs12::from_der(data).is_ok() {
        return open_pkcs12(data, password.unwrap_or(""))?
            .pkey
            .ok_or(CertError::NoPrivateKey);
    }
    Err(CertError::NoPrivateKey)
}

#[cfg(test)]
mod tests;
