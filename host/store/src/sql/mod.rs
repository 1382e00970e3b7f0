//! Every SQL statement of the store lives under this module, so that a PostgreSQL backend can
//! follow by writing a sibling of it.
//!
//! The schema is plain SQL that both SQLite and PostgreSQL accept (TEXT, BIGINT, BLOB/BYTEA,
//! ordinary and partial indexes, no rowid, no AUTOINCREMENT, no WITHOUT ROWID); SQLite-only
//! settings are confined to the connection pragmas in this file.

mod read;
mod schema;
mod write;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::StoreError;

pub(crate) use read::{document, DocumentRead, history, properties, query, raw, unfinished_ids};
pub(crate) use schema::migrate;
pub(crate) use write::{
    exists, find_duplicate, insert_document, insert_history, insert_properties, max_seq, purge,
    referenced_files, set_answer, set_finished, set_retry, state_of, DocumentRow,
};

/// The database file inside the data dir.
pub(crate) const DB_FILE: &str = "store.sqlite";

/// Opens the one connection that writes. WAL lets readers run beside it, and `synchronous=FULL`
/// makes every commit fsync the log: a commit that returned survives a power cut, which is the
/// promise a 2xx answer makes.
pub(crate) fn open_writer(data_dir: &Path, busy: Duration) -> Result<Connection, StoreError> {
    let conn = Connection::open(data_dir.join(DB_FILE))?;
    conn.busy_timeout(busy)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "the database refused WAL mode (it stays in {mode})"
        )));
    }
    conn.execute_batch("PRAGMA synchronous=FULL;")?;
    Ok(conn)
}

/// Opens a connection for reads only; it sees the last committed state and never takes the
/// write lock, so listings and recovery never hold up the writer thread.
pub(crate) fn open_reader(data_dir: &Path, busy: Duration) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(data_dir.join(DB_FILE), flags)?;
    conn.busy_timeout(busy)?;
    conn.execute_batch("PRAGMA query_only=ON;")?;
    Ok(conn)
}
