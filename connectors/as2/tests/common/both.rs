//! Every message through both paths: `receive` in memory, and `stream::receive_to` with the
//! body read a few bytes at a time (so every boundary, BER header and base64 quantum is split
//! at every position of a small message), asserting that they agree on everything the MDN
//! and the host see.

use std::io::Read;

use berth_as2::headers::As2Headers;
use berth_as2::receive::{receive, PartnerSettings, Received, Rejection};
use berth_as2::stream::{receive_to, ReceivedMeta};
use berth_as2::unwrap::Limits;

/// Reads 1 to 7 bytes at a time, the sizes cycling from `phase`.
pub struct Trickle<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    pub turn: usize,
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

/// The phases a body of `len` bytes is trickled with: all seven for small bodies, one for
/// medium ones, none (whole reads) for large ones.
fn phases(len: usize) -> Vec<Option<usize>> {
    match len {
        0..=16_384 => (0..7).map(Some).collect(),
        16_385..=262_144 => vec![Some(0)],
        _ => vec![None],
    }
}

/// `receive` in memory, checked against the streamed path; the in-memory result.
pub fn receive_both(
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    settings: &PartnerSettings,
    limits: &Limits,
) -> Result<Received, Rejection> {
    let memory = receive(headers, body, settings, limits);
    let Ok(parsed) = As2Headers::parse(headers) else {
        return memory;
    };
    for phase in phases(body.len()) {
        let open = || -> std::io::Result<Box<dyn Read + '_>> {
            Ok(match phase {
                Some(turn) => Box::new(Trickle {
                    data: body,
                    pos: 0,
                    turn,
                }),
                None => Box::new(body),
            })
        };
        let mut sink = Vec::new();
        let streamed = receive_to(
            parsed.clone(),
            &open,
            body.len() as u64,
            settings,
            limits,
            &mut sink,
        );
        agree(&memory, &streamed, &sink, phase);
    }
    memory
}

fn der(cert: Option<&openssl::x509::X509>) -> Option<Vec<u8>> {
    cert.map(|c| c.to_der().unwrap())
}

/// Asserts that the streamed outcome is the in-memory one.
pub fn agree(
    memory: &Result<Received, Rejection>,
    streamed: &Result<ReceivedMeta, Rejection>,
    sink: &[u8],
    phase: Option<usize>,
) {
    let at = format!("phase {phase:?}");
    match (memory, streamed) {
        (Ok(m), Ok(s)) => {
            assert!(m.payload[..] == sink[..], "{at}: payload differs");
            assert_eq!(s.payload_len, sink.len() as u64, "{at}");
            assert_eq!(m.properties, s.properties, "{at}");
            assert_eq!(m.security.layers, s.security.layers, "{at}");
            assert_eq!(m.security.signature_alg, s.security.signature_alg, "{at}");
            assert_eq!(
                der(m.security.signer.as_ref()),
                der(s.security.signer.as_ref()),
                "{at}"
            );
            assert_eq!(m.context.mic, s.context.mic, "{at}: MIC");
        }
        (Err(Rejection::Failed(m)), Err(Rejection::Failed(s))) => {
            assert_eq!(
                m.disposition, s.disposition,
                "{at}: {} / streamed: {}",
                m.detail, s.detail
            );
            assert_eq!(
                m.cms_error.as_ref().map(std::mem::discriminant),
                s.cms_error.as_ref().map(std::mem::discriminant),
                "{at}: {:?} / streamed: {:?}",
                m.cms_error,
                s.cms_error
            );
            assert_eq!(m.security.layers, s.security.layers, "{at}: {}", m.detail);
            assert_eq!(m.security.signature_alg, s.security.signature_alg, "{at}");
            assert_eq!(m.context.mic, s.context.mic, "{at}: MIC of {}", m.detail);
        }
        (m, s) => panic!(
            "{at}: in memory {:?}, streamed {:?}",
            m.as_ref().map(|r| &r.security),
            s.as_ref().map(|r| &r.security)
        ),
    }
}
