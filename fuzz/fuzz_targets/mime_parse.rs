//! MIME entity parsing of berth-as2: `MimePart::parse`, multipart splitting (nested, as in
//! multipart/signed inside a decrypted entity), Content-Transfer-Encoding decoding, MIC
//! canonicalisation, the CMS/DER readers behind the unwrapping, and reading an MDN.
//!
//! Input: one raw MIME entity (headers, empty line, body).
#![no_main]

use berth_as2::cms;
use berth_as2::compress;
use berth_as2::headers::filename_from_disposition;
use berth_as2::mdn::parse_mdn;
use berth_as2::mic::{canonical_entity, to_crlf};
use berth_as2::mime::{
    decode_base64, decode_quoted_printable, decode_transfer_encoding, split_multipart, MimePart,
};
use libfuzzer_sys::fuzz_target;

#[path = "common/mod.rs"]
mod common;

/// Largest decompressed CMS content per call: enough for the inputs libFuzzer makes, small
/// enough that a compression bomb costs milliseconds.
const MAX_DECOMPRESSED: u64 = 1 << 20;
/// Multipart nesting followed (the unwrapper meets at most a few levels).
const MAX_DEPTH: usize = 4;

fuzz_target!(|data: &[u8]| {
    let part = MimePart::parse(data);
    assert_eq!(&part.raw[..], data);
    assert!(data.ends_with(part.body()));
    walk(&part, 0);

    // The decoders on the raw input as well.
    let qp = decode_quoted_printable(data);
    assert!(qp.len() <= data.len(), "quoted-printable grew the data");
    if let Ok(bin) = decode_base64(data) {
        assert!(bin.len() <= data.len() * 3 / 4 + 3);
    }
    let crlf = to_crlf(data);
    assert_eq!(to_crlf(&crlf), crlf, "CRLF conversion is not idempotent");
    let canonical = canonical_entity(data);
    // Canonicalising twice changes nothing, except where a bare CR in the header block
    // becomes a line end: that can make an empty line and move the header/body boundary
    // (malformed input, whose MIC then simply does not match).
    let bare_cr = data
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\r' && data.get(i + 1) != Some(&b'\n'));
    if !bare_cr {
        assert_eq!(
            canonical_entity(&canonical),
            canonical,
            "canonical form is not stable"
        );
    }

    // An MDN whose Content-* headers and body are this entity's.
    let headers: Vec<(String, Vec<u8>)> = part
        .headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    let _ = parse_mdn(&headers, part.body(), None);
});

fn walk(part: &MimePart, depth: usize) {
    let _ = part.header_str("content-type");
    let ct = part.content_type().unwrap_or_default();
    if let Some(cd) = part.header_str("content-disposition") {
        if let Some(name) = filename_from_disposition(&cd) {
            common::check_safe_filename(&cd, &name);
        }
    }
    let decoded = part.decoded_body().map(|b| b.to_vec());
    assert_eq!(
        decoded,
        decode_transfer_encoding(part.transfer_encoding().as_deref(), part.body())
    );
    if let Ok(bytes) = &decoded {
        cms_readers(bytes);
        if let Ok(der) = decode_base64(bytes) {
            cms_readers(&der);
        }
    }
    if let Some(boundary) = ct.param("boundary") {
        if let Ok(pieces) = split_multipart(part.body(), boundary) {
            for piece in &pieces {
                // Every part is a slice of the body.
                let body = part.body().as_ptr_range();
                let r = piece.as_ptr_range();
                assert!(body.start <= r.start && r.end <= body.end);
            }
        }
    }
    if depth < MAX_DEPTH {
        if let Ok(parts) = part.multipart_parts() {
            for p in &parts {
                walk(p, depth + 1);
            }
        }
    }
}

/// The hand-written BER/DER readers (CompressedData, content type, signer digest).
fn cms_readers(der: &[u8]) {
    if der.first() != Some(&0x30) {
        return;
    }
    let _ = cms::content_type(der);
    let _ = cms::signer_digest(der);
    if let Ok(out) = compress::decompress(der, MAX_DECOMPRESSED) {
        assert!(out.len() as u64 <= MAX_DECOMPRESSED);
    }
}
