//! Keys a process accepts once (see `NewDocument::unique_key`), in a table of their own whose
//! primary key is what refuses the second document: the claim and the document's insert share
//! the writer's transaction, so no two documents can both hold a key.
//!
//! A key outlives its document's purge on purpose: "already received" stays true, and a file
//! name refused once must not become acceptable because the original's retention ran out.

use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

use crate::copy::UniqueKey;
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

/// For a copy: keys whose document is gone (a key outlives its document's purge), in order of
/// (process, key) after `after`.
pub(crate) fn orphan_keys(
    conn: &Connection,
    after: Option<&(String, String)>,
    limit: usize,
) -> Result<Vec<UniqueKey>, StoreError> {
    let (process, key) = after.map_or(("", ""), |(p, k)| (p.as_str(), k.as_str()));
    let mut stmt = conn.prepare_cached(
        "SELECT u.process, u.key, u.document_id FROM unique_keys u
         WHERE (u.process, u.key) > (?1, ?2)
           AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = u.document_id)
         ORDER BY u.process, u.key LIMIT ?3",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![process, key, limit], |r| {
        Ok(UniqueKey {
            process: r.get(0)?,
            key: r.get(1)?,
            document_id: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
