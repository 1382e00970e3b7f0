//! Multiple attachments (RFC 6362): an AS2 1.2 sender puts several payloads in one message by
//! making the (decrypted, verified) content a `multipart/related` entity, one body part per
//! file, each with its own `Content-Type` and `Content-Disposition` file name. Some senders
//! use `multipart/mixed` for the same thing; both are split here.
//!
//! A small message is split here in memory; a large one streams from the payload file into
//! one file per part (`to_files`). The listener submits each part as a document of its own.

mod scan;
mod to_files;

pub use scan::SplitError;
pub use to_files::{split_to_files, PartFile};

use bytes::Bytes;

use crate::headers::filename_from_disposition;
use crate::mime::{MimeError, MimePart};

/// More parts than this in one message are refused: each becomes a stored document and a run.
pub const MAX_ATTACHMENTS: usize = 1000;

/// What a part's headers say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub file_name: Option<String>,
    pub mime_type: String,
    pub content_id: Option<String>,
}

/// A part's file name, MIME type and Content-ID, from its headers.
pub fn describe(part: &MimePart) -> Described {
    Described {
        file_name: part
            .header_str("content-disposition")
            .and_then(|v| filename_from_disposition(&v)),
        mime_type: part
            .content_type()
            .map(|ct| ct.mime_type)
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "application/octet-stream".into()),
        content_id: part.header_str("content-id").map(|id| {
            id.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .into()
        }),
    }
}

/// Whether a payload of this MIME type (lower-cased) carries several attachments.
pub fn is_multiple_type(mime_type: &str) -> bool {
    mime_type == "multipart/related" || mime_type == "multipart/mixed"
}

/// One payload of a message with several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// From the part's `Content-Disposition`, made safe as for a single payload.
    pub file_name: Option<String>,
    /// The part's `type/subtype`, lower-cased; `application/octet-stream` when absent.
    pub mime_type: String,
    /// The part's `Content-ID`, without its angle brackets, when it has one.
    pub content_id: Option<String>,
    /// The part's body, transfer decoding undone.
    pub data: Bytes,
}

/// Whether `payload` carries several attachments (RFC 6362).
pub fn is_multiple(payload: &MimePart) -> bool {
    payload
        .content_type()
        .is_some_and(|ct| is_multiple_type(&ct.mime_type))
}

/// The attachments of a multipart payload, in the order sent.
pub fn split(payload: &MimePart) -> Result<Vec<Attachment>, MimeError> {
    payload
        .multipart_parts()?
        .iter()
        .map(|part| {
            let Described {
                file_name,
                mime_type,
                content_id,
            } = describe(part);
            Ok(Attachment {
                file_name,
                mime_type,
                content_id,
                data: part.decoded_body()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELATED: &[u8] =
        b"Content-Type: multipart/related; boundary=\"b1\"; type=\"application/edi-x12\"\r\n\
\r\n\
--b1\r\n\
Content-Type: application/edi-x12\r\n\
Content-Disposition: attachment; filename=\"one.edi\"\r\n\
Content-ID: <one@x>\r\n\
\r\n\
ISA*00~\r\n\
--b1\r\n\
Content-Type: application/xml\r\n\
Content-Disposition: attachment; filename=\"two.xml\"\r\n\
\r\n\
<a/>\r\n\
--b1\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"three.bin\"\r\n\
\r\n\
AAEC/w==\r\n\
--b1--\r\n";

    #[test]
    fn a_related_payload_splits_into_its_files() {
        let payload = MimePart::parse(RELATED);
        assert!(is_multiple(&payload));
        let parts = split(&payload).unwrap();
        let summary: Vec<(Option<&str>, &str, &[u8])> = parts
            .iter()
            .map(|a| (a.file_name.as_deref(), a.mime_type.as_str(), &a.data[..]))
            .collect();
        assert_eq!(
            summary,
            [
                (Some("one.edi"), "application/edi-x12", &b"ISA*00~"[..]),
                (Some("two.xml"), "application/xml", &b"<a/>"[..]),
                (
                    Some("three.bin"),
                    "application/octet-stream",
                    &[0, 1, 2, 255][..]
                ),
            ]
        );
        assert_eq!(parts[0].content_id.as_deref(), Some("one@x"));
        assert_eq!(parts[1].content_id, None);
    }

    #[test]
    fn a_single_payload_is_not_multiple_and_a_broken_one_is_an_error() {
        let single = MimePart::parse(b"Content-Type: application/edi-x12\r\n\r\nISA~");
        assert!(!is_multiple(&single));
        let unterminated =
            MimePart::parse(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n");
        assert!(is_multiple(&unterminated));
        assert!(split(&unterminated).is_err());
    }
}
