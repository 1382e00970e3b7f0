//! The streamed path against the in-memory one: helpers the unwrap and receive unit tests
//! run every message through, and the pieces (multipart splitting, quoted-printable,
//! canonical digests) checked with input split at every position.

use std::io::Read;

use crate::disposition::ProcessingError;
use crate::headers::As2Headers;
use crate::mic::canonical_entity;
use crate::micalg::MicAlg;
use crate::mime::{decode_quoted_printable, split_multipart, MimePart};
use crate::receive::{PartnerSettings, Received, Rejection};
use crate::unwrap::{Limits, UnwrapError, UnwrapKeys, Unwrapped};

use super::hash::Canonical;
use super::multipart::Multipart;

/// Reads 1 to 7 bytes at a time, the sizes cycling from `turn`.
pub(crate) struct Trickle<'a> {
    data: &'a [u8],
    pos: usize,
    turn: usize,
}

impl<'a> Trickle<'a> {
    pub(crate) fn new(data: &'a [u8], turn: usize) -> Self {
        Trickle { data, pos: 0, turn }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.turn += 1;
        let n = (1 + self.turn % 7)
            .min(buf.len())
            .min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn signer_der(s: &crate::unwrap::Security) -> Option<Vec<u8>> {
    s.signer.as_ref().map(|c| c.to_der().unwrap_or_default())
}

/// `unwrap::unwrap`, checked against `stream::unwrap_to` with the entity's headers as the
/// request's; the in-memory result.
pub(crate) fn unwrap_both(
    entity: MimePart,
    keys: &UnwrapKeys<'_>,
    limits: &Limits,
) -> Result<Unwrapped, Box<UnwrapError>> {
    let memory = crate::unwrap::unwrap(entity.clone(), keys, limits);
    let mut headers: Vec<(String, Vec<u8>)> = [("AS2-From", "a"), ("AS2-To", "b")]
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect();
    headers.extend(
        entity
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.clone())),
    );
    let headers = As2Headers::parse(&headers).expect("AS2 headers");
    let body = entity.body();
    for turn in 0..7 {
        let open = || Ok(Box::new(Trickle::new(body, turn)) as Box<dyn Read + '_>);
        let mut sink = Vec::new();
        let streamed =
            super::unwrap_to(&headers, &open, body.len() as u64, keys, limits, &mut sink);
        match (&memory, &streamed) {
            (Ok(m), Ok(s)) => {
                assert!(m.payload.decoded_body().unwrap()[..] == sink[..], "{turn}");
                assert_eq!(m.security.layers, s.security.layers, "{turn}");
                assert_eq!(m.security.signature_alg, s.security.signature_alg);
                assert_eq!(signer_der(&m.security), signer_der(&s.security));
            }
            (Ok(m), Err(s)) if m.payload.decoded_body().is_err() => {
                assert_eq!(s.error, ProcessingError::UnexpectedProcessingError);
            }
            (Err(m), Err(s)) => {
                assert_eq!(
                    m.error, s.error,
                    "{turn}: {} / streamed: {}",
                    m.detail, s.detail
                );
                assert_eq!(
                    m.cms_error.as_ref().map(std::mem::discriminant),
                    s.cms_error.as_ref().map(std::mem::discriminant),
                    "{turn}: {} / streamed: {}",
                    m.detail,
                    s.detail
                );
                assert_eq!(m.security.layers, s.security.layers, "{turn}");
            }
            (m, s) => panic!("{turn}: in memory {m:?}, streamed {s:?}"),
        }
    }
    memory
}

/// `receive::receive`, checked against `stream::receive_to`; the in-memory result.
pub(crate) fn receive_both(
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    settings: &PartnerSettings,
    limits: &Limits,
) -> Result<Received, Rejection> {
    let memory = crate::receive::receive(headers, body, settings, limits);
    let Ok(parsed) = As2Headers::parse(headers) else {
        return memory;
    };
    for turn in 0..7 {
        let open = || Ok(Box::new(Trickle::new(body, turn)) as Box<dyn Read + '_>);
        let mut sink = Vec::new();
        let streamed = super::receive_to(
            parsed.clone(),
            &open,
            body.len() as u64,
            settings,
            limits,
            &mut sink,
        );
        match (&memory, &streamed) {
            (Ok(m), Ok(s)) => {
                assert!(m.payload[..] == sink[..], "{turn}");
                assert_eq!(m.properties, s.properties);
                assert_eq!(m.security.layers, s.security.layers);
                assert_eq!(m.context.mic, s.context.mic, "{turn}");
            }
            (Err(Rejection::Failed(m)), Err(Rejection::Failed(s))) => {
                assert_eq!(m.disposition, s.disposition, "{} / {}", m.detail, s.detail);
                assert_eq!(m.detail, s.detail, "{turn}");
                assert_eq!(m.security.layers, s.security.layers);
                assert_eq!(m.context.mic, s.context.mic, "{turn}");
            }
            (m, s) => panic!("{turn}: in memory {m:?}, streamed {s:?}"),
        }
    }
    memory
}

const MULTIPARTS: &[&[u8]] = &[
    b"--b\r\nA: 1\r\n\r\nfirst\r\n--b\r\n\r\nsecond\r\n--b--\r\n",
    b"preamble\n--b\nA: 1\n\nfirst\n\n--b \t\r\nsecond\r\n--b--  \r\nepilogue\n--b\n",
    b"--b\r\n\r\n--b-\r\n--bb\r\n-- b\r\n--b--x\r\n\r\r\n--b\r\nx\r\n--b--",
    b"--b\r\n\r\n\r\n--b\r\n--b\r\n\r\n--b--",
    b"--b\r\nno end\r\n",
    b"no delimiter at all\r\n",
    b"--b--\r\n",
    b"x\r\n--b\r\n--b\r\nthird\r\n--b--\r\n",
];

#[test]
fn multipart_parts_agree_with_split_multipart_at_every_split() {
    for body in MULTIPARTS {
        let want = split_multipart(body, "b");
        for turn in 0..7 {
            let mut input = Trickle::new(body, turn);
            let mut mp = Multipart::new(&mut input, "b", &[MicAlg::Sha1], &[MicAlg::Sha1]).unwrap();
            let mut first = Vec::new();
            mp.read_to_end(&mut first).unwrap();
            let got = mp.finish();
            let text = String::from_utf8_lossy(body);
            match &want {
                Ok(parts) => {
                    let got = got.unwrap_or_else(|e| panic!("{text:?}: {e}"));
                    assert_eq!(got.count, parts.len(), "{text:?}");
                    assert_eq!(first, parts[0], "{text:?}");
                    assert_eq!(got.second, parts.get(1).copied().unwrap_or(b""), "{text:?}");
                    assert_eq!(got.raw[0].1, MicAlg::Sha1.digest(parts[0]), "{text:?}");
                    let canonical = canonical_entity(parts[0]);
                    assert_eq!(
                        got.canonical[0].1,
                        MicAlg::Sha1.digest(&canonical),
                        "{text:?}"
                    );
                }
                Err(e) => assert_eq!(got.err().as_ref(), Some(e), "{text:?}"),
            }
        }
    }
}

#[test]
fn quoted_printable_agrees_with_the_whole_body_decoder() {
    let bodies: [&[u8]; 5] = [
        b"a=3Db=\r\nc \t\r\nd=4\r\n=41=\n= \r\n=\rx\r\n\r",
        b"trailing blanks   \nsoft break =  \r\nescape split =4",
        b"==41=3d=ZZ\r\n\r\n",
        b"",
        b"line with a CR\r in the middle\r\r\n",
    ];
    for body in bodies {
        let want = decode_quoted_printable(body);
        for turn in 0..7 {
            let input: Box<dyn Read> = Box::new(Trickle::new(body, turn));
            let mut got = Vec::new();
            super::cte::decoder(Some("quoted-printable"), input)
                .unwrap()
                .read_to_end(&mut got)
                .unwrap();
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(body));
        }
    }
}

#[test]
fn canonical_digest_agrees_with_canonical_entity_at_every_split() {
    let entities: [&[u8]; 6] = [
        b"Content-Type: text/plain\n\nline1\nline2\r\nline3\r",
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\n\n\x00\n\r\xff",
        b"X-A: 1\r\r\n\nbody\n",
        b"no blank line at all\nsecond\r",
        b"\r\nbody without headers\n",
        b"\nbody\rafter bare CR",
    ];
    for entity in entities {
        let want = MicAlg::Sha256.digest(&canonical_entity(entity));
        for split in 0..=entity.len() {
            let mut c = Canonical::new(&[MicAlg::Sha256]);
            c.update(&entity[..split]);
            c.update(&entity[split..]);
            assert_eq!(
                c.finish()[0].1,
                want,
                "{:?} at {split}",
                String::from_utf8_lossy(entity)
            );
        }
    }
}

#[test]
fn gcm_with_authenticated_attributes_is_checked_by_reading_the_body_again() {
    use crate::envelope::auth_tests::auth_enveloped_with_attrs;
    use crate::envelope::fixtures::keys;
    let entity =
        b"Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: binary\r\n\r\nUNB+1'";
    let der = auth_enveloped_with_attrs(entity, &keys().ours, 16, 0);
    let settings = PartnerSettings {
        decryption_keys: vec![keys().ours.clone()],
        ..PartnerSettings::default()
    };
    let headers: Vec<(String, Vec<u8>)> = [
        ("AS2-From", "a"),
        ("AS2-To", "b"),
        (
            "Content-Type",
            "application/pkcs7-mime; smime-type=authenveloped-data",
        ),
        ("Content-Transfer-Encoding", "binary"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
    .collect();
    let r = receive_both(&headers, &der, &settings, &Limits::default()).unwrap();
    assert_eq!(r.payload, &b"UNB+1'"[..]);
    let mut tampered = der.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let Err(Rejection::Failed(f)) =
        receive_both(&headers, &tampered, &settings, &Limits::default())
    else {
        panic!("a wrong tag was accepted");
    };
    assert_eq!(
        f.disposition,
        crate::disposition::Disposition::Error(ProcessingError::DecryptionFailed)
    );
}
