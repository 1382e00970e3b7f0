//! A minimal BER/DER reader, just enough to walk CMS structures that openssl's
//! Rust API does not expose (CompressedData, SignerInfo digest algorithms).
//!
//! Peers built on streaming CMS generators (BouncyCastle and others) send BER
//! with indefinite lengths and constructed OCTET STRINGs, so both are accepted.

use thiserror::Error;

/// Nesting limit: deep BER nesting in hostile input must not blow the stack.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("malformed ASN.1: {0}")]
pub struct DerError(pub &'static str);

pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_OID: u8 = 0x06;
pub const TAG_SEQUENCE: u8 = 0x30;
pub const TAG_SET: u8 = 0x31;
/// `[0]` constructed, context-specific.
pub const TAG_CONTEXT_0: u8 = 0xA0;

/// One TLV element borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub struct Element<'a> {
    /// Identifier octet (single-byte tags only: CMS uses no high tag numbers).
    pub tag: u8,
    /// Content octets; for indefinite lengths, without the end-of-contents marker.
    pub content: &'a [u8],
}

impl<'a> Element<'a> {
    pub fn is_constructed(&self) -> bool {
        self.tag & 0x20 != 0
    }

    /// Children of a constructed element.
    pub fn children(&self) -> Result<Vec<Element<'a>>, DerError> {
        if !self.is_constructed() {
            return Err(DerError("expected a constructed element"));
        }
        let mut out = Vec::new();
        let mut rest = self.content;
        while !rest.is_empty() {
            let (el, next) = read_element(rest, 0)?;
            out.push(el);
            rest = next;
        }
        Ok(out)
    }

    /// Child `index`, which must carry `tag`.
    pub fn child(&self, index: usize, tag: u8) -> Result<Element<'a>, DerError> {
        let el = self
            .children()?
            .get(index)
            .copied()
            .ok_or(DerError("missing element"))?;
        if el.tag != tag {
            return Err(DerError("unexpected tag"));
        }
        Ok(el)
    }

    /// The bytes of an OCTET STRING, concatenating BER constructed segments.
    pub fn octets(&self) -> Result<Vec<u8>, DerError> {
        let mut out = Vec::new();
        self.collect_octets(&mut out, 0)?;
        Ok(out)
    }

    fn collect_octets(&self, out: &mut Vec<u8>, depth: usize) -> Result<(), DerError> {
        if depth > MAX_DEPTH {
            return Err(DerError("nesting too deep"));
        }
        match self.tag {
            TAG_OCTET_STRING => out.extend_from_slice(self.content),
            0x24 => {
                for child in self.children()? {
                    child.collect_octets(out, depth + 1)?;
                }
            }
            _ => return Err(DerError("expected an OCTET STRING")),
        }
        Ok(())
    }

    /// Dotted-decimal text of an OBJECT IDENTIFIER.
    pub fn oid(&self) -> Result<String, DerError> {
        if self.tag != TAG_OID || self.content.is_empty() {
            return Err(DerError("expected an OBJECT IDENTIFIER"));
        }
        let mut arcs: Vec<u64> = Vec::new();
        let mut value: u64 = 0;
        for (i, &b) in self.content.iter().enumerate() {
            if value > (u64::MAX >> 7) {
                return Err(DerError("OID arc too large"));
            }
            value = (value << 7) | u64::from(b & 0x7F);
            if b & 0x80 == 0 {
                if arcs.is_empty() {
                    let first = (value / 40).min(2);
                    arcs.push(first);
                    arcs.push(value - first * 40);
                } else {
                    arcs.push(value);
                }
                value = 0;
            } else if i + 1 == self.content.len() {
                return Err(DerError("truncated OID"));
            }
        }
        Ok(arcs
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."))
    }
}

/// Parses exactly one element filling the whole input (trailing bytes rejected).
pub fn parse(input: &[u8]) -> Result<Element<'_>, DerError> {
    let (el, rest) = read_element(input, 0)?;
    // Some encoders pad with zero bytes after the outer element; tolerate only that.
    if rest.iter().any(|&b| b != 0) {
        return Err(DerError("trailing data after element"));
    }
    Ok(el)
}

