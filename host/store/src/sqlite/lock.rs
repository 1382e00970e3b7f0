//! An exclusive lock on the data dir.
//!
//! Two hosts on one data dir would both run the unfinished documents at start-up, and the
//! start-up sweep of one could delete a payload file the other is about to commit. SQLite's own
//! locks do not prevent either, so the store takes an advisory `flock` that the kernel releases
//! when the process dies, also on SIGKILL.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::StoreError;

#[derive(Debug)]
pub(crate) struct DirLock {
    // Held for its file descriptor: closing it releases the lock.
    _file: File,
}

impl DirLock {
    pub(crate) fn acquire(data_dir: &Path) -> Result<DirLock, StoreError> {
        let path = data_dir.join("store.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
        // SAFETY: flock only reads the descriptor, which `file` keeps open for the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(StoreError::Locked(data_dir.to_path_buf()));
            }
            return Err(StoreError::io(format!("locking {}", path.display()), err));
        }
        Ok(DirLock { _file: file })
    }
}
