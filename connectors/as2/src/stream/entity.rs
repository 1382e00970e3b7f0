//! One MIME entity read from a stream: its headers, then what its content type says it is
//! (multipart/signed, an S/MIME structure, or the payload), as `unwrap::step` decides.

use std::io::{self, BufRead, BufReader, Read};

use crate::disposition::ProcessingError;
use crate::micalg::MicAlg;
use crate::mime::MimePart;
use crate::unwrap::{cms_bytes, signature_error, Layer};

use super::cte;
use super::cx::{Cx, Payload, SignatureFacts};
use super::fail::{drain, Fail, Owned};
use super::hash::{HeaderScan, MAX_HEADER_BLOCK};
use super::layers;
use super::multipart::Multipart;
use super::verify::{self, Checked};

/// Processes the entity read from `input`; `given` are its headers when they travelled
/// apart from it (HTTP), else they are read from `input`.
pub(crate) fn entity(
    cx: &mut Cx<'_>,
    input: &mut dyn Read,
    given: Option<MimePart>,
) -> Result<(), Fail> {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let part = match given {
        Some(part) => part,
        None => read_headers(cx, &mut reader)?,
    };
    let ct = part.content_type().unwrap_or_default();
    if ct.is("multipart/signed") {
        return multipart_signed(cx, &mut reader, &part);
    }
    if ct.is("application/pkcs7-mime") || ct.is("application/x-pkcs7-mime") {
        return layers::cms(cx, &mut reader, &part);
    }
    payload(cx, &mut reader, part)
}

/// The header block, up to its empty line, as `MimePart::parse` reads it.
fn read_headers(cx: &mut Cx<'_>, reader: &mut BufReader<&mut dyn Read>) -> Result<MimePart, Fail> {
    let mut block = Vec::new();
    let mut scan = HeaderScan::default();
    loop {
        let avail = match reader.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Fail::from_io(e, |e| Fail::Local(e.to_string()))),
        };
        if avail.is_empty() {
            break;
        }
        let end = scan.feed(avail);
        let take = end.unwrap_or(avail.len());
        block.extend_from_slice(&avail[..take]);
        reader.consume(take);
        if end.is_some() {
            break;
        }
        if block.len() > MAX_HEADER_BLOCK {
            let id = cx.id();
            return Err(Fail::layer(
                id,
                ProcessingError::UnexpectedProcessingError,
                "MIME headers longer than 1 MiB",
            ));
        }
    }
    Ok(MimePart::parse(&block))
}

/// The innermost entity: its transfer encoding removed into the sink.
fn payload(cx: &mut Cx<'_>, input: &mut dyn Read, part: MimePart) -> Result<(), Fail> {
    let encoding = part.transfer_encoding();
    let mut payload = Payload {
        part,
        len: 0,
        error: None,
    };
    let result = match cte::decoder(encoding.as_deref(), Box::new(&mut *input)) {
        Err(e) => {
            payload.error = Some(format!("payload: {e}"));
            Ok(())
        }
        Ok(mut decoded) => copy(&mut decoded, cx, &mut payload),
    };
    cx.payload = Some(payload);
    // The rest, if decoding stopped early, so that the layers around finish their checks.
    let rest = drain(input, |e| Fail::Local(e.to_string()));
    Fail::outermost([result, rest])
}

fn copy(from: &mut dyn Read, cx: &mut Cx<'_>, payload: &mut Payload) -> Result<(), Fail> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if let Some(fail) = Fail::carried(&e) {
                    return Err(fail);
                }
                // The payload's own encoding is broken: reported after the security checks.
                let base64 = payload.part.transfer_encoding().as_deref() == Some("base64");
                payload.error = Some(if base64 {
                    format!("payload: invalid base64 content: {e}")
                } else {
                    format!("payload: {e}")
                });
                return Ok(());
            }
        };
        cx.sink
            .write_all(&buf[..n])
            .map_err(|e| Fail::Local(format!("writing the payload failed: {e}")))?;
        payload.len += n as u64;
    }
}

/// The digests named by a `micalg` parameter (a comma-separated list).
fn declared(micalg: Option<&str>) -> Vec<MicAlg> {
    micalg
        .map(|v| v.split(',').filter_map(MicAlg::from_name).collect())
        .unwrap_or_default()
}

