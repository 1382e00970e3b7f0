//! A message with several attachments (RFC 6362): its multipart/related (or mixed) payload is
//! split into one document per part, each with its own file name and MIME type and the
//! message's other properties, plus `as2.attachment` ("2 of 3") and, when the part has one,
//! `as2.content_id`; the message's `message_id` links them. The host stores and runs each and
//! tells this listener one outcome, answered with one MDN whose MIC is the message's: RFC 6362
//! keeps RFC 4130's MIC (section 7.3.1: over the signed entity, here the whole multipart/related
//! with its headers; over the decrypted or received content when unsigned), which is what
//! `receive` computes for any payload.
//!
//! A small message is split in memory. A large one was streamed into the payload file whole;
//! it is split from there into part files beside it (part 1 then replaces the payload file),
//! so memory stays bounded, at the price of a second write of the payload on disk; the payload
//! file's blocks are given back as they are read, so the disk holds the payload about once.

use berth_connector_sdk::prelude::*;
use bytes::Bytes;

use super::request::{PayloadAt, Refusal, Unwrapped};
use crate::attachments::{self, Attachment, PartFile, SplitError, MAX_ATTACHMENTS};
use crate::disposition::{Disposition, ProcessingError};
use crate::mime::MimePart;
use crate::receive::{payload_vec, Failed, Rejection};

/// The parts of a message with several attachments, where they are.
pub(super) enum Parts {
    Memory(Vec<Attachment>),
    /// Part 1 in the payload file, part `n` in the request's part file `n - 1`.
    Files(Vec<PartFile>),
}

impl Parts {
    pub(super) fn len(&self) -> usize {
        match self {
            Parts::Memory(parts) => parts.len(),
            Parts::Files(parts) => parts.len(),
        }
    }
}

/// Splits the payload of a message that carries several attachments; a message with one
/// payload is given back as it is.
pub(super) fn split(request: &Request<'_>, unwrapped: Unwrapped) -> Result<Unwrapped, Refusal> {
    let Some(boundary) = unwrapped.tracked.attachments_boundary.clone() else {
        return Ok(unwrapped);
    };
    let split = match &unwrapped.payload {
        PayloadAt::Memory(payload) => split_memory(payload.clone(), &boundary),
        PayloadAt::PayloadFile => split_file(request, &boundary),
        PayloadAt::Parts(_) => return Ok(unwrapped),
    };
    match split {
        Ok(parts) => Ok(Unwrapped {
            payload: PayloadAt::Parts(parts),
            ..unwrapped
        }),
        Err(SplitError::Local(e)) => Err(Refusal::NotStored(format!(
            "splitting the attachments into their files: {e}"
        ))),
        Err(SplitError::Malformed(e)) => {
            Err(Refusal::Rejected(Rejection::Failed(Box::new(Failed {
                disposition: Disposition::Error(ProcessingError::UnexpectedProcessingError),
                detail: format!("the attachments could not be split: {e}"),
                cms_error: None,
                security: unwrapped.security,
                context: unwrapped.context,
            }))))
        }
    }
}

fn split_memory(payload: Bytes, boundary: &str) -> Result<Parts, SplitError> {
    let content_type = format!("multipart/related; boundary=\"{boundary}\"");
    let headers = [("Content-Type".to_string(), content_type.into_bytes())];
    let entity = MimePart::with_headers(&headers, payload);
    let parts = attachments::split(&entity).map_err(SplitError::Malformed)?;
    if parts.len() > MAX_ATTACHMENTS {
        let detail = format!("{boundary} (more than {MAX_ATTACHMENTS} attachments)");
        return Err(SplitError::Malformed(crate::mime::MimeError::NoParts(
            detail,
        )));
    }
    Ok(Parts::Memory(parts))
}

/// Splits the payload file into part files: part 1 into part file 0, then renamed over the
/// payload file, which the host takes as the first document's payload.
fn split_file(request: &Request<'_>, boundary: &str) -> Result<Parts, SplitError> {
    let missing = || SplitError::Local(std::io::Error::other("no payload file was offered"));
    let payload_file = request.payload_file.into_option().ok_or_else(missing)?;
    let part = |n: usize| request.part_file(n).unwrap_or_default();
    let input = Consuming::open(payload_file.as_str()).map_err(SplitError::Local)?;
    let input = std::io::BufReader::with_capacity(1 << 16, input);
    let parts = attachments::split_to_files(input, boundary, &part)?;
    std::fs::rename(part(0), payload_file.as_str()).map_err(SplitError::Local)?;
    Ok(Parts::Files(parts))
}

