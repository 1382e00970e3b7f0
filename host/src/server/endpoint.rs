//! An address berth binds: plain or HTTPS, and whether client certificates are required.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use berth_connector_sdk::abi::Listen;

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
    /// The port a connector asked for; `None` for a shared-server endpoint.
    pub fn of_plugin(endpoint: &berth_connector_sdk::abi::Endpoint) -> Option<Self> {
        match endpoint.listen()? {
            Listen::Port { address, port, tls } => Some(Self {
                address: address.to_string(),
                port: *port,
                tls: tls.as_ref().into_option().map(tls_source),
                client_ca: None,
            }),
            Listen::Shared { .. } => None,
        }
    }

    /// The address bound, as a URL: what the socket listens on (`http://0.0.0.0:8080`).
    pub fn url(&self) -> String {
        format!(
            "{}://{}:{}",
            self.scheme(),
            bracket(&self.address),
            self.port
        )
    }

    /// The URL a partner reaches this port at, without a path: a wildcard address is replaced
    /// by this machine's host name, since `0.0.0.0` is no address a partner can send to.
    pub fn partner_url(&self) -> String {
        format!(
            "{}://{}:{}",
            self.scheme(),
            bracket(&partner_host(&self.address)),
            self.port
        )
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// An IPv6 address in brackets, as URLs and socket addresses write it; others as they are.
pub fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// The host part of a partner URL for a bound address: the address itself, or this machine's
/// host name when it is a wildcard (`0.0.0.0`, `::`).
pub fn partner_host(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => host_name().to_string(),
        _ => address.to_string(),
    }
}

/// This machine's host name, as `hostname` prints it; `localhost` when the system has none.
pub fn host_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut buffer = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes at most that many
        // bytes and we stop at the first NUL (or the buffer's end when truncated).
        let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
        let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
        match std::str::from_utf8(&buffer[..end]) {
            Ok(name) if rc == 0 && !name.is_empty() => name.to_string(),
            _ => "localhost".to_string(),
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(address: &str) -> Endpoint {
        Endpoint {
            address: address.to_string(),
            port: 8080,
            tls: None,
            client_ca: None,
        }
    }

    #[test]
    fn wildcard_addresses_become_the_host_name() {
        let name = host_name();
        assert_eq!(
            plain("0.0.0.0").partner_url(),
            format!("http://{name}:8080")
        );
        assert_eq!(plain("::").partner_url(), format!("http://{name}:8080"));
        assert_eq!(plain("127.0.0.1").partner_url(), "http://127.0.0.1:8080");
        assert_eq!(plain("::1").partner_url(), "http://[::1]:8080");
        assert_eq!(plain("0.0.0.0").url(), "http://0.0.0.0:8080");
    }
}
