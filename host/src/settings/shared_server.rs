//! The shared web server: the connectors that need no port of their own (AS2 Shared Server)
//! are served here, under one set of ports, TLS settings and authentication.

use berth_connector_sdk::auth::BasicAuth;
use berth_connector_sdk::tls::TlsPort;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedServer {
    #[serde(default = "any_address")]
    pub address: String,
    /// The plain HTTP port (the vendor's default is 9090).
    #[serde(default = "shared_port")]
    pub port: u16,
    /// An HTTPS port beside the plain one, with its key and certificate: PEM files, or one
    /// PKCS#12 file (the same section as every connector's).
    #[serde(default)]
    pub tls: Option<TlsPort>,
    /// The URL partners use to reach this server (e.g. `https://as2.example.com`), when it
    /// differs from the address berth binds (a load balancer, a DNS name); used in logs.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Who may send: `none`, `basic` (with `basic_auth`), or `client_certificate` (HTTPS with
    /// a certificate issued by a CA in `client_ca`; the plain port then refuses every request).
    #[serde(default)]
    pub authentication: Authentication,
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// PEM file of the CAs whose client certificates are accepted.
    #[serde(default)]
    pub client_ca: Option<String>,
}

impl Default for SharedServer {
    fn default() -> Self {
        Self {
            address: any_address(),
            port: shared_port(),
            tls: None,
            base_url: None,
            authentication: Authentication::None,
            basic_auth: None,
            client_ca: None,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authentication {
    #[default]
    None,
    Basic,
    ClientCertificate,
}

impl SharedServer {
    /// Combinations the types cannot rule out: (JSON pointer, problem).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if let Some(tls) = &self.tls {
            // The same rules as every connector's TLS section, from the SDK.
            for problem in tls.files.check("/shared_server/tls") {
                problems.push((problem.pointer.into_string(), problem.message.into_string()));
            }
            if tls.port == self.port {
                problems.push((
                    "/shared_server/tls/port".to_string(),
                    "the HTTPS port must differ from the HTTP port".to_string(),
                ));
            }
        }
        match self.authentication {
            Authentication::Basic if self.basic_auth.is_none() => problems.push((
                "/shared_server/basic_auth".to_string(),
                "`authentication: basic` needs `basic_auth: { user, password }`".to_string(),
            )),
            Authentication::ClientCertificate if self.tls.is_none() || self.client_ca.is_none() => {
                problems.push((
                    "/shared_server/client_ca".to_string(),
                    "`authentication: client_certificate` needs `tls` and `client_ca`".to_string(),
                ))
            }
            _ => {}
        }
        problems
    }
}

fn any_address() -> String {
    "0.0.0.0".to_string()
}

fn shared_port() -> u16 {
    9090
}

#[cfg(test)]
mod tests {
    use berth_connector_sdk::settings::parse;

    use super::*;

    #[test]
    fn unknown_fields_in_tls_and_basic_auth_are_refused_at_the_field() {
        let err = parse::<SharedServer>(r#"{"tls":{"port":9443,"pkcs12":"a.p12","pasword":"x"}}"#)
            .unwrap_err();
        assert_eq!(err.pointer.as_str(), "/tls/pasword");
        assert!(
            err.message.contains("unknown field `pasword`"),
            "{}",
            err.message
        );
        let err = parse::<SharedServer>(r#"{"basic_auth":{"user":"u","password":"p","x":1}}"#)
            .unwrap_err();
        assert_eq!(err.pointer.as_str(), "/basic_auth/x");
    }

    #[test]
    fn debug_never_shows_a_password() {
        let server: SharedServer = parse(
            r#"{"tls":{"port":9443,"pkcs12":"a.p12","password":"secret-tls"},
                "authentication":"basic","basic_auth":{"user":"u","password":"secret-basic"}}"#,
        )
        .unwrap();
        assert!(server.problems().is_empty());
        let printed = format!("{server:?}");
        assert!(printed.contains("a.p12"), "{printed}");
        assert!(!printed.contains("secret-"), "{printed}");
    }
}
