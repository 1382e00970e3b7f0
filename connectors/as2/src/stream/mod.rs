//! Unwrapping a large message as one stream, in bounded memory: from the spooled body to a
//! caller's sink, every layer reads the one around it as a reader (decryption, BER
//! segments, zlib, MIME boundaries split across reads, transfer encodings), signatures and
//! MICs are hashed as the bytes pass, and the payload is written once, to the sink.
//!
//! The outcome is what the in-memory path ([`crate::unwrap`], [`crate::receive`]) gives for
//! the same message: layers, signer, MIC and its algorithm, file name, content type, and the
//! same dispositions, the outermost failing layer deciding. Two things differ by nature:
//! the payload reaches the sink before the last check (a GCM tag, a signature at the end of
//! the message) is known, so the sink's bytes count only when the result is `Ok`; and a
//! digest the first pass could not know it needed (a signer using another digest than its
//! `micalg` announced, text signed in canonical form but sent with bare LFs, the MIC of a
//! message whose signature failed) is computed by reading the body again, without writing
//! the payload a second time.
//!
//! Memory: a few read buffers per layer (64 KiB each), the signature part, the header
//! blocks, whatever the size of the message. The in-memory path stays the fast one for the
//! small messages most partners send.

mod cms_read;
pub(crate) mod cte;
mod cx;
mod entity;
mod fail;
mod hash;
mod layers;
mod multipart;
mod receive;
mod verify;

#[cfg(test)]
pub(crate) mod tests;

pub use receive::{receive_to, ReceivedMeta};

use std::io::{self, Read, Write};

use bytes::Bytes;

use crate::disposition::ProcessingError;
use crate::headers::As2Headers;
use crate::mic::{canonical_entity, Mic};
use crate::micalg::MicAlg;
use crate::mime::{ContentType, MimePart};
use crate::receive::{content_headers, MdnContext, OpenBody};
use crate::unwrap::{self, Limits, Security, UnwrapError, UnwrapKeys};

use cx::{Cx, Facts, Payload, Plan};
use fail::{Fail, Spool};
use hash::Digests;

/// Passes over the body at most: the first, one for digests a signature turned out to need,
/// one for the MIC of a message whose signature failed.
const MAX_PASSES: usize = 4;

/// What [`unwrap_to`] found; the payload itself went to the sink.
#[derive(Debug, Clone)]
pub struct UnwrappedMeta {
    /// The layers removed, the signer and its digest (the entity fields stay `None`).
    pub security: Security,
    /// The Received-Content-MIC, as `receive` computes it.
    pub mic: Option<Mic>,
    /// The innermost entity's file name (its Content-Disposition, else the request's).
    pub file_name: Option<String>,
    /// The innermost entity's MIME type, lower-cased.
    pub mime_type: String,
    /// Bytes written to the sink.
    pub payload_len: u64,
}

/// A streamed unwrapping that ended without a layer failing.
pub(crate) struct Done {
    pub security: Security,
    pub mic: Option<Mic>,
    pub payload: MimePart,
    pub payload_len: u64,
    /// The payload's transfer encoding was broken.
    pub payload_error: Option<String>,
}

/// Removes every S/MIME layer of the message whose AS2 headers are `headers` and whose body
/// `open` reads (`len` bytes, e.g. the host's spool file), writing the payload, its transfer
/// encoding removed, to `sink`. Memory stays at a few MiB whatever the size.
///
/// On `Err` (the AS2 disposition, detail and MIC for the error MDN) the sink holds an
/// incomplete or unchecked payload and must be discarded. `open` may be called again: to
/// check a GCM tag whose AAD follows the content, when a signature needs a digest the first
/// pass did not compute, and for the rare structures the streaming decryptor does not handle
/// (then the message is read into memory and takes the in-memory path).
pub fn unwrap_to(
    headers: &As2Headers,
    open: OpenBody<'_>,
    len: u64,
    keys: &UnwrapKeys<'_>,
    limits: &Limits,
    sink: &mut dyn Write,
) -> Result<UnwrappedMeta, Box<UnwrapError>> {
    let requested = requested_alg(headers);
    let done = streamed(headers, open, len, keys, limits, requested, sink)?;
    if let Some(detail) = done.payload_error {
        return Err(error(
            ProcessingError::UnexpectedProcessingError,
            detail,
            done.security,
            done.mic,
        ));
    }
    let properties = crate::receive::tracked_properties(headers, &done.payload);
    Ok(UnwrappedMeta {
        security: done.security,
        mic: done.mic,
        file_name: properties.file_name,
        mime_type: properties.mime_type,
        payload_len: done.payload_len,
    })
}

