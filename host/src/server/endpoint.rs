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
        Self {
            address: endpoint.address.to_string(),
            port: endpoint.port,
            tls: endpoint.tls.as_ref().into_option().map(tls_source),
            client_ca: None,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.address, self.port)
    }
}

/// Where the key and certificate of a port come from, as the SDK's TLS settings resolve them
/// (for connectors and the shared web server alike).
pub fn tls_source(tls: &berth_connector_sdk::abi::Tls) -> TlsSource {
    use berth_connector_sdk::abi::Tls;
    match tls {
        Tls::Pem {
            certificate_file,
            private_key_file,
        } => TlsSource::Pem {
            certificate: PathBuf::from(certificate_file.as_str()),
            private_key: PathBuf::from(private_key_file.as_str()),
        },
        Tls::Pkcs12 { file, password } => TlsSource::Pkcs12 {
            file: PathBuf::from(file.as_str()),
            password: password.expose().to_string(),
        },
    }
}
