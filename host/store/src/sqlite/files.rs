//! Large payloads and raw requests as files under `DATA_DIR/payloads/`.
//!
//! A file is written and fsynced, and its directory fsynced, before the row that names it is
//! committed: once the row is durable, so is the file. The reverse can happen (a crash between
//! the file and the commit leaves a file no row names); [`PayloadDir::sweep`] removes those at
//! start-up, which is safe because the store holds the data dir's lock then.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::error::StoreError;
use crate::payload::PayloadSource;

/// Where a payload (or raw request) lives.
#[derive(Debug, Clone)]
pub(crate) enum Blob {
    Inline(Bytes),
    /// A file name inside the payloads directory (never a path, so the data dir can move).
    File(String),
    /// Bytes kept in the row, followed by a file's content (a raw request's head and body).
    HeadAndFile(Bytes, String),
}

impl Blob {
    /// The payload file this content names, if any.
    pub(crate) fn file(&self) -> Option<&str> {
        match self {
            Blob::Inline(_) => None,
            Blob::File(name) | Blob::HeadAndFile(_, name) => Some(name),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PayloadDir {
    dir: PathBuf,
}

/// Distinguishes files written in the same millisecond by the same process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name for a new file. It carries no part of the document id: ids come from the network
/// (AS2 Message-IDs) and must never become path components.
fn fresh_name() -> String {
    format!(
        "{}-{}-{}.bin",
        crate::clock::now_millis(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl PayloadDir {
    pub(crate) fn open(data_dir: &Path) -> Result<PayloadDir, StoreError> {
        let dir = data_dir.join("payloads");
        fs::create_dir_all(&dir)
            .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
        Ok(PayloadDir { dir })
    }

    /// The payload folder of a store opened elsewhere, for reading only: nothing is created.
    pub(crate) fn existing(data_dir: &Path) -> PayloadDir {
        PayloadDir {
            dir: data_dir.join("payloads"),
        }
    }

    /// Writes `bytes` to a new file and makes it durable; returns the file's name.
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<String, StoreError> {
        loop {
            let name = fresh_name();
            let path = self.dir.join(&name);
            let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => f,
                // A name left by an earlier run with the same pid: take the next number.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io(format!("creating {}", path.display()), e)),
            };
            let written = file.write_all(bytes).and_then(|()| file.sync_all());
            if let Err(e) = written {
                drop(file);
                let _ = fs::remove_file(&path);
                return Err(StoreError::io(format!("writing {}", path.display()), e));
            }
            self.sync_dir()?;
            return Ok(name);
        }
    }

    /// Makes `file` (outside the folder, on the same file system) durable and links it in under
    /// a new name; the caller's name for it stays the caller's. On another file system, or one
    /// without hard links, it is copied instead. Returns the new name and the file's length.
    pub(crate) fn adopt(&self, file: &Path) -> Result<(String, u64), StoreError> {
        let len = File::open(file)
            .and_then(|f| f.sync_all().and_then(|()| f.metadata()))
            .map_err(|e| StoreError::io(format!("syncing {}", file.display()), e))?
            .len();
        loop {
            let name = fresh_name();
            let path = self.dir.join(&name);
            match fs::hard_link(file, &path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(_) => {
                    // A copy is slower but as good: written, then made durable.
                    let copied = fs::copy(file, &path)
                        .and_then(|_| File::open(&path).and_then(|f| f.sync_all()));
                    if let Err(e) = copied {
                        let _ = fs::remove_file(&path);
                        return Err(StoreError::io(format!("copying {}", file.display()), e));
                    }
                }
            }
            self.sync_dir()?;
            return Ok((name, len));
        }
    }

    /// Makes the directory entries of new files durable: on Linux a file's fsync does not
    /// cover its name in the directory.
    fn sync_dir(&self) -> Result<(), StoreError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io(format!("syncing {}", self.dir.display()), e))
    }

    /// A stored file as a payload handle of `len` bytes; nothing is read.
    pub(crate) fn source(&self, name: &str, len: u64) -> Result<LocalFile, StoreError> {
        Ok(LocalFile {
            path: self.path(name)?,
            len,
        })
    }

    /// As [`PayloadDir::source`], taking the length from the file, for content whose length
    /// the database does not keep (raw requests).
    pub(crate) fn source_of_file(&self, name: &str) -> Result<LocalFile, StoreError> {
        let path = self.path(name)?;
        let len = fs::metadata(&path)
            .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?
            .len();
        Ok(LocalFile { path, len })
    }

    /// Removes a file whose row is gone. A file already missing is fine: removal is retried by
    /// the start-up sweep, and a second removal must not fail a purge.
    pub(crate) fn remove(&self, name: &str) -> Result<(), StoreError> {
        let path = self.path(name)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(format!("removing {}", path.display()), e)),
        }
    }

    /// Removes every file that no row names (left by a crash before its row committed, or by a
    /// purge that crashed after its commit). Returns how many were removed.
    pub(crate) fn sweep(&self, referenced: &HashSet<String>) -> Result<usize, StoreError> {
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| StoreError::io(format!("listing {}", self.dir.display()), e))?;
        let mut removed = 0;
        for entry in entries {
            let entry =
                entry.map_err(|e| StoreError::io(format!("listing {}", self.dir.display()), e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !referenced.contains(name) && entry.path().is_file() {
                self.remove(name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Resolves a stored name, refusing anything that is not a plain file name, so that a
    /// tampered database cannot make the store read or delete files elsewhere.
    pub(crate) fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        let plain =
            !name.is_empty() && !name.contains(['/', '\\', '\0']) && name != "." && name != "..";
        if plain {
            Ok(self.dir.join(name))
        } else {
            Err(StoreError::Corrupt(format!("payload file name {name:?}")))
        }
    }
}

/// A payload file, read on demand: the handle a stored document hands out, so that a large
/// payload is never loaded whole unless its user asks for that.
#[derive(Debug)]
pub(crate) struct LocalFile {
    path: PathBuf,
    len: u64,
}

impl PayloadSource for LocalFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn open(&self) -> Result<Box<dyn Read + Send>, StoreError> {
        File::open(&self.path)
            .map(|f| Box::new(f) as Box<dyn Read + Send>)
            .map_err(|e| StoreError::io(format!("reading {}", self.path.display()), e))
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_remove_and_sweep() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PayloadDir::open(tmp.path()).unwrap();
        let a = dir.write(b"alpha").unwrap();
        let b = dir.write(b"beta").unwrap();
        assert_ne!(a, b);
        let read = |name: &str| -> Result<Vec<u8>, StoreError> {
            let mut bytes = Vec::new();
            let mut file = dir.source_of_file(name)?.open()?;
            file.read_to_end(&mut bytes).unwrap();
            Ok(bytes)
        };
        assert_eq!(read(&a).unwrap(), b"alpha");
        assert_eq!(dir.source_of_file(&a).unwrap().len(), 5);
        dir.remove(&a).unwrap();
        dir.remove(&a).unwrap();
        assert!(read(&a).is_err());
        let keep: HashSet<String> = HashSet::new();
        assert_eq!(dir.sweep(&keep).unwrap(), 1);
        assert!(read(&b).is_err());
    }

    #[test]
    fn refuses_names_that_leave_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PayloadDir::open(tmp.path()).unwrap();
        for bad in ["../x", "..", "a/b", "", "a\0b"] {
            assert!(
                matches!(dir.source(bad, 0), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }
}