/// multipart/signed: the first part is the entity inside, hashed as it passes; the second
/// part's signature is checked against those digests once the structure ended.
fn multipart_signed(cx: &mut Cx<'_>, input: &mut dyn Read, part: &MimePart) -> Result<(), Fail> {
    let id = cx.id();
    cx.depth += 1;
    let ordinal = cx.signatures;
    cx.signatures += 1;
    let integrity = |d: String| Fail::layer(id, ProcessingError::IntegrityCheckFailed, d);
    let ct = part.content_type().unwrap_or_default();
    let mut raw_algs = declared(ct.param("micalg"));
    raw_algs.push(cx.requested);
    raw_algs.extend(cx.plan.algs(ordinal, false));
    let canonical_algs = cx.plan.algs(ordinal, true);
    let opened = match ct.param("boundary") {
        None => Err(crate::mime::MimeError::MissingBoundary),
        Some(b) => Multipart::new(&mut *input, b, &raw_algs, &canonical_algs),
    };
    let mp = match opened {
        Ok(mp) => mp,
        Err(e) => {
            let own = Err(integrity(format!("malformed multipart/signed: {e}")));
            let rest = drain(input, |e| Fail::Local(e.to_string()));
            let outcome = Fail::outermost([own, rest]);
            let layer = Layer::Signed {
                alg: None,
                detached: true,
            };
            return cx.conclude(id, outcome, layer, |_| {});
        }
    };
    let mut mp = Owned {
        inner: mp,
        own: |e: io::Error| Fail::Local(e.to_string()),
    };
    let inner = match cx.too_deep() {
        Some(f) => Err(f),
        None => entity(cx, &mut mp, None),
    };
    let own_end = drain(&mut mp, |e| Fail::Local(e.to_string()));
    let checked = match mp.inner.finish() {
        Err(e) => Err(integrity(format!("malformed multipart/signed: {e}"))),
        Ok(parts) if parts.count != 2 => Err(integrity(format!(
            "multipart/signed has {} parts instead of 2",
            parts.count
        ))),
        Ok(parts) => check_signature(cx, id, ordinal, &parts),
    };
    let rest = drain(input, |e| Fail::Local(e.to_string()));
    let (own, facts) = match checked {
        Ok(facts) => (Ok(()), Some(facts)),
        Err(f) => (Err(f), None),
    };
    let outcome = Fail::outermost([inner, own_end, own, rest]);
    let alg = facts.as_ref().map(|f| f.alg);
    cx.conclude(
        id,
        outcome,
        Layer::Signed {
            alg,
            detached: true,
        },
        |recorded| recorded.signature = facts,
    )
}

fn check_signature(
    cx: &mut Cx<'_>,
    id: usize,
    ordinal: usize,
    parts: &super::multipart::Parts,
) -> Result<SignatureFacts, Fail> {
    let own = |e: crate::unwrap::StepError| {
        let (error, detail, cms) = *e;
        Fail::Layer {
            id,
            error,
            detail,
            cms,
        }
    };
    let signature = MimePart::parse(&parts.second);
    let sig_ct = signature.content_type().unwrap_or_default();
    if !(sig_ct.is("application/pkcs7-signature") || sig_ct.is("application/x-pkcs7-signature")) {
        return Err(Fail::layer(
            id,
            ProcessingError::AuthenticationFailed,
            format!("unsupported signature type {:?}", sig_ct.mime_type),
        ));
    }
    let der = cms_bytes(&signature)
        .map_err(|d| Fail::layer(id, ProcessingError::AuthenticationFailed, d))?;
    let keys = cx.keys;
    match verify::verify(
        &der,
        &parts.raw,
        Some(&parts.canonical),
        keys.partner_certificates,
        keys.allow_expired_certificates,
    ) {
        Checked::Verified {
            signature,
            digest,
            alg,
        } => Ok(SignatureFacts {
            alg,
            signer: signature.signer,
            mic: crate::mic::Mic { alg, digest },
        }),
        Checked::Failed(e) => Err(own(signature_error(e))),
        Checked::Needs(alg, canonical) => {
            cx.needs.push((ordinal, alg, canonical));
            Err(Fail::Retry)
        }
    }
}
