//! The CEM XML documents: reading an `EDIINTCertificateExchangeRequest`, writing an
//! `EDIINTCertificateExchangeResponse` (draft-meadors-certificate-exchange-14, section 4).
//!
//! Elements are matched by local name: implementations disagree on the `ediint` namespace URI
//! (the draft's `rfcXXXX.txt` placeholder and its variants), so insisting on one would refuse
//! real partners for no gain in safety (the document is already signed by the partner).

use super::CemError;
use roxmltree::{Document, Node};

/// One `TrustRequest`: a certificate the partner asks us to trust, as written in the XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRequestXml {
    pub response_url: String,
    pub respond_by: String,
    pub usages: Vec<String>,
    pub issuer_name: String,
    pub serial_number: String,
    pub content_id: String,
}

/// A request document: its id and one or more trust requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestXml {
    pub request_id: String,
    pub trust: Vec<TrustRequestXml>,
}

/// Bounds a partner-supplied document before it is parsed into a tree.
const MAX_XML: usize = 256 * 1024;

pub fn parse_request(xml: &[u8]) -> Result<RequestXml, CemError> {
    if xml.len() > MAX_XML {
        return Err(CemError::Xml(format!("document of {} bytes", xml.len())));
    }
    let text = std::str::from_utf8(xml).map_err(|_| CemError::Xml("not UTF-8".into()))?;
    let text = text.trim_start_matches('\u{feff}');
    let doc = Document::parse(text).map_err(|e| CemError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "EDIINTCertificateExchangeRequest" {
        return Err(CemError::Xml(format!(
            "root element is {}, not EDIINTCertificateExchangeRequest",
            root.tag_name().name()
        )));
    }
    let request_id = required_text(root, "RequestID")?;
    let trust = children(root, "TrustRequest")
        .map(parse_trust)
        .collect::<Result<Vec<_>, _>>()?;
    if trust.is_empty() {
        return Err(CemError::Xml("no TrustRequest".into()));
    }
    Ok(RequestXml { request_id, trust })
}

fn parse_trust(node: Node) -> Result<TrustRequestXml, CemError> {
    let entity = children(node, "EndEntity")
        .next()
        .ok_or_else(|| CemError::Xml("TrustRequest without EndEntity".into()))?;
    let issuer_serial = children(entity, "X509IssuerSerial")
        .next()
        .ok_or_else(|| CemError::Xml("EndEntity without X509IssuerSerial".into()))?;
    let usages: Vec<String> = children(node, "CertUsage").map(text_of).collect();
    if usages.is_empty() {
        return Err(CemError::Xml("TrustRequest without CertUsage".into()));
    }
    Ok(TrustRequestXml {
        response_url: required_text(node, "ResponseURL")?,
        respond_by: required_text(node, "RespondByDate")?,
        usages,
        issuer_name: required_text(issuer_serial, "X509IssuerName")?,
        serial_number: required_text(issuer_serial, "X509SerialNumber")?,
        content_id: required_text(entity, "ContentID")?,
    })
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |n| n.is_element() && n.tag_name().name() == name)
}

fn text_of(node: Node) -> String {
    node.text().unwrap_or("").trim().to_string()
}

fn required_text(node: Node, name: &'static str) -> Result<String, CemError> {
    let value = children(node, name).next().map(text_of).unwrap_or_default();
    if value.is_empty() {
        return Err(CemError::Xml(format!("missing or empty {name}")));
    }
    Ok(value)
}

/// The answer to one trust request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    Accepted,
    Rejected(String),
}

/// One `TrustResponse`, naming the certificate as the request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustResponse {
    pub issuer_name: String,
    pub serial_number: String,
    pub status: CertStatus,
}

/// The namespace berth writes; readers match by local name (see the module note).
pub const EDIINT_NS: &str = "http://www.ietf.org/rfc/rfcXXXX.txt";
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Builds the `EDIINTCertificateExchangeResponse` for `request_id`.
pub fn build_response(request_id: &str, responses: &[TrustResponse]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<ediint:EDIINTCertificateExchangeResponse xmlns:ediint=\"{EDIINT_NS}\" xmlns:ds=\"{DSIG_NS}\">\n"
    ));
    out.push_str(&format!(
        "  <ediint:RequestID>{}</ediint:RequestID>\n",
        escape(request_id)
    ));
    for r in responses {
        out.push_str("  <ediint:TrustResponse>\n");
        match &r.status {
            CertStatus::Accepted => {
                out.push_str("    <ediint:CertStatus>Accepted</ediint:CertStatus>\n")
            }
            CertStatus::Rejected(reason) => {
                out.push_str("    <ediint:CertStatus>Rejected</ediint:CertStatus>\n");
                out.push_str(&format!(
                    "    <ediint:RejectionReason>{}</ediint:RejectionReason>\n",
                    escape(reason)
                ));
            }
        }
        out.push_str(&format!(
            "    <ds:X509IssuerSerial>\n      <ds:X509IssuerName>{}</ds:X509IssuerName>\n      <ds:X509SerialNumber>{}</ds:X509SerialNumber>\n    </ds:X509IssuerSerial>\n",
            escape(&r.issuer_name),
            escape(&r.serial_number)
        ));
        out.push_str("  </ediint:TrustResponse>\n");
    }
    out.push_str("</ediint:EDIINTCertificateExchangeResponse>\n");
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters cannot appear in XML 1.0 at all; a reason never needs them.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
