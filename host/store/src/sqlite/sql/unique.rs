//! Keys a process accepts once (see `NewDocument::unique_key`), in a table of their own whose
//! primary key is what refuses the second document: the claim and the document's insert share
//! the writer's transaction, so no two documents can both hold a key.
//!
//! A key outlives its document's purge on purpose: "already received" stays true, and a file
//! name refused once must not become acceptable because the original's retention ran out.

use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

use crate::error::StoreError;

/// Claims `key` for `document_id`; the document that holds it when another already does.
pub(crate) fn claim_unique_key(
    conn: &Connection,
    process: &str,
    key: &str,
    document_id: &str,
) -> Result<Option<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO unique_keys (process, key, document_id) VALUES (?1, ?2, ?3)",
    )?;
    match stmt.execute(params![process, key, document_id]) {
        Ok(_) => Ok(None),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == ErrorCode::ConstraintViolation
                && e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            let mut stmt = conn.prepare_cached(
                "SELECT document_id FROM unique_keys WHERE process = ?1 AND key = ?2",
            )?;
            let holder: Option<String> = stmt
                .query_row(params![process, key], |r| r.get(0))
                .optional()?;
            Ok(Some(holder.unwrap_or_default()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Gives back a key claimed in this transaction by a document that was then not inserted (its
/// id was taken).
pub(crate) fn release_unique_key(
    conn: &Connection,
    process: &str,
    key: &str,
    document_id: &str,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "DELETE FROM unique_keys WHERE process = ?1 AND key = ?2 AND document_id = ?3",
    )?;
    stmt.execute(params![process, key, document_id])?;
    Ok(())
}

/// For a copy: the key a copied document held in its source store. A key the target holds
/// already (a copy with --append) stays with its holder: the file name is refused either way.
pub(crate) fn import_unique_key(
    conn: &Connection,
    process: &str,
    key: &str,
    document_id: &str,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO unique_keys (process, key, document_id) VALUES (?1, ?2, ?3)",
    )?;
    stmt.execute(params![process, key, document_id])?;
    Ok(())
}
