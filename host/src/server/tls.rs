//! TLS for the ports berth binds, through openssl: TLS 1.2 and 1.3 only, Mozilla's intermediate
//! cipher list, HTTP/2 offered by ALPN; the key and certificate from PEM files or PKCS#12; and,
//! where asked, client certificates required and checked against trusted CAs.

use std::path::{Path, PathBuf};

use openssl::pkcs12::Pkcs12;
use openssl::ssl::{
    select_next_proto, AlpnError, SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod,
    SslVerifyMode, SslVersion,
};
use openssl::x509::X509Name;

/// Where a server's key and certificate come from.
#[derive(Clone, PartialEq, Eq)]
pub enum TlsSource {
    Pem {
        certificate: PathBuf,
        private_key: PathBuf,
    },
    Pkcs12 {
        file: PathBuf,
        password: String,
    },
}

/// Build an acceptor; errors name the file that is wrong. With `client_ca`, clients must
/// present a certificate issued by one of the CAs in that PEM file.
pub fn acceptor(source: &TlsSource, client_ca: Option<&Path>) -> Result<SslAcceptor, String> {
    let setup = |e: openssl::error::ErrorStack| format!("cannot set up TLS: {e}");
    let mut builder =
        SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(setup)?;
    builder
        .set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(setup)?;
    match source {
        TlsSource::Pem {
            certificate,
            private_key,
        } => load_pem(&mut builder, certificate, private_key)?,
        TlsSource::Pkcs12 { file, password } => load_pkcs12(&mut builder, file, password)?,
    }
    if let Some(ca) = client_ca {
        let names = X509Name::load_client_ca_file(ca).map_err(|e| {
            format!(
                "cannot read client CA file {} (PEM expected): {e}",
                ca.display()
            )
        })?;
        builder.set_client_ca_list(names);
        builder
            .set_ca_file(ca)
            .map_err(|e| format!("cannot read client CA file {}: {e}", ca.display()))?;
        builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    builder.set_alpn_select_callback(|_, offered| {
        select_next_proto(b"\x02h2\x08http/1.1", offered).ok_or(AlpnError::NOACK)
    });
    Ok(builder.build())
}

fn load_pem(
    builder: &mut SslAcceptorBuilder,
    certificate: &Path,
    private_key: &Path,
) -> Result<(), String> {
    builder
        .set_certificate_chain_file(certificate)
        .map_err(|e| {
            format!(
                "cannot read TLS certificate {} (a PEM file is expected): {e}",
                certificate.display()
            )
        })?;
    builder
        .set_private_key_file(private_key, SslFiletype::PEM)
        .map_err(|e| {
            format!(
                "cannot read TLS private key {} (a PEM file is expected): {e}",
                private_key.display()
            )
        })?;
    builder.check_private_key().map_err(|_| {
        format!(
            "TLS private key {} does not belong to certificate {}",
            private_key.display(),
            certificate.display()
        )
    })
}

fn load_pkcs12(
    builder: &mut SslAcceptorBuilder,
    file: &Path,
    password: &str,
) -> Result<(), String> {
    let bytes = std::fs::read(file)
        .map_err(|e| format!("cannot read PKCS#12 file {}: {e}", file.display()))?;
    let parsed = Pkcs12::from_der(&bytes)
        .and_then(|p| p.parse2(password))
        .map_err(|_| {
            format!(
                "cannot open PKCS#12 file {}: not PKCS#12, or the password is wrong",
                file.display()
            )
        })?;
    let (Some(key), Some(certificate)) = (parsed.pkey, parsed.cert) else {
        return Err(format!(
            "PKCS#12 file {} lacks a private key or a certificate",
            file.display()
        ));
    };
    let invalid = |e: openssl::error::ErrorStack| {
        format!("PKCS#12 file {} cannot be used: {e}", file.display())
    };
    builder.set_private_key(&key).map_err(invalid)?;
    builder.set_certificate(&certificate).map_err(invalid)?;
    for ca in parsed.ca.into_iter().flatten() {
        builder.add_extra_chain_cert(ca).map_err(invalid)?;
    }
    builder.check_private_key().map_err(|_| {
        format!(
            "the key in PKCS#12 file {} does not belong to its certificate",
            file.display()
        )
    })
}
