//! AS2 request headers (RFC 4130 §6) and receipt request options (§7.3).

use crate::micalg::MicAlg;
use crate::mime::{unquote, ContentType};
use thiserror::Error;

/// Why the request headers are unusable; the plugin answers HTTP 400.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("missing required header {0}")]
    Missing(&'static str),
    #[error("invalid {header} header: {reason}")]
    Invalid {
        header: &'static str,
        reason: String,
    },
}

impl HeaderError {
    /// The header the error is about.
    pub fn header(&self) -> &'static str {
        match self {
            HeaderError::Missing(h) => h,
            HeaderError::Invalid { header, .. } => header,
        }
    }
}

/// The AS2 headers of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct As2Headers {
    /// AS2-Version as sent (`1.0`, `1.1`, `1.2`, `1.3`); absent means 1.0 (see `ediint`).
    pub as2_version: Option<String>,
    /// The EDIINT-Features the partner announced (RFC 6017), as sent; unknown ones included.
    pub ediint_features: Vec<String>,
    /// Unquoted AS2 identifiers, case preserved.
    pub as2_from: String,
    pub as2_to: String,
    /// Message-ID exactly as received, angle brackets included.
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub disposition_notification_to: Option<String>,
    pub disposition_notification_options: Option<NotificationOptions>,
    /// URL for an asynchronous MDN.
    pub receipt_delivery_option: Option<String>,
    /// Raw Content-Type value.
    pub content_type: String,
    pub content_transfer_encoding: Option<String>,
    pub content_disposition: Option<String>,
}

impl As2Headers {
    /// Parses the HTTP request headers (names case-insensitive, values raw bytes).
    pub fn parse(headers: &[(String, Vec<u8>)]) -> Result<As2Headers, HeaderError> {
        let get = |name: &str| -> Option<String> {
            headers
                .iter()
                .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| String::from_utf8_lossy(v).trim().to_string())
        };
        let as2_from = as2_name(get("as2-from"), "AS2-From")?;
        let as2_to = as2_name(get("as2-to"), "AS2-To")?;
        let content_type = get("content-type")
            .filter(|v| !v.is_empty())
            .ok_or(HeaderError::Missing("Content-Type"))?;
        let disposition_notification_options = get("disposition-notification-options")
            .filter(|v| !v.is_empty())
            .map(|v| NotificationOptions::parse(&v));
        Ok(As2Headers {
            as2_version: get("as2-version").filter(|v| !v.is_empty()),
            ediint_features: get("ediint-features")
                .map(|v| crate::ediint::parse_features(&v))
                .unwrap_or_default(),
            as2_from,
            as2_to,
            message_id: get("message-id").filter(|v| !v.is_empty()),
            subject: get("subject"),
            disposition_notification_to: get("disposition-notification-to")
                .filter(|v| !v.is_empty()),
            disposition_notification_options,
            receipt_delivery_option: get("receipt-delivery-option").filter(|v| !v.is_empty()),
            content_type,
            content_transfer_encoding: get("content-transfer-encoding"),
            content_disposition: get("content-disposition"),
        })
    }

    /// What receipt the sender asked for, if any (RFC 4130 §7.3).
    pub fn receipt_request(&self) -> Option<ReceiptRequest> {
        let to = self.disposition_notification_to.clone()?;
        let opts = self
            .disposition_notification_options
            .clone()
            .unwrap_or_default();
        Some(ReceiptRequest {
            notification_to: to,
            async_url: self.receipt_delivery_option.clone(),
            signed: opts.wants_signed_receipt(),
            options: opts,
        })
    }

    /// The safe file name from the Content-Disposition header, if any.
    pub fn filename(&self) -> Option<String> {
        self.content_disposition
            .as_deref()
            .and_then(filename_from_disposition)
    }
}

/// Unquotes and validates an AS2 name: 1 to 128 printable ASCII characters.
fn as2_name(value: Option<String>, header: &'static str) -> Result<String, HeaderError> {
    let raw = value.ok_or(HeaderError::Missing(header))?;
    let name = unquote(&raw);
    let invalid = |reason: &str| HeaderError::Invalid {
        header,
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(invalid("empty"));
    }
    if name.chars().count() > 128 {
        return Err(invalid("longer than 128 characters"));
    }
    if !name.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
        return Err(invalid("not printable ASCII"));
    }
    Ok(name)
}

