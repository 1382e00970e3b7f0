//! The CEM response as the AS2 message that carries it to the request's `ResponseURL`: the
//! response XML, signed with our current signing key (multipart/signed, detached
//! pkcs7-signature, as an AS2 message with a signature is), from us (the request's AS2-To) to
//! the partner (its AS2-From). The partner's product checks the signature with the certificate
//! it already trusts for us; encryption is not needed, the document holds no secret.

use super::CEM_XML_TYPE;
use crate::certs::KeyPair;
use crate::cms;
use crate::mdn::{new_boundary, new_message_id, quote_as2_name, signed_body};
use crate::micalg::MicAlg;

/// An AS2 message ready to POST: its headers and body.
#[derive(Debug, Clone)]
pub struct ResponseMessage {
    pub message_id: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Wraps `xml` (from [`super::xml::build_response`]) into a signed AS2 message.
pub fn build_response_message(
    xml: &str,
    ours: &str,
    partner: &str,
    signer: &KeyPair,
    alg: MicAlg,
) -> Result<ResponseMessage, cms::CmsError> {
    let message_id = new_message_id(ours);
    let mut entity =
        format!("Content-Type: {CEM_XML_TYPE}\r\nContent-Transfer-Encoding: binary\r\n\r\n")
            .into_bytes();
    // The signature covers the canonical (CRLF) form, which is also what travels.
    entity.extend_from_slice(xml.replace("\r\n", "\n").replace('\n', "\r\n").as_bytes());
    let signature = cms::sign_detached(&entity, &signer.certificate, &signer.private_key, alg)?;
    let boundary = new_boundary();
    let headers = vec![
        ("AS2-Version".to_string(), "1.2".to_string()),
        ("AS2-From".to_string(), quote_as2_name(ours)),
        ("AS2-To".to_string(), quote_as2_name(partner)),
        ("Message-ID".to_string(), message_id.clone()),
        ("Subject".to_string(), "Certificate Exchange Response".to_string()),
        ("MIME-Version".to_string(), "1.0".to_string()),
        (
            "Content-Type".to_string(),
            format!(
                "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg={}; boundary=\"{boundary}\"",
                alg.name(false)
            ),
        ),
    ];
    Ok(ResponseMessage {
        message_id,
        headers,
        body: signed_body(&entity, &signature, &boundary),
    })
}
