//! Payloads and raw requests going into the store and coming back out, without assuming they
//! fit in memory.
//!
//! Most EDI messages are a few kilobytes, so both directions keep an in-memory fast path
//! (`Bytes`, shared without a copy). A large one enters as a file the store adopts (linked into
//! its own storage where it can, streamed otherwise) and comes back as a handle that opens a
//! reader, so that a 4 GiB payload never has to sit whole in memory.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::error::StoreError;

/// Content handed to the store: a document's payload or its raw request.
#[derive(Debug, Clone)]
pub enum Payload {
    /// In memory; stored as it is (in the database when small).
    Bytes(Bytes),
    /// A file of the caller's, on this machine (for example a spooled request): the store takes
    /// it into its own storage, by a hard link where the backend and the file system allow and
    /// by a streamed copy otherwise. The caller keeps its name for the file and may remove it
    /// once `receive` has returned.
    File(PathBuf),
    /// `head`, then the content of a file of the caller's (taken in as [`Payload::File`] is):
    /// a raw request whose head the host holds in memory and whose body it spooled, kept
    /// without copying the body.
    HeadAndFile { head: Bytes, file: PathBuf },
}

impl Default for Payload {
    fn default() -> Self {
        Payload::Bytes(Bytes::new())
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Self {
        Payload::Bytes(bytes)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Payload::Bytes(bytes.into())
    }
}

impl From<&'static [u8]> for Payload {
    fn from(bytes: &'static [u8]) -> Self {
        Payload::Bytes(Bytes::from_static(bytes))
    }
}

/// Content a backend keeps outside memory, read on demand.
///
/// The local backend's payload files implement it with a path; a database backend would open
/// its large object or chunks.
pub trait PayloadSource: Send + Sync + fmt::Debug {
    /// The content's length in bytes.
    fn len(&self) -> u64;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A reader from the first byte. Blocks (it reads a file or a database): call it off the
    /// async runtime's workers.
    fn open(&self) -> Result<Box<dyn Read + Send>, StoreError>;

    /// The file that holds the content, when the backend keeps it in a local file, so that a
    /// caller can link or copy it without reading it through.
    fn path(&self) -> Option<&Path> {
        None
    }
}

/// Content made of bytes in memory followed by another stored content (a raw request's head,
/// then its body's file), read as one.
#[derive(Debug)]
pub struct HeadThen {
    pub head: Bytes,
    pub rest: Box<dyn PayloadSource>,
}

impl PayloadSource for HeadThen {
    fn len(&self) -> u64 {
        self.head.len() as u64 + self.rest.len()
    }

    fn open(&self) -> Result<Box<dyn Read + Send>, StoreError> {
        let head = std::io::Cursor::new(self.head.clone());
        Ok(Box::new(head.chain(self.rest.open()?)))
    }
}

/// A stored payload or raw request as read back: in memory when small, otherwise a handle that
/// opens a reader. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StoredPayload(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Memory(Bytes),
    Stored(Arc<dyn PayloadSource>),
}

impl Default for StoredPayload {
    fn default() -> Self {
        StoredPayload::memory(Bytes::new())
    }
}

impl StoredPayload {
    /// Content already in memory.
    pub fn memory(bytes: Bytes) -> StoredPayload {
        StoredPayload(Repr::Memory(bytes))
    }

    /// Content a backend keeps elsewhere.
    pub fn stored(source: Arc<dyn PayloadSource>) -> StoredPayload {
        StoredPayload(Repr::Stored(source))
    }

    pub fn len(&self) -> u64 {
        match &self.0 {
            Repr::Memory(bytes) => bytes.len() as u64,
            Repr::Stored(source) => source.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The content, when it is in memory already (the small-payload fast path).
    pub fn in_memory(&self) -> Option<&Bytes> {
        match &self.0 {
            Repr::Memory(bytes) => Some(bytes),
            Repr::Stored(_) => None,
        }
    }

    /// The content itself when it is in memory (the fast path takes it without a copy), or
    /// the handle back when the store keeps it elsewhere.
    pub fn into_memory(self) -> Result<Bytes, StoredPayload> {
        match self.0 {
            Repr::Memory(bytes) => Ok(bytes),
            stored => Err(StoredPayload(stored)),
        }
    }

    /// The local file that holds the content, if it is one.
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Memory(_) => None,
            Repr::Stored(source) => source.path(),
        }
    }

    /// A reader over the content. Blocks for stored content (see [`PayloadSource::open`]).
    pub fn open(&self) -> Result<Box<dyn Read + Send>, StoreError> {
        match &self.0 {
            Repr::Memory(bytes) => Ok(Box::new(std::io::Cursor::new(bytes.clone()))),
            Repr::Stored(source) => source.open(),
        }
    }

    /// The whole content in memory. Free for in-memory content; stored content is read
    /// through, which blocks and costs its whole size in memory: for callers that need bytes.
    pub fn bytes(&self) -> Result<Bytes, StoreError> {
        let source = match &self.0 {
            Repr::Memory(bytes) => return Ok(bytes.clone()),
            Repr::Stored(source) => source,
        };
        // The length is a hint only: the reader decides where the content ends.
        let mut buf = Vec::with_capacity(usize::try_from(source.len()).unwrap_or(0));
        let context = match source.path() {
            Some(path) => format!("reading {}", path.display()),
            None => "reading a stored payload".to_string(),
        };
        source
            .open()?
            .read_to_end(&mut buf)
            .map_err(|e| StoreError::io(context, e))?;
        Ok(buf.into())
    }

    /// As [`StoredPayload::bytes`], reading stored content on the runtime's blocking pool so
    /// that the async workers never wait for a disk. Must run inside a tokio runtime.
    pub async fn load(&self) -> Result<Bytes, StoreError> {
        if let Repr::Memory(bytes) = &self.0 {
            return Ok(bytes.clone());
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.bytes())
            .await
            .map_err(|e| StoreError::io("reading a stored payload", std::io::Error::other(e)))?
    }
}

impl From<Bytes> for StoredPayload {
    fn from(bytes: Bytes) -> Self {
        StoredPayload::memory(bytes)
    }
}
