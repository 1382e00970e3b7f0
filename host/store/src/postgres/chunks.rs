//! Large contents as rows of `payload_chunks`, 1 MiB each: written from a file or from memory
//! one chunk at a time inside the receipt's transaction, and read back one chunk per query, so
//! that neither direction holds more than a chunk in memory.

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use deadpool_postgres::Transaction;
use tokio::io::AsyncReadExt;

use super::pool::{Db, Owner};
use crate::error::StoreError;
use crate::payload::{Payload, PayloadSource};

/// The size of a chunk row: large enough that a round trip per chunk costs little beside its
/// bytes, small enough that a chunk is cheap to hold.
pub(crate) const CHUNK: usize = 1 << 20;

/// `payload_chunks.kind` of a document's payload.
pub(crate) const PAYLOAD: i16 = 0;
/// `payload_chunks.kind` of a document's raw request.
pub(crate) const RAW: i16 = 1;

/// Content as the receipt's insert takes it.
pub(crate) enum Placed {
    /// Small: goes into the document's row.
    Inline(Bytes),
    /// Large bytes, chunked after the row is inserted.
    Memory(Bytes),
    /// A large file, streamed after the row is inserted.
    File(PathBuf, u64),
    /// Bytes, then a large file (a raw request's head and body): the bytes are the first
    /// chunk, the file's chunks follow. The length is the two together.
    HeadAndFile(Bytes, PathBuf, u64),
}

impl Placed {
    /// Decides where content goes: in the row up to `inline_limit` bytes (a small file is read
    /// now), in chunks beyond.
    pub async fn of(payload: Payload, inline_limit: usize) -> Result<Placed, StoreError> {
        match payload {
            Payload::Bytes(bytes) if bytes.len() <= inline_limit => Ok(Placed::Inline(bytes)),
            Payload::Bytes(bytes) => Ok(Placed::Memory(bytes)),
            Payload::File(path) => {
                let context = || format!("reading {}", path.display());
                let len = tokio::fs::metadata(&path)
                    .await
                    .map_err(|e| StoreError::io(context(), e))?
                    .len();
                if len <= inline_limit as u64 {
                    let bytes = tokio::fs::read(&path)
                        .await
                        .map_err(|e| StoreError::io(context(), e))?;
                    return Ok(Placed::Inline(bytes.into()));
                }
                Ok(Placed::File(path, len))
            }
            Payload::HeadAndFile { head, file } => {
                let len = tokio::fs::metadata(&file)
                    .await
                    .map_err(|e| StoreError::io(format!("reading {}", file.display()), e))?
                    .len();
                let total = head.len() as u64 + len;
                if total <= inline_limit as u64 {
                    let body = tokio::fs::read(&file)
                        .await
                        .map_err(|e| StoreError::io(format!("reading {}", file.display()), e))?;
                    return Ok(Placed::Inline([&head[..], &body].concat().into()));
                }
                Ok(Placed::HeadAndFile(head, file, total))
            }
        }
    }

    pub fn len(&self) -> u64 {
        match self {
            Placed::Inline(b) | Placed::Memory(b) => b.len() as u64,
            Placed::File(_, len) | Placed::HeadAndFile(_, _, len) => *len,
        }
    }

    pub fn inline(&self) -> Option<&[u8]> {
        match self {
            Placed::Inline(b) => Some(b),
            _ => None,
        }
    }

    pub fn chunked(&self) -> bool {
        !matches!(self, Placed::Inline(_))
    }

