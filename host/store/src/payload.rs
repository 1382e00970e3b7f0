//! Large payloads as files under `DATA_DIR/payloads/`.
//!
//! A file is written and fsynced, and its directory fsynced, before the row that names it is
//! committed: once the row is durable, so is the file. The reverse can happen (a crash between
//! the file and the commit leaves a file no row names); [`PayloadDir::sweep`] removes those at
//! start-up, which is safe because the store holds the data dir's lock then.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::error::StoreError;

/// Where a payload (or raw request) lives.
#[derive(Debug, Clone)]
pub(crate) enum Blob {
    Inline(Bytes),
    /// A file name inside the payloads directory (never a path, so the data dir can move).
    File(String),
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
    /// without hard links, it is copied instead.
    pub(crate) fn adopt(&self, file: &Path) -> Result<String, StoreError> {
        File::open(file)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::io(format!("syncing {}", file.display()), e))?;
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
            return Ok(name);
        }
    }

    /// Makes the directory entries of new files durable: on Linux a file's fsync does not
    /// cover its name in the directory.
    fn sync_dir(&self) -> Result<(), StoreError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io(format!("syncing {}", self.dir.display()), e))
    }

    pub(crate) fn read(&self, name: &str) -> Result<Bytes, StoreError> {
        let path = self.path(name)?;
        fs::read(&path)
            .map(Bytes::from)
            .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))
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
    fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        let plain =
            !name.is_empty() && !name.contains(['/', '\\', '\0']) && name != "." && name != "..";
        if plain {
            Ok(self.dir.join(name))
        } else {
            Err(StoreError::Corrupt(format!("payload file name {name:?}")))
        }
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
        assert_eq!(&dir.read(&a).unwrap()[..], b"alpha");
        dir.remove(&a).unwrap();
        dir.remove(&a).unwrap();
        assert!(dir.read(&a).is_err());
        let keep: HashSet<String> = HashSet::new();
        assert_eq!(dir.sweep(&keep).unwrap(), 1);
        assert!(dir.read(&b).is_err());
    }

    #[test]
    fn refuses_names_that_leave_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PayloadDir::open(tmp.path()).unwrap();
        for bad in ["../x", "..", "a/b", "", "a\0b"] {
            assert!(
                matches!(dir.read(bad), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }
}
