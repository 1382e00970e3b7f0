//! The certificates and keys a connector's settings use, reported to the host so that it can
//! warn before one expires (`berth certs`, the expiry gauge, `berth validate`) and refuse a
//! private key that does not belong to its certificate.
//!
//! A connector reports them through [`crate::Connector::connection_certificates`] and
//! [`crate::Connector::operation_certificates`]; both default to reporting nothing. A plugin built
//! before the root module had this function reports nothing as well (see [`crate::module`]).

use abi_stable::std_types::{ROption, RString, RVec};
use abi_stable::StableAbi;

use crate::abi::Tls;

/// What a certificate is used for: free text, because it is what `berth certs` and the gauge's
/// `role` label show; these are the roles berth's own connectors report.
pub mod role {
    /// A partner's certificate that verifies its signatures.
    pub const PARTNER_SIGNATURE: &str = "partner-signature";
    /// Our key and certificate that decrypt what partners encrypt to us.
    pub const DECRYPTION: &str = "decryption";
    /// Our key and certificate that sign receipts (AS2 MDNs).
    pub const MDN_SIGNING: &str = "mdn-signing";
    /// A server certificate and key for HTTPS.
    pub const TLS: &str = "tls";
}

/// Whether a private key goes with the reported certificate. Integer-tagged so that later SDKs
/// can add states.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyCheck(pub u8);

impl KeyCheck {
    /// No private key is configured: a partner's certificate.
    pub const NO_KEY: Self = Self(0);
    /// A private key is configured and its public key is the certificate's.
    pub const MATCHES: Self = Self(1);
    /// A private key is configured and belongs to another certificate.
    pub const MISMATCH: Self = Self(2);
    /// A private key is configured and the host checks it, from [`CertificateUse::tls`].
    pub const BY_HOST: Self = Self(3);
}

/// One certificate file (or key file holding its certificate) a section of settings uses.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct CertificateUse {
    /// What it is used for: one of [`role`], or a connector's own word.
    pub role: RString,
    /// The file as written in the settings (relative to the deployment folder).
    pub file: RString,
    /// JSON pointer (RFC 6901) of the setting that names the file, for `file:line` messages.
    pub pointer: RString,
    /// The certificates read from the file, each DER or PEM; the first is the one a configured
    /// key belongs to. Empty when the host reads them from `tls`, or when `error` says why not.
    pub certificates: RVec<RVec<u8>>,
    /// Whether a private key goes with the first certificate.
    pub key: KeyCheck,
    /// The private key's file as written, when it is configured.
    pub key_file: ROption<RString>,
    /// The TLS files, when the host reads the certificate and checks the key itself (the SDK's
    /// [`crate::tls::TlsFiles`] sections, read the way the host reads them to serve HTTPS).
    pub tls: ROption<Tls>,
    /// Why the file could not be read or parsed; the certificates are then unknown.
    pub error: ROption<RString>,
}

impl CertificateUse {
    /// Certificates the connector read itself, with its verdict on the key.
    pub fn read(
        role: &str,
        file: &str,
        pointer: &str,
        certificates: Vec<Vec<u8>>,
        key: KeyCheck,
    ) -> Self {
        Self {
            role: role.into(),
            file: file.into(),
            pointer: pointer.into(),
            certificates: certificates.into_iter().map(RVec::from).collect(),
            key,
            key_file: ROption::RNone,
            tls: ROption::RNone,
            error: ROption::RNone,
        }
    }

    /// The same, naming the private key's file.
    pub fn with_key_file(mut self, file: &str) -> Self {
        self.key_file = ROption::RSome(file.into());
        self
    }

    /// A file that could not be read or parsed, with the reason.
    pub fn unreadable(role: &str, file: &str, pointer: &str, error: impl Into<String>) -> Self {
        Self {
            error: ROption::RSome(error.into().into()),
            ..Self::read(role, file, pointer, Vec::new(), KeyCheck::NO_KEY)
        }
    }
}

/// Which settings section the host asks about.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section(pub u8);

impl Section {
    pub const CONNECTION: Self = Self(1);
    pub const OPERATION: Self = Self(2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_keeps_the_file_and_says_why() {
        let u = CertificateUse::unreadable(role::TLS, "a.pem", "/tls/certificate", "gone");
        assert_eq!(u.file.as_str(), "a.pem");
        assert_eq!(u.pointer.as_str(), "/tls/certificate");
        assert!(u.certificates.is_empty());
        assert_eq!(u.error.as_ref().map(|e| e.as_str()), ROption::RSome("gone"));
    }
}
