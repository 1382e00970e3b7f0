//! A request body as the host holds it once read: in memory, or in a spool file that also holds
//! the request head (see `server::spool`). The server makes one; the intake reads the payload
//! from it and hands the file to the store as evidence.

use std::io;
use std::path::PathBuf;

use bytes::Bytes;

/// A request body as the host holds it.
pub enum Body {
    Memory(Bytes),
    Spooled(SpoolFile),
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Memory(bytes) => bytes.len() as u64,
            Body::Spooled(file) => file.body_len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A spooled request; the file is removed when this is dropped.
pub struct SpoolFile {
    pub path: PathBuf,
    /// Where the body starts: the request head comes first.
    pub body_offset: u64,
    pub body_len: u64,
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(file = %self.path.display(), error = %e, "cannot remove a spool file");
            }
        }
    }
}

impl Body {
    /// The body in memory: a spooled one is read back (for connectors whose payload is the
    /// body), from its offset, into a buffer of exactly its size.
    pub async fn bytes(&self) -> io::Result<Bytes> {
        use std::io::{Read, Seek, SeekFrom};
        match self {
            Body::Memory(bytes) => Ok(bytes.clone()),
            Body::Spooled(file) => {
                let (path, offset, len) = (file.path.clone(), file.body_offset, file.body_len);
                tokio::task::spawn_blocking(move || {
                    let len = usize::try_from(len).map_err(io::Error::other)?;
                    let mut file = std::fs::File::open(path)?;
                    file.seek(SeekFrom::Start(offset))?;
                    let mut bytes = vec![0; len];
                    file.read_exact(&mut bytes)?;
                    Ok(Bytes::from(bytes))
                })
                .await
                .map_err(io::Error::other)?
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_spooled_body_reads_back_without_its_head() {
        let path = std::env::temp_dir().join(format!("berth-body-{}.request", std::process::id()));
        std::fs::write(&path, b"POST /x HTTP/1.1\r\n\r\nthe body").unwrap();
        let body = Body::Spooled(SpoolFile {
            path: path.clone(),
            body_offset: 20,
            body_len: 8,
        });
        assert_eq!(&body.bytes().await.unwrap()[..], b"the body");
        drop(body);
        assert!(!path.exists(), "the spool file goes with its body");
        let memory = Body::Memory(Bytes::from_static(b"in memory"));
        assert_eq!(&memory.bytes().await.unwrap()[..], b"in memory");
    }
}