/// One `name=importance, value, value` option.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionParam {
    pub required: bool,
    /// Values in the sender's order of preference, lower-cased.
    pub values: Vec<String>,
}

/// Disposition-Notification-Options (RFC 4130 §7.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationOptions {
    pub signed_receipt_protocol: Option<OptionParam>,
    pub signed_receipt_micalg: Option<OptionParam>,
}

/// Outcome of negotiating the receipt's MIC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MicAlgChoice {
    /// The first algorithm of the sender's list that we support.
    Chosen(MicAlg),
    /// Nothing requested, or nothing supported but the option was optional.
    Default,
    /// The option was `required` and we support none of the listed algorithms.
    Unsupported,
}

impl NotificationOptions {
    pub fn parse(value: &str) -> NotificationOptions {
        let mut opts = NotificationOptions::default();
        for param in value.split(';') {
            let Some((name, rest)) = param.split_once('=') else {
                continue;
            };
            let mut items = rest.split(',').map(|s| unquote(s).to_ascii_lowercase());
            let importance = items.next().unwrap_or_default();
            let parsed = OptionParam {
                required: importance == "required",
                values: items.filter(|s| !s.is_empty()).collect(),
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "signed-receipt-protocol" => opts.signed_receipt_protocol = Some(parsed),
                "signed-receipt-micalg" => opts.signed_receipt_micalg = Some(parsed),
                _ => {}
            }
        }
        opts
    }

    /// True when a pkcs7-signature receipt is asked for.
    pub fn wants_signed_receipt(&self) -> bool {
        self.signed_receipt_protocol
            .as_ref()
            .is_some_and(|p| p.values.iter().any(|v| v == "pkcs7-signature"))
    }

    /// True when a signed receipt is required in a protocol we do not speak.
    pub fn requires_unsupported_protocol(&self) -> bool {
        self.signed_receipt_protocol
            .as_ref()
            .is_some_and(|p| p.required && !self.wants_signed_receipt())
    }

    /// Picks the receipt MIC algorithm, honouring the sender's order.
    pub fn micalg(&self) -> MicAlgChoice {
        let Some(param) = &self.signed_receipt_micalg else {
            return MicAlgChoice::Default;
        };
        if let Some(alg) = param.values.iter().find_map(|v| MicAlg::from_name(v)) {
            return MicAlgChoice::Chosen(alg);
        }
        if param.required {
            MicAlgChoice::Unsupported
        } else {
            MicAlgChoice::Default
        }
    }
}

/// The receipt the sender asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRequest {
    /// Disposition-Notification-To value (informational in AS2).
    pub notification_to: String,
    /// Receipt-Delivery-Option: send the MDN asynchronously to this URL.
    pub async_url: Option<String>,
    /// A signed (pkcs7-signature) MDN was asked for.
    pub signed: bool,
    pub options: NotificationOptions,
}

/// Extracts a safe file name from a Content-Disposition value.
pub fn filename_from_disposition(value: &str) -> Option<String> {
    let cd = ContentType::parse(value);
    let name = match cd.param("filename*") {
        Some(ext) => decode_rfc2231(ext),
        None => cd.param("filename").map(str::to_string)?,
    };
    safe_filename(&name)
}

/// `charset'lang'percent-encoded` (RFC 2231); UTF-8 and ASCII only.
fn decode_rfc2231(value: &str) -> String {
    let encoded = value.splitn(3, '\'').nth(2).unwrap_or(value);
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(v) = encoded
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Makes a sender-chosen name safe to use as a file name: no directories,
/// no `..`, no NULs or control characters. `None` when nothing usable remains.
pub fn safe_filename(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.replace("..", "");
    // Dots and blanks together: `. .x` must not come out as `.x`, nor `. .` as `.`.
    let cleaned = cleaned
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end();
    (!cleaned.is_empty()).then(|| cleaned.to_string())
}

#[cfg(test)]
mod tests;
