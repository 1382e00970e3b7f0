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

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::error::StoreError;

pub(crate) use read::{document, history, properties, query, raw, unfinished, DocumentRead};
pub(crate) use schema::migrate;
pub(crate) use write::{
    append_history, find_duplicate, insert_document, insert_properties, max_seq, purge,
    referenced_files, set_answer, set_finished, set_retry, state_of, DocumentRow,
};

/// Properties and history entries of the document numbered `seq` have the ids
/// `seq * PER_DOCUMENT ..< (seq + 1) * PER_DOCUMENT`: one key range per document, found
/// without an index of its own. It caps a document at that many properties and history
/// entries, far beyond any real one, and leaves room for 2^47 documents.
pub(crate) const PER_DOCUMENT: i64 = 1 << 16;

/// The key range of document `seq`'s properties and history entries.
pub(crate) fn key_range(seq: i64) -> (i64, i64) {
    (seq * PER_DOCUMENT, (seq + 1) * PER_DOCUMENT)
}

/// The database file inside the data dir.
pub(crate) const DB_FILE: &str = "store.sqlite";

/// Opens the one connection that writes. WAL lets readers run beside it, and `synchronous=FULL`
/// makes every commit fsync the log: a commit that returned survives a power cut, which is the
/// promise a 2xx answer makes.
pub(crate) fn open_writer(data_dir: &Path, busy: Duration) -> Result<Connection, StoreError> {
    let conn = Connection::open(data_dir.join(DB_FILE))?;
    stable_plans(&conn)?;
    conn.busy_timeout(busy)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "the database refused WAL mode (it stays in {mode})"
        )));
    }
    // A larger page cache keeps the indexes' hot pages in memory, and a larger checkpoint
    // interval lets a page changed by many batches be copied to the database once, not once
    // per thousand pages of log (SQLite's default).
    conn.execute_batch(
        "PRAGMA synchronous=FULL; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=10000;",
    )?;
    Ok(conn)
}

/// Opens a connection for reads only; it sees the last committed state and never takes the
/// write lock, so listings and recovery never hold up the writer thread.
pub(crate) fn open_reader(data_dir: &Path, busy: Duration) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(data_dir.join(DB_FILE), flags)?;
    stable_plans(&conn)?;
    conn.busy_timeout(busy)?;
    conn.execute_batch("PRAGMA query_only=ON;")?;
    Ok(conn)
}

/// Turns on SQLite's query planner stability guarantee. Without it, a cached statement whose
/// plan could depend on a bound value (`MAX(...)`, `ORDER BY ... LIMIT 1`) is compiled again
/// on every execution: measured, that re-preparing took a quarter of the writer thread's time.
/// The store's statements have one good plan each, whatever the values.
fn stable_plans(conn: &Connection) -> Result<(), StoreError> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}