/// Reads one element and returns it with the remaining input.
pub fn read_element(input: &[u8], depth: usize) -> Result<(Element<'_>, &[u8]), DerError> {
    if depth > MAX_DEPTH {
        return Err(DerError("nesting too deep"));
    }
    let (&tag, rest) = input.split_first().ok_or(DerError("truncated tag"))?;
    if tag & 0x1F == 0x1F {
        return Err(DerError("high tag numbers are not supported"));
    }
    let (&len0, rest) = rest.split_first().ok_or(DerError("truncated length"))?;
    if len0 == 0x80 {
        if tag & 0x20 == 0 {
            return Err(DerError("indefinite length on a primitive element"));
        }
        // Indefinite length: walk children until the end-of-contents octets.
        let mut cursor = rest;
        loop {
            if cursor.len() >= 2 && cursor[0] == 0 && cursor[1] == 0 {
                let content_len = rest.len() - cursor.len();
                let el = Element {
                    tag,
                    content: &rest[..content_len],
                };
                return Ok((el, &cursor[2..]));
            }
            let (_, next) = read_element(cursor, depth + 1)?;
            cursor = next;
        }
    }
    let (len, rest) = if len0 & 0x80 == 0 {
        (usize::from(len0), rest)
    } else {
        let n = usize::from(len0 & 0x7F);
        if n > std::mem::size_of::<usize>() || rest.len() < n {
            return Err(DerError("bad length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(DerError("truncated content"));
    }
    let el = Element {
        tag,
        content: &rest[..len],
    };
    Ok((el, &rest[len..]))
}

/// DER writer helpers, used to build CompressedData.
pub fn write_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// DER encoding of a dotted OID. Panics only on a malformed literal, which
/// callers pass as compile-time constants.
pub fn write_oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| a.parse().expect("OID literal"))
        .collect();
    let mut content = Vec::new();
    let mut push_arc = |mut v: u64| {
        let mut tmp = vec![(v & 0x7F) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7F) as u8);
            v >>= 7;
        }
        tmp.reverse();
        content.extend_from_slice(&tmp);
    };
    push_arc(arcs[0] * 40 + arcs[1]);
    for &a in &arcs[2..] {
        push_arc(a);
    }
    write_tlv(TAG_OID, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_round_trip() {
        let enc = write_oid("1.2.840.113549.1.9.16.3.8");
        assert_eq!(
            parse(&enc).unwrap().oid().unwrap(),
            "1.2.840.113549.1.9.16.3.8"
        );
        let enc = write_oid("2.16.840.1.101.3.4.2.1");
        assert_eq!(
            parse(&enc).unwrap().oid().unwrap(),
            "2.16.840.1.101.3.4.2.1"
        );
    }

    #[test]
    fn long_lengths() {
        let body = vec![7u8; 300];
        let enc = write_tlv(TAG_OCTET_STRING, &body);
        assert_eq!(&enc[..4], &[0x04, 0x82, 0x01, 0x2C]);
        assert_eq!(parse(&enc).unwrap().octets().unwrap(), body);
    }

    #[test]
    fn indefinite_length_and_constructed_octets() {
        // SEQUENCE (indefinite) { OCTET STRING constructed (indefinite) { "ab", "c" } }
        let input = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0x00, 0x00, 0x00,
            0x00,
        ];
        let seq = parse(&input).unwrap();
        let octets = seq.children().unwrap()[0].octets().unwrap();
        assert_eq!(octets, b"abc");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &[][..],
            &[0x30],
            &[0x30, 0x85, 1, 2],
            &[0x30, 0x05, 1],
            &[0x30, 0x80, 0x04, 0x01],
            &[0x04, 0x80, 0, 0],
            &[0x1F, 0x01, 0x00],
            &[0x06, 0x01, 0x81],
        ] {
            let r = parse(input).and_then(|e| e.oid().map(|_| ()));
            assert!(r.is_err(), "{input:?}");
        }
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 200).flatten().collect();
        assert_eq!(parse(&deep).unwrap_err(), DerError("nesting too deep"));
    }
}