/// The payload file read once, front to back, giving its disk back behind the reader: what
/// was read is in the splitter's buffers or already in a part file, so the file's blocks
/// before it are punched out as it goes, and a large message's receipt needs about twice
/// its size on disk (body and attachments) instead of three times.
struct Consuming {
    file: std::fs::File,
    /// Bytes read so far.
    read: u64,
    /// Bytes given back (punched) so far; `None` once the file system has refused.
    punched: Option<u64>,
}

/// How much is read between two punches.
const PUNCH_EVERY: u64 = 8 << 20;

impl Consuming {
    fn open(path: &str) -> std::io::Result<Consuming> {
        // Punching holes needs the file open for writing.
        let file = std::fs::File::options().read(true).write(true).open(path)?;
        Ok(Consuming {
            file,
            read: 0,
            punched: Some(0),
        })
    }

    fn punch(&mut self, done: u64) {
        use std::os::fd::AsRawFd;
        let Some(from) = self.punched else {
            return;
        };
        let (Ok(offset), Ok(len)) = (i64::try_from(from), i64::try_from(done - from)) else {
            return;
        };
        // SAFETY: fallocate on a descriptor this value owns, over bytes it has already read;
        // it touches no memory of ours. A file system without hole punching refuses
        // (EOPNOTSUPP), which leaves the file as it is: the disk then comes back when the
        // file is replaced.
        let punched = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                offset,
                len,
            )
        };
        self.punched = (punched == 0).then_some(done);
    }
}

impl std::io::Read for Consuming {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read += n as u64;
        if self
            .punched
            .is_some_and(|punched| self.read - punched >= PUNCH_EVERY)
        {
            self.punch(self.read);
        }
        Ok(n)
    }
}

/// One document per part: the message's properties, the part's own file name and MIME type
/// instead of the message's, and the link between them.
pub(super) fn documents(message: Vec<Property>, parts: Parts) -> (Document, Vec<Document>) {
    let count = parts.len();
    let properties = |place: usize, described: &attachments::Described| {
        let mut own: Vec<Property> = message
            .iter()
            .filter(|p| {
                let name = p.name.as_str();
                name != properties::FILE_NAME && name != properties::MIME_TYPE
            })
            .cloned()
            .collect();
        own.push(Property::new(
            properties::MIME_TYPE,
            described.mime_type.as_str(),
        ));
        if let Some(name) = &described.file_name {
            own.push(Property::new(properties::FILE_NAME, name.as_str()));
        }
        own.push(Property::new(
            ATTACHMENT,
            format!("{} of {count}", place + 1),
        ));
        if let Some(id) = &described.content_id {
            own.push(Property::new(CONTENT_ID, id.as_str()));
        }
        own
    };
    let mut documents: Vec<Document> = match parts {
        Parts::Memory(parts) => parts
            .into_iter()
            .enumerate()
            .map(|(place, part)| {
                let described = attachments::Described {
                    file_name: part.file_name,
                    mime_type: part.mime_type,
                    content_id: part.content_id,
                };
                Document::with_payload(payload_vec(part.data), properties(place, &described))
            })
            .collect(),
        Parts::Files(parts) => parts
            .iter()
            .enumerate()
            .map(|(place, part)| {
                let own = properties(place, &part.described);
                if place == 0 {
                    Document::from_payload_file(own)
                } else {
                    Document::from_part_file(own)
                }
            })
            .collect(),
    };
    let first = documents.remove(0);
    (first, documents)
}

/// The attachment's place in its message, `n of count`.
pub const ATTACHMENT: &str = "as2.attachment";
/// The attachment's Content-ID, without its angle brackets.
pub const CONTENT_ID: &str = "as2.content_id";

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;

    /// Read to its end, the file keeps its length but not its blocks, but for the last bytes
    /// read after the last punch.
    #[test]
    fn a_payload_file_gives_its_disk_back_as_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payload");
        let len = 20u64 << 20;
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut consuming = Consuming::open(path.to_str().unwrap()).unwrap();
        let mut read = Vec::new();
        consuming.read_to_end(&mut read).unwrap();
        assert!(read == data, "the bytes are read as written");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), len);
        let allocated = meta.blocks() * 512;
        assert!(
            allocated <= len - 2 * PUNCH_EVERY,
            "{allocated} bytes still allocated of {len}"
        );
    }
}
