//! An address berth binds: plain or HTTPS, and whether client certificates are required.

use std::path::PathBuf;

use super::tls::TlsSource;

/// An address to bind, with its TLS settings when it serves HTTPS.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub address: String,
    pub port: u16,
    pub tls: Option<TlsSource>,
    /// Require client certificates issued by the CAs in this PEM file.
    pub client_ca: Option<PathBuf>,
}

impl Endpoint {
    /// A port a connector asked for.
    pub fn of_plugin(endpoint: &berth_connector_sdk::abi::Endpoint) -> Self {
        let tls = endpoint.tls.as_ref().into_option().map(|t| {
            if t.pkcs12_file.is_empty() {
                TlsSource::Pem {
                    certificate: PathBuf::from(t.certificate_file.as_str()),
                    private_key: PathBuf::from(t.private_key_file.as_str()),
                }
            } else {
                TlsSource::Pkcs12 {
                    file: PathBuf::from(t.pkcs12_file.as_str()),
                    password: t.pkcs12_password.to_string(),
                }
            }
        });
        Self {
            address: endpoint.address.to_string(),
            port: endpoint.port,
            tls,
            client_ca: None,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.address, self.port)
    }
}
