//! Every SQL statement of the store lives under this module, so that a PostgreSQL backend can
//! follow by writing a sibling of it.
//!
//! The schema is plain SQL that both SQLite and PostgreSQL accept (TEXT, BIGINT, BLOB/BYTEA,
//! ordinary and partial indexes, no rowid, no AUTOINCREMENT, no WITHOUT ROWID); SQLite-only
//! settings are confined to the connection pragmas in this file.

pub(crate) mod certificates;
pub(crate) mod outbox;
mod read;
mod schema;
mod unique;
mod write;

use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::error::StoreError;

pub(crate) use read::{
    document, duplicate_keys, export_ids, history, properties, query, raw, traffic, unfinished,
    DocumentRead,
};
pub(crate) use schema::migrate;
pub(crate) use unique::{claim_unique_key, import_unique_key, orphan_keys, release_unique_key};
pub(crate) use write::{
    append_history, find_duplicate, insert_document, insert_history, insert_properties, locate,
    max_seq, next_history, purge, referenced_files, set_answer, set_concluded, set_finished,
    set_retry, DocumentRow,
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
    // Only a new database takes the page size (before its first write, which setting WAL mode
    // is); an existing one keeps its own. 8 KiB pages hold a typical document's payload and
    // raw request without an overflow page and several answers (MDNs) each, and halve the
    // write calls per commit; measured with examples/document_cost.rs: ~10% less CPU per
    // document than 4 KiB. 16 KiB wrote more bytes (each commit rewrites the last page of
    // every index).
    conn.execute_batch("PRAGMA page_size=8192;")?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "the database refused WAL mode (it stays in {mode})"
        )));
    }
    // The page cache holds the pages the writer keeps coming back to (the last page of each
    // table and index, the upper levels of the indexes) several times over. Not much more:
    // SQLite walks its whole page hash at the end of any transaction whose b-tree balancing
    // renumbered a page, which with a 64 MiB cache took 6% of the writer thread's time.
    //
    // The checkpoint interval (40 MiB of log, whatever the page size) lets a page changed by
    // many batches be copied to the database once, not once per thousand pages of log
    // (SQLite's default).
    //
    // temp_store=MEMORY keeps statement journals (a statement's undo within the batch's
    // transaction) in small memory chunks instead of a 64 KiB buffer allocated and freed per
    // statement, which made glibc give memory back to the kernel (madvise, with a TLB
    // shootdown) once per document. They are never needed for crash recovery, which the WAL
    // does: durability is unchanged.
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let checkpoint_pages = (40 << 20) / page_size.max(512);
    conn.execute_batch(&format!(
        "PRAGMA synchronous=FULL; PRAGMA cache_size=-8192; PRAGMA temp_store=MEMORY;
         PRAGMA wal_autocheckpoint={checkpoint_pages};"
    ))?;
    // Room for every statement the writer uses, so that none is ever compiled twice.
    conn.set_prepared_statement_cache_capacity(64);
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
