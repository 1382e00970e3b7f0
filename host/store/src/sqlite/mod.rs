//! The embedded backend: SQLite in the data dir, large payloads and raw requests as files
//! beside it, one writer thread with group commit, a small pool of reader connections.
//!
//! Layout: `backend.rs` implements the store's traits; `writer.rs` owns the one writing
//! connection; `readers.rs` pools the reading ones; `sql/` holds every statement and the
//! schema; `files.rs` the payload folder; `lock.rs` the data dir's lock; `import.rs` a copy's
//! reads and writes; `cluster.rs` the one node.

mod backend;
mod cluster;
mod files;
mod import;
mod lock;
mod reader;
mod readers;
mod sql;
mod writer;

pub(crate) use backend::{open, open_reader};

use crate::error::StoreError;

/// rusqlite's errors become the store's own at the first `?`, so that no rusqlite type leaves
/// this folder (the conversion keeps the error as the source).
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::db(e)
    }
}
