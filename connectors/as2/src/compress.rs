//! CMS CompressedData (RFC 3274) with zlib, parsed by hand because
//! distribution OpenSSL builds often lack zlib support.

use crate::der::{self, DerError, TAG_CONTEXT_0, TAG_INTEGER, TAG_OCTET_STRING, TAG_SEQUENCE};
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use std::io::{Read, Write};
use thiserror::Error;

pub const OID_COMPRESSED_DATA: &str = "1.2.840.113549.1.9.16.1.9";
pub const OID_ZLIB: &str = "1.2.840.113549.1.9.16.3.8";
pub const OID_DATA: &str = "1.2.840.113549.1.7.1";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CompressError {
    #[error(transparent)]
    Asn1(#[from] DerError),
    #[error("not a CMS CompressedData structure (content type {0})")]
    NotCompressedData(String),
    #[error("unsupported compression algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("compressed content is absent")]
    NoContent,
    #[error("invalid zlib stream: {0}")]
    Inflate(String),
    #[error("decompressed content exceeds the limit of {0} bytes")]
    TooLarge(u64),
}

/// Decompresses a DER/BER CompressedData ContentInfo, refusing to produce
/// more than `max_size` bytes (decompression bombs stop there).
pub fn decompress(cms: &[u8], max_size: u64) -> Result<Vec<u8>, CompressError> {
    let content_info = der::parse(cms)?;
    if content_info.tag != TAG_SEQUENCE {
        return Err(DerError("ContentInfo is not a SEQUENCE").into());
    }
    let content_type = content_info.child(0, der::TAG_OID)?.oid()?;
    if content_type != OID_COMPRESSED_DATA {
        return Err(CompressError::NotCompressedData(content_type));
    }
    let compressed_data = content_info
        .child(1, TAG_CONTEXT_0)?
        .child(0, TAG_SEQUENCE)?;
    compressed_data.child(0, TAG_INTEGER)?;
    let algorithm = compressed_data
        .child(1, TAG_SEQUENCE)?
        .child(0, der::TAG_OID)?
        .oid()?;
    if algorithm != OID_ZLIB {
        return Err(CompressError::UnsupportedAlgorithm(algorithm));
    }
    let encap = compressed_data.child(2, TAG_SEQUENCE)?;
    let children = encap.children()?;
    let econtent = children.get(1).ok_or(CompressError::NoContent)?;
    if econtent.tag != TAG_CONTEXT_0 {
        return Err(CompressError::NoContent);
    }
    let octets = econtent
        .children()?
        .first()
        .ok_or(CompressError::NoContent)?
        .octets()?;
    inflate_limited(&octets, max_size)
}

fn inflate_limited(data: &[u8], max_size: u64) -> Result<Vec<u8>, CompressError> {
    let mut out = Vec::new();
    ZlibDecoder::new(data)
        .take(max_size.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| CompressError::Inflate(e.to_string()))?;
    if out.len() as u64 > max_size {
        return Err(CompressError::TooLarge(max_size));
    }
    Ok(out)
}

/// Builds a DER CompressedData ContentInfo (zlib) around `data`.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    encoder.write_all(data).expect("write to Vec");
    let deflated = encoder.finish().expect("finish into Vec");

    let algorithm = der::write_tlv(TAG_SEQUENCE, &der::write_oid(OID_ZLIB));
    let econtent = der::write_tlv(TAG_CONTEXT_0, &der::write_tlv(TAG_OCTET_STRING, &deflated));
    let encap = der::write_tlv(TAG_SEQUENCE, &[der::write_oid(OID_DATA), econtent].concat());
    let version = der::write_tlv(TAG_INTEGER, &[0]);
    let compressed = der::write_tlv(TAG_SEQUENCE, &[version, algorithm, encap].concat());
    der::write_tlv(
        TAG_SEQUENCE,
        &[
            der::write_oid(OID_COMPRESSED_DATA),
            der::write_tlv(TAG_CONTEXT_0, &compressed),
        ]
        .concat(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data = b"ISA*00*~".repeat(100);
        let cms = compress(&data);
        assert_eq!(decompress(&cms, 10_000).unwrap(), data);
    }

    #[test]
    fn bomb_stops_at_the_limit() {
        let data = vec![0u8; 5_000_000];
        let cms = compress(&data);
        assert!(cms.len() < 10_000);
        assert_eq!(
            decompress(&cms, 1_000_000),
            Err(CompressError::TooLarge(1_000_000))
        );
        assert_eq!(decompress(&cms, 5_000_000).unwrap().len(), 5_000_000);
    }

    #[test]
    fn rejects_other_structures_and_garbage() {
        let not_compressed = der::write_tlv(TAG_SEQUENCE, &der::write_oid(OID_DATA));
        assert_eq!(
            decompress(&not_compressed, 10),
            Err(CompressError::NotCompressedData(OID_DATA.into()))
        );
        assert!(matches!(
            decompress(b"\x30\x03\x02", 10),
            Err(CompressError::Asn1(_))
        ));
        let mut cms = compress(b"hello world");
        let n = cms.len();
        cms[n - 3] ^= 0xFF; // corrupt the zlib checksum
        assert!(matches!(
            decompress(&cms, 100),
            Err(CompressError::Inflate(_))
        ));
        let truncated = &compress(b"hello")[..20];
        assert!(decompress(truncated, 100).is_err());
    }

    #[test]
    fn accepts_ber_indefinite_lengths() {
        // The same structure a streaming encoder would send.
        let deflated = {
            let mut e = ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(b"streamed").unwrap();
            e.finish().unwrap()
        };
        let (a, b) = deflated.split_at(4);
        let mut ber = vec![0x30, 0x80];
        ber.extend(der::write_oid(OID_COMPRESSED_DATA));
        ber.extend([0xA0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00]);
        ber.extend(der::write_tlv(TAG_SEQUENCE, &der::write_oid(OID_ZLIB)));
        ber.extend([0x30, 0x80]);
        ber.extend(der::write_oid(OID_DATA));
        ber.extend([0xA0, 0x80, 0x24, 0x80]);
        ber.extend(der::write_tlv(TAG_OCTET_STRING, a));
        ber.extend(der::write_tlv(TAG_OCTET_STRING, b));
        ber.extend([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decompress(&ber, 100).unwrap(), b"streamed");
    }
}
