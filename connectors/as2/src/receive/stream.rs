//! The outer layer of a message too large to hold twice: when the host spooled the body to a
//! file and the message is encrypted, the ciphertext streams from the file through the cipher
//! into one buffer, so the peak is the decrypted size, not the message plus its copies.
//! Anything else is read into memory once and takes the ordinary path.

use std::io::{self, BufRead, BufReader, Read};

use bytes::Bytes;

use crate::disposition::ProcessingError;
use crate::envelope::{self, StreamDecryptError};
use crate::headers::As2Headers;
use crate::mime::{ContentType, MimePart, LENIENT_BASE64};
use crate::unwrap::{
    self, record_decryption, Limits, Security, UnwrapError, UnwrapKeys, Unwrapped,
};

/// Opens the body from its start; called again when a fallback must read it a second time.
pub type OpenBody<'a> = &'a dyn Fn() -> io::Result<Box<dyn Read + 'a>>;

/// What became of a streamed body.
pub(crate) enum Streamed {
    /// The encryption was removed while streaming, and the rest unwrapped in memory.
    Unwrapped(Result<Unwrapped, Box<UnwrapError>>),
    /// Not an encrypted message the stream path handles: the body, read whole.
    InMemory(Bytes),
}

pub(crate) fn unwrap_stream(
    headers: &As2Headers,
    open: OpenBody<'_>,
    len: u64,
    keys: &UnwrapKeys<'_>,
    limits: &Limits,
) -> Result<Streamed, Box<UnwrapError>> {
    let ct = ContentType::parse(&headers.content_type);
    let smime_type = ct.param("smime-type").unwrap_or("").to_ascii_lowercase();
    let pkcs7 = ct.is("application/pkcs7-mime") || ct.is("application/x-pkcs7-mime");
    let encrypted = matches!(smime_type.as_str(), "enveloped-data" | "authenveloped-data");
    if !(pkcs7 && encrypted) {
        return read_whole(open, len).map(Streamed::InMemory);
    }
    let reader = open().map_err(|e| local_failure(&e))?;
    let reader = decoded(reader, headers.content_transfer_encoding.as_deref())
        .map_err(|e| local_failure(&e))?;
    // The plaintext is never longer than the ciphertext: the body's size bounds what a forged
    // length field could make the decryptor reserve.
    let max_content = usize::try_from(len).unwrap_or(usize::MAX);
    let decrypted = envelope::decrypt_reader(
        reader,
        keys.decryption_keys,
        &envelope::Limits { max_content },
    );
    let data = match decrypted {
        Ok(data) => Bytes::from(data),
        Err(StreamDecryptError::Unsupported(_)) => {
            return read_whole(open, len).map(Streamed::InMemory)
        }
        Err(StreamDecryptError::Cms(e)) => {
            return Err(Box::new(UnwrapError {
                error: ProcessingError::DecryptionFailed,
                detail: e.to_string(),
                cms_error: Some(e),
                security: Security::default(),
                mic: None,
            }))
        }
        Err(StreamDecryptError::Io(e)) => return Err(local_failure(&e)),
    };
    let mut security = Security::default();
    record_decryption(&mut security, smime_type == "authenveloped-data", &data);
    let inner = MimePart::parse_bytes(data);
    Ok(Streamed::Unwrapped(unwrap::unwrap_within(
        inner, security, keys, limits,
    )))
}

/// The body in one buffer of exactly its size (growing by doubling would double the peak).
fn read_whole(open: OpenBody<'_>, len: u64) -> Result<Bytes, Box<UnwrapError>> {
    let len = usize::try_from(len).map_err(|_| {
        local_failure(&io::Error::other(
            "the message is too large for this machine",
        ))
    })?;
    let mut body = Vec::with_capacity(len);
    open()
        .and_then(|mut r| r.read_to_end(&mut body))
        .map_err(|e| local_failure(&e))?;
    Ok(Bytes::from(body))
}

/// The DER under the outer transfer encoding: base64 when declared, or when undeclared and the
/// content does not start like DER (some senders omit the header), else the bytes as they are.
fn decoded<'a>(
    reader: Box<dyn Read + 'a>,
    encoding: Option<&str>,
) -> io::Result<Box<dyn Read + 'a>> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let declared = encoding.map(|e| e.trim().to_ascii_lowercase());
    let base64 = match declared.as_deref() {
        Some("base64") => true,
        None | Some("") => reader.fill_buf()?.first().is_some_and(|&b| b != 0x30),
        _ => false,
    };
    if !base64 {
        return Ok(Box::new(reader));
    }
    let text = SkipWhitespace(reader);
    Ok(Box::new(base64::read::DecoderReader::new(
        text,
        &LENIENT_BASE64,
    )))
}

/// Base64 text without its line breaks and blanks, which the decoder does not accept.
pub(crate) struct SkipWhitespace<R>(pub R);

impl<R: BufRead> Read for SkipWhitespace<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let available = self.0.fill_buf()?;
            if available.is_empty() || out.is_empty() {
                return Ok(0);
            }
            let mut written = 0;
            let mut consumed = 0;
            for &b in available {
                if written == out.len() {
                    break;
                }
                consumed += 1;
                if !b.is_ascii_whitespace() {
                    out[written] = b;
                    written += 1;
                }
            }
            self.0.consume(consumed);
            // A buffer of only whitespace: read on rather than signal the end.
            if written > 0 {
                return Ok(written);
            }
        }
    }
}

/// The host could not give us the body it spooled: not the sender's fault, and the MDN says so.
fn local_failure(e: &io::Error) -> Box<UnwrapError> {
    Box::new(UnwrapError {
        error: ProcessingError::UnexpectedProcessingError,
        detail: format!("reading the spooled message failed: {e}"),
        cms_error: None,
        security: Security::default(),
        mic: None,
    })
}
