//! A large multipart payload split as it streams from its file into one file per part, the
//! parts' transfer encodings removed: memory stays at a read buffer and a header block,
//! whatever the size of the parts.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use crate::mime::{MimeError, MimePart};

use super::scan::{Scanner, SplitError};
use super::{describe, Described, MAX_ATTACHMENTS};

/// Longest header block of a part.
const MAX_HEADERS: usize = 64 * 1024;
/// Writes of a part are gathered into this much before they reach its file.
const WRITE_BUFFER: usize = 1 << 18;

/// One part written to its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartFile {
    pub described: Described,
    /// Bytes written, transfer decoding undone.
    pub len: u64,
}

/// Splits the multipart body `input` reads (boundary `boundary`), writing part `n` (from 0)
/// to the new file `path_of(n)`. On an error the files written so far are the caller's to
/// remove.
pub fn split_to_files(
    input: impl Read,
    boundary: &str,
    path_of: &dyn Fn(usize) -> String,
) -> Result<Vec<PartFile>, SplitError> {
    let mut scanner = Scanner::new(input, boundary).map_err(SplitError::Malformed)?;
    let mut parts = Vec::new();
    while scanner.next_part()? {
        if parts.len() == MAX_ATTACHMENTS {
            return Err(SplitError::Malformed(MimeError::NoParts(format!(
                "{boundary} (more than {MAX_ATTACHMENTS} attachments)"
            ))));
        }
        let headers = MimePart::parse(&header_block(&mut scanner)?);
        let described = describe(&headers);
        let path = path_of(parts.len());
        let len = write_part(&mut scanner, &headers, &path)?;
        parts.push(PartFile { described, len });
    }
    if parts.is_empty() {
        return Err(SplitError::Malformed(MimeError::NoParts(boundary.into())));
    }
    Ok(parts)
}

/// The part's header block, through its empty line (all of the part when it has none).
fn header_block(scanner: &mut impl Read) -> Result<Vec<u8>, SplitError> {
    let mut block = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if block == b"\r\n" || block == b"\n" || block.ends_with(b"\n\n") {
            return Ok(block);
        }
        if block.ends_with(b"\r\n\r\n") {
            return Ok(block);
        }
        if block.len() > MAX_HEADERS {
            return Err(SplitError::Malformed(MimeError::UnsupportedEncoding(
                "an attachment's headers longer than 64 KiB".into(),
            )));
        }
        match scanner.read(&mut byte) {
            Ok(0) => return Ok(block),
            Ok(_) => block.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(SplitError::Local(e)),
        }
    }
}

/// The rest of the part, its transfer encoding removed, into a new file at `path`.
fn write_part(scanner: &mut impl Read, headers: &MimePart, path: &str) -> Result<u64, SplitError> {
    let encoding = headers.transfer_encoding();
    let mut decoded = crate::stream::cte::decoder(encoding.as_deref(), Box::new(&mut *scanner))
        .map_err(SplitError::Malformed)?;
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(SplitError::Local)?;
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = match decoded.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The decoders report broken content as invalid data; anything else is the file.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(SplitError::Malformed(MimeError::Base64(e.to_string())))
            }
            Err(e) => return Err(SplitError::Local(e)),
        };
        out.write_all(&buf[..n]).map_err(SplitError::Local)?;
        len += n as u64;
    }
    out.flush().map_err(SplitError::Local)?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELATED: &[u8] = b"preamble\r\n--b1\r\n\
Content-Type: application/edi-x12\r\n\
Content-Disposition: attachment; filename=\"one.edi\"\r\n\
\r\n\
ISA*00~\r\n\
--b1 \t\r\n\
Content-Type: application/xml\r\n\
\r\n\
<a/>\r\n--b1x\r\nstill two\r\n\
--b1\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"three.bin\"\r\n\
\r\n\
AAEC/w==\r\n\
--b1--\r\nepilogue";

    /// Reads one byte at a time: every delimiter is split across reads.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    fn split_in(dir: &std::path::Path, input: impl Read) -> Result<Vec<PartFile>, SplitError> {
        let path_of = |n: usize| dir.join(format!("part{n}")).to_str().unwrap().to_string();
        split_to_files(input, "b1", &path_of)
    }

    #[test]
    fn parts_stream_into_their_files_as_the_in_memory_split_reads_them() {
        for trickle in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let parts = if trickle {
                split_in(dir.path(), Trickle(RELATED))
            } else {
                split_in(dir.path(), RELATED)
            }
            .unwrap();
            let read = |n: usize| std::fs::read(dir.path().join(format!("part{n}"))).unwrap();
            assert_eq!(read(0), b"ISA*00~");
            assert_eq!(read(1), b"<a/>\r\n--b1x\r\nstill two");
            assert_eq!(read(2), [0, 1, 2, 255]);
            let names: Vec<_> = parts
                .iter()
                .map(|p| {
                    (
                        p.described.file_name.as_deref(),
                        p.described.mime_type.as_str(),
                        p.len,
                    )
                })
                .collect();
            assert_eq!(
                names,
                [
                    (Some("one.edi"), "application/edi-x12", 7),
                    (None, "application/xml", 22),
                    (Some("three.bin"), "application/octet-stream", 4),
                ]
            );
            // The in-memory split agrees.
            let mut whole = b"Content-Type: multipart/related; boundary=b1\r\n\r\n".to_vec();
            whole.extend_from_slice(RELATED);
            let memory = super::super::split(&MimePart::parse(&whole)).unwrap();
            let data: Vec<Vec<u8>> = memory.iter().map(|a| a.data.to_vec()).collect();
            assert_eq!(data, [read(0), read(1), read(2)]);
        }
    }

    #[test]
    fn broken_structures_are_the_messages_fault() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [&[u8]; 4] = [
            b"--b1\r\n\r\nunterminated\r\n",
            b"no delimiter at all",
            b"--b1\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\r\n--b1--\r\n",
            b"--b1\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nx\r\n--b1--\r\n",
        ];
        for (n, case) in cases.into_iter().enumerate() {
            let sub = dir.path().join(n.to_string());
            std::fs::create_dir(&sub).unwrap();
            let result = split_in(&sub, case);
            assert!(
                matches!(result, Err(SplitError::Malformed(_))),
                "{n}: {result:?}"
            );
        }
    }

    #[test]
    fn a_large_part_streams_through_bounded_buffers() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut body = b"--b1\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
        body.extend_from_slice(&big);
        body.extend_from_slice(b"\r\n--b1\r\n\r\nsmall\r\n--b1--");
        let parts = split_in(dir.path(), &body[..]).unwrap();
        assert_eq!(parts.len(), 2);
        assert!(std::fs::read(dir.path().join("part0")).unwrap() == big);
        assert_eq!(std::fs::read(dir.path().join("part1")).unwrap(), b"small");
    }
}