    /// Writes the chunks of document `seq`'s content of `kind`; returns the length written
    /// (a file that changed size since it was measured is stored as it is now read).
    pub async fn write(
        &self,
        tx: &Transaction<'_>,
        seq: i64,
        kind: i16,
    ) -> Result<u64, StoreError> {
        let insert = tx
            .prepare_cached(
                "INSERT INTO payload_chunks (seq, kind, n, bytes) VALUES ($1, $2, $3, $4)",
            )
            .await?;
        match self {
            Placed::Inline(_) => Ok(self.len()),
            Placed::Memory(bytes) => {
                for (n, chunk) in bytes.chunks(CHUNK).enumerate() {
                    tx.execute(&insert, &[&seq, &kind, &(n as i32), &chunk])
                        .await?;
                }
                Ok(self.len())
            }
            Placed::File(path, _) => write_file(tx, &insert, (seq, kind), path, 0).await,
            // An empty chunk would read as the content's end: an empty head takes none.
            Placed::HeadAndFile(head, path, _) if head.is_empty() => {
                write_file(tx, &insert, (seq, kind), path, 0).await
            }
            Placed::HeadAndFile(head, path, _) => {
                tx.execute(&insert, &[&seq, &kind, &0i32, &&head[..]])
                    .await?;
                let body = write_file(tx, &insert, (seq, kind), path, 1).await?;
                Ok(head.len() as u64 + body)
            }
        }
    }
}

/// Writes a file's chunks, numbered from `first`; returns the bytes written.
async fn write_file(
    tx: &Transaction<'_>,
    insert: &tokio_postgres::Statement,
    (seq, kind): (i64, i16),
    path: &std::path::Path,
    first: i32,
) -> Result<u64, StoreError> {
    let context = || format!("reading {}", path.display());
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| StoreError::io(context(), e))?;
    let mut buf = vec![0u8; CHUNK];
    let (mut n, mut total) = (first, 0u64);
    loop {
        let filled = fill(&mut file, &mut buf)
            .await
            .map_err(|e| StoreError::io(context(), e))?;
        if filled == 0 {
            break;
        }
        tx.execute(insert, &[&seq, &kind, &n, &&buf[..filled]])
            .await?;
        n += 1;
        total += filled as u64;
    }
    Ok(total)
}

/// Reads until `buf` is full or the file ends; returns how much was read.
async fn fill(file: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// A chunked content, read on demand.
pub(crate) struct ChunkSource {
    pub db: Arc<Db>,
    /// Keeps the backend's runtime running while the handle lives, even after its store.
    pub keep: Option<Arc<Owner>>,
    pub seq: i64,
    pub kind: i16,
    pub len: u64,
}

impl fmt::Debug for ChunkSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSource")
            .field("seq", &self.seq)
            .field("kind", &self.kind)
            .field("len", &self.len)
            .finish()
    }
}

impl PayloadSource for ChunkSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn open(&self) -> Result<Box<dyn Read + Send>, StoreError> {
        Ok(Box::new(ChunkReader {
            db: self.db.clone(),
            _keep: self.keep.clone(),
            seq: self.seq,
            kind: self.kind,
            left: self.len,
            next: 0,
            chunk: Bytes::new(),
        }))
    }
}

/// Reads a chunked content one chunk (one query) at a time; each read blocks on the backend's
/// runtime, as a file read would block on the disk.
struct ChunkReader {
    db: Arc<Db>,
    _keep: Option<Arc<Owner>>,
    seq: i64,
    kind: i16,
    /// Bytes not yet fetched.
    left: u64,
    next: i32,
    chunk: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.chunk.is_empty() {
            if self.left == 0 {
                return Ok(0);
            }
            let (seq, kind, n) = (self.seq, self.kind, self.next);
            let db = self.db.clone();
            let fetched: Option<Vec<u8>> = self
                .db
                .block_on(async move {
                    let client = db.pool.get().await?;
                    let stmt = client
                        .prepare_cached(
                            "SELECT bytes FROM payload_chunks WHERE seq = $1 AND kind = $2 AND n = $3",
                        )
                        .await?;
                    let row = client.query_opt(&stmt, &[&seq, &kind, &n]).await?;
                    Ok(row.map(|r| r.get(0)))
                })
                .map_err(std::io::Error::other)?;
            // A content shorter than its recorded length was purged under the reader, or
            // damaged: an error, never a silently short payload.
            let chunk = fetched.filter(|c| !c.is_empty()).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "stored content of document #{seq} ends {} bytes early",
                        self.left
                    ),
                )
            })?;
            self.left = self.left.saturating_sub(chunk.len() as u64);
            self.next += 1;
            self.chunk = chunk.into();
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
