//! The schema and its migrations, recorded in a `schema_version` table.

use rusqlite::{Connection, OptionalExtension};

use crate::error::StoreError;

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only: a released
/// migration never changes, since stores in the field have already run it.
const MIGRATIONS: &[&str] = &[
    // 1: documents, their properties and their history.
    //
    // Written for insert speed, since every received document pays for each index before its
    // partner gets an answer: the documents table is keyed by its arrival number (appends, no
    // separate index), states that matter for recovery and retry have small partial indexes
    // instead of one index over every state, and properties and history are keyed by
    // `seq * 65536 + position` (see `PER_DOCUMENT`), so that a document's properties are one
    // key range and need no index of their own. PostgreSQL: BIGINT for INTEGER, BYTEA for BLOB.
    "CREATE TABLE documents (
        seq           INTEGER PRIMARY KEY,
        id            TEXT NOT NULL UNIQUE,
        process       TEXT NOT NULL,
        state         TEXT NOT NULL,
        received_at   BIGINT NOT NULL,
        updated_at    BIGINT NOT NULL,
        -- At most one of payload / payload_file is set; a duplicate has neither.
        payload       BLOB,
        payload_file  TEXT,
        payload_len   BIGINT NOT NULL,
        raw           BLOB,
        raw_file      TEXT,
        duplicate_key TEXT,
        duplicate_of  TEXT,
        error         TEXT,
        answer_summary TEXT,
        answer_bytes  BLOB
    );
    CREATE INDEX documents_process ON documents (process, seq);
    CREATE INDEX documents_received_at ON documents (received_at);
    CREATE INDEX documents_duplicate_key ON documents (process, duplicate_key, seq)
        WHERE duplicate_key IS NOT NULL;
    CREATE INDEX documents_unfinished ON documents (seq) WHERE state = 'received';
    CREATE INDEX documents_failed ON documents (seq) WHERE state = 'failed';
    CREATE TABLE properties (
        id    INTEGER PRIMARY KEY,
        name  TEXT NOT NULL,
        value TEXT NOT NULL
    );
    CREATE INDEX properties_name_value ON properties (name, value);
    CREATE TABLE history (
        id    INTEGER PRIMARY KEY,
        at    BIGINT NOT NULL,
        event TEXT NOT NULL
    );",
];

/// The version this code writes.
pub(crate) const CURRENT: i64 = MIGRATIONS.len() as i64;

/// Creates or upgrades the schema. Each migration commits with its new version number, so a
/// crash in the middle leaves a store that the next start upgrades from where it stopped.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);")?;
    let found: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .optional()?
        .flatten();
    let found = found.unwrap_or(0);
    if found > CURRENT {
        return Err(StoreError::SchemaTooNew {
            found,
            known: CURRENT,
        });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute("DELETE FROM schema_version", [])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [from as i64 + 1],
        )?;
        tx.commit()?;
    }
    Ok(())
}