/// The MIC digest the sender asked for (else SHA-256).
pub(crate) fn requested_alg(headers: &As2Headers) -> MicAlg {
    MdnContext::for_headers(headers.clone())
        .receipt
        .map_or(MicAlg::Sha256, |r| r.micalg)
}

fn error(
    error: ProcessingError,
    detail: String,
    security: Security,
    mic: Option<Mic>,
) -> Box<UnwrapError> {
    Box::new(UnwrapError {
        error,
        detail,
        cms_error: None,
        security,
        mic,
    })
}

/// One pass's findings.
struct Pass {
    result: Result<(), Fail>,
    facts: Facts,
    payload: Option<Payload>,
    needs: Vec<(usize, MicAlg, bool)>,
    body: Option<Mic>,
}

pub(crate) fn streamed(
    headers: &As2Headers,
    open: OpenBody<'_>,
    len: u64,
    keys: &UnwrapKeys<'_>,
    limits: &Limits,
    requested: MicAlg,
    sink: &mut dyn Write,
) -> Result<Done, Box<UnwrapError>> {
    let mut plan = Plan::default();
    let mut null = io::sink();
    let mut sink = Some(sink);
    for _ in 0..MAX_PASSES {
        // Only the first pass writes the payload: the others find the same bytes.
        let out: &mut dyn Write = match sink.take() {
            Some(s) => s,
            None => &mut null,
        };
        let pass = run_pass(headers, open, len, keys, limits, requested, &plan, out);
        let security = security(&pass.facts);
        match pass.result {
            Err(Fail::Retry) if !pass.needs.is_empty() => {
                plan.signed.extend(pass.needs);
                continue;
            }
            Err(Fail::Retry) => {
                let detail = "a signature needs a digest that could not be computed".into();
                return Err(error(
                    ProcessingError::AuthenticationFailed,
                    detail,
                    security,
                    None,
                ));
            }
            Err(Fail::Fallback) => {
                return in_memory(headers, open, len, keys, limits, requested, out)
            }
            Err(Fail::Local(detail)) => {
                return Err(error(
                    ProcessingError::UnexpectedProcessingError,
                    detail,
                    Security::default(),
                    None,
                ))
            }
            result => {
                // As `receive`: nothing is hashed when the outer layer did not decrypt.
                let wants_mic = match &result {
                    Err(Fail::Layer { error, .. }) => {
                        *error != ProcessingError::DecryptionFailed
                            || pass.facts.signature.is_some()
                    }
                    _ => true,
                };
                let mic = if !wants_mic {
                    None
                } else if let Some(sig) = &pass.facts.signature {
                    Some(sig.mic.clone())
                } else if let Some(decrypted) = &pass.facts.decrypted {
                    // Asked for and still missing: the header block was too long to hash.
                    if decrypted.is_none() && !plan.decrypted {
                        plan.decrypted = true;
                        continue;
                    }
                    decrypted.clone()
                } else {
                    if pass.body.is_none() && !plan.body {
                        plan.body = true;
                        continue;
                    }
                    pass.body
                };
                return match result {
                    Err(Fail::Layer {
                        error, detail, cms, ..
                    }) => Err(Box::new(UnwrapError {
                        error,
                        detail,
                        cms_error: cms,
                        security,
                        mic,
                    })),
                    _ => {
                        let payload = pass.payload.unwrap_or(Payload {
                            part: MimePart::parse(b""),
                            len: 0,
                            error: None,
                        });
                        Ok(Done {
                            security,
                            mic,
                            payload: payload.part,
                            payload_len: payload.len,
                            payload_error: payload.error,
                        })
                    }
                };
            }
        }
    }
    let detail = "the message needed more passes than allowed".into();
    Err(error(
        ProcessingError::UnexpectedProcessingError,
        detail,
        Security::default(),
        None,
    ))
}

fn security(facts: &Facts) -> Security {
    Security {
        layers: facts.layers.clone(),
        signed_entity: None,
        signature_alg: facts.signature.as_ref().map(|s| s.alg),
        decrypted_entity: None,
        signer: facts.signature.as_ref().map(|s| s.signer.clone()),
    }
}

/// The body as received, hashed when its digest may be the MIC.
struct BodyHash<R> {
    inner: R,
    digests: Option<Digests>,
}

