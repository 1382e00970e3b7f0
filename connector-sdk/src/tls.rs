//! The TLS settings section connectors share, so every connector spells HTTPS the same way:
//! `{ certificate, private_key }` PEM files, or `{ pkcs12, password }`.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::abi::{Problem, Tls};
use crate::connector::OpenContext;
use crate::settings::problem;

/// A server certificate and its private key: two PEM files, or one PKCS#12 file. Paths are
/// relative to the deployment folder.
#[derive(Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate file: the server certificate first, then its chain.
    #[serde(default)]
    pub certificate: Option<String>,
    /// PEM private key file.
    #[serde(default)]
    pub private_key: Option<String>,
    /// PKCS#12 (.p12, .pfx) file with the key and the certificate chain, instead of PEM files.
    #[serde(default)]
    pub pkcs12: Option<String>,
    /// Password of the PKCS#12 file.
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles")
            .field("certificate", &self.certificate)
            .field("private_key", &self.private_key)
            .field("pkcs12", &self.pkcs12)
            .finish_non_exhaustive()
    }
}

impl TlsFiles {
    /// Problems with the combination of fields; `at` is the section's JSON pointer (`/tls`).
    pub fn check(&self, at: &str) -> Vec<Problem> {
        match (&self.certificate, &self.private_key, &self.pkcs12) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => Vec::new(),
            (_, _, Some(_)) => vec![problem(
                &format!("{at}/pkcs12"),
                "give either `pkcs12` or `certificate` and `private_key`, not both",
            )],
            (Some(_), None, None) => vec![problem(
                &format!("{at}/private_key"),
                "`certificate` needs its `private_key`",
            )],
            (None, Some(_), None) => vec![problem(
                &format!("{at}/certificate"),
                "`private_key` needs its `certificate`",
            )],
            (None, None, None) => vec![problem(
                at,
                "give `certificate` and `private_key` (PEM), or `pkcs12` and `password`",
            )],
        }
    }

    /// The files as the host needs them, resolved against the deployment folder.
    pub fn resolve(&self, context: &OpenContext) -> Tls {
        let path = |file: &Option<String>| match file {
            Some(file) => context.resolve(file).display().to_string().into(),
            None => Default::default(),
        };
        Tls {
            certificate_file: path(&self.certificate),
            private_key_file: path(&self.private_key),
            pkcs12_file: path(&self.pkcs12),
            pkcs12_password: self.password.clone().unwrap_or_default().into(),
        }
    }
}
