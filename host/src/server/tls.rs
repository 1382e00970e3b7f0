//! TLS for the ports berth binds, through openssl: TLS 1.2 and 1.3 only, Mozilla's intermediate
//! cipher list, HTTP/2 offered by ALPN.

use std::path::Path;

use openssl::ssl::{select_next_proto, AlpnError, SslAcceptor, SslFiletype, SslMethod, SslVersion};

/// Build an acceptor from PEM files; the error names the file that is wrong.
pub fn acceptor(certificate: &Path, private_key: &Path) -> Result<SslAcceptor, String> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    builder
        .set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
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
    })?;
    builder.set_alpn_select_callback(|_, offered| {
        select_next_proto(b"\x02h2\x08http/1.1", offered).ok_or(AlpnError::NOACK)
    });
    Ok(builder.build())
}