impl<R: Read> Read for BodyHash<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(d) = &mut self.digests {
            d.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[allow(clippy::too_many_arguments)]
fn run_pass(
    headers: &As2Headers,
    open: OpenBody<'_>,
    len: u64,
    keys: &UnwrapKeys<'_>,
    limits: &Limits,
    requested: MicAlg,
    plan: &Plan,
    sink: &mut dyn Write,
) -> Pass {
    let failed = |result| Pass {
        result,
        facts: Facts::default(),
        payload: None,
        needs: Vec::new(),
        body: None,
    };
    let input = match open() {
        Ok(r) => r,
        Err(e) => {
            return failed(Err(Fail::Local(format!(
                "reading the spooled message failed: {e}"
            ))))
        }
    };
    let ct = ContentType::parse(&headers.content_type);
    let pkcs7 = ct.is("application/pkcs7-mime") || ct.is("application/x-pkcs7-mime");
    let hash_body = plan.body || !(pkcs7 || ct.is("multipart/signed"));
    let mut body = BodyHash {
        inner: Spool(input),
        digests: hash_body.then(|| Digests::new(&[requested])),
    };
    let encoding = headers.content_transfer_encoding.clone();
    let reopen = move || -> io::Result<Box<dyn Read + '_>> {
        let input: Box<dyn Read + '_> = Box::new(Spool(open()?));
        layers::der_stream(encoding.as_deref(), input)?.map_err(io::Error::other)
    };
    let max_content = usize::try_from(len).unwrap_or(usize::MAX);
    let mut cx = Cx::new(keys, limits, requested, plan, sink, max_content);
    if pkcs7 {
        cx.reopen = Some(&reopen);
    }
    let part = MimePart::with_headers(&content_headers(headers), Bytes::new());
    let result = entity::entity(&mut cx, &mut body, Some(part));
    let body_mic = body
        .digests
        .take()
        .and_then(|d| d.finish().into_iter().next())
        .map(|(alg, digest)| Mic { alg, digest });
    Pass {
        result,
        facts: std::mem::take(&mut cx.facts),
        payload: cx.payload.take(),
        needs: std::mem::take(&mut cx.needs),
        body: body_mic,
    }
}

/// The in-memory path for a structure the stream cannot take (nothing was written yet).
#[allow(clippy::too_many_arguments)]
fn in_memory(
    headers: &As2Headers,
    open: OpenBody<'_>,
    len: u64,
    keys: &UnwrapKeys<'_>,
    limits: &Limits,
    requested: MicAlg,
    sink: &mut dyn Write,
) -> Result<Done, Box<UnwrapError>> {
    let local = |e: io::Error| {
        let detail = format!("reading the spooled message failed: {e}");
        error(
            ProcessingError::UnexpectedProcessingError,
            detail,
            Security::default(),
            None,
        )
    };
    let mut body = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    open()
        .and_then(|mut r| r.read_to_end(&mut body))
        .map_err(local)?;
    let body = Bytes::from(body);
    let entity = MimePart::with_headers(&content_headers(headers), body.clone());
    let mic_of = |security: &Security| {
        if let Some(signed) = &security.signed_entity {
            return Mic::compute(security.signature_alg.unwrap_or(requested), signed);
        }
        if let Some(decrypted) = &security.decrypted_entity {
            return Mic::compute(requested, &canonical_entity(decrypted));
        }
        Mic::compute(requested, &body)
    };
    let unwrapped = match unwrap::unwrap(entity, keys, limits) {
        Ok(u) => u,
        Err(mut e) => {
            if e.error != ProcessingError::DecryptionFailed || e.security.signed_entity.is_some() {
                e.mic = Some(mic_of(&e.security));
            }
            return Err(e);
        }
    };
    let mic = Some(mic_of(&unwrapped.security));
    let (payload_len, payload_error) = match unwrapped.payload.decoded_body() {
        Ok(p) => {
            sink.write_all(&p).map_err(|e| {
                let detail = format!("writing the payload failed: {e}");
                error(
                    ProcessingError::UnexpectedProcessingError,
                    detail,
                    Security::default(),
                    None,
                )
            })?;
            (p.len() as u64, None)
        }
        Err(e) => (0, Some(format!("payload: {e}"))),
    };
    let part = MimePart::parse(&header_block(&unwrapped.payload));
    Ok(Done {
        security: unwrapped.security,
        mic,
        payload: part,
        payload_len,
        payload_error,
    })
}

/// An entity's headers as a block (to keep them without its body).
fn header_block(part: &MimePart) -> Vec<u8> {
    let mut out = Vec::new();
    for h in &part.headers {
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}
