//! A request body as the host holds it once read: in memory, or in a spool file that holds the
//! body alone (see `server::spool`), so that the file itself can become the document's stored
//! payload. The server makes one; the intake takes the payload from it and hands the store the
//! evidence (the head, then the file when the body is not the payload).

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_store::{PayloadSource, StoreError, StoredPayload};
use bytes::Bytes;

/// A request body as the host holds it.
pub enum Body {
    Memory(Bytes),
    /// Shared: a run's payload handle keeps the file while a response still streams from it.
    Spooled(Arc<SpoolFile>),
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Memory(bytes) => bytes.len() as u64,
            Body::Spooled(file) => file.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body as a document's payload: the bytes in memory, or a handle on the spool file
    /// (which the store adopts by a link and steps read as a stream; nothing is loaded).
    pub fn payload(&self) -> StoredPayload {
        match self {
            Body::Memory(bytes) => StoredPayload::memory(bytes.clone()),
            Body::Spooled(file) => StoredPayload::stored(Arc::new(Spooled {
                file: Arc::clone(file),
                len: file.len,
            })),
        }
    }
}

impl SpoolFile {
    /// An empty file beside the spool file `beside`, for a connector to write the payload into
    /// (removed when the last handle goes, like the spool file; a start's sweep removes it
    /// after a crash, since it carries the same process id).
    pub async fn create_beside(beside: &Path) -> io::Result<SpoolFile> {
        let mut name = beside.as_os_str().to_owned();
        name.push(".payload");
        let path = PathBuf::from(name);
        tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(SpoolFile {
            path,
            len: 0,
            head: Bytes::new(),
        })
    }

    /// This file, as a connector left it, as a document's payload (measured now).
    pub async fn payload(self: &Arc<Self>) -> io::Result<StoredPayload> {
        let len = tokio::fs::metadata(&self.path).await?.len();
        Ok(StoredPayload::stored(Arc::new(Spooled {
            file: Arc::clone(self),
            len,
        })))
    }
}

/// A spooled request body; the file is removed when the last handle on it goes.
pub struct SpoolFile {
    pub path: PathBuf,
    pub len: u64,
    /// The request head (request line and headers as evidence), which the file does not hold.
    pub head: Bytes,
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        remove(&self.path);
    }
}

fn remove(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(file = %path.display(), error = %e, "cannot remove a spool file");
        }
    }
}

/// A spool file as a payload handle of `len` bytes.
#[derive(Debug)]
struct Spooled {
    file: Arc<SpoolFile>,
    len: u64,
}

impl std::fmt::Debug for SpoolFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolFile")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish()
    }
}

impl PayloadSource for Spooled {
    fn len(&self) -> u64 {
        self.len
    }

    fn open(&self) -> Result<Box<dyn Read + Send>, StoreError> {
        let path = &self.file.path;
        File::open(path)
            .map(|f| Box::new(f) as Box<dyn Read + Send>)
            .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.file.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spooled_body_is_a_payload_file_kept_while_a_handle_lives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1-0.request");
        std::fs::write(&path, b"the body").unwrap();
        let file = Arc::new(SpoolFile {
            path: path.clone(),
            len: 8,
            head: Bytes::from_static(b"POST /x HTTP/1.1\r\n\r\n"),
        });
        let body = Body::Spooled(Arc::clone(&file));
        let payload = body.payload();
        assert_eq!(payload.path(), Some(path.as_path()));
        assert_eq!(&payload.bytes().unwrap()[..], b"the body");
        drop((body, file));
        assert!(path.exists(), "the payload handle keeps the file");
        drop(payload);
        assert!(!path.exists(), "the spool file goes with its last handle");
        let memory = Body::Memory(Bytes::from_static(b"in memory"));
        assert_eq!(memory.payload().in_memory().unwrap(), &b"in memory"[..]);
    }
}
