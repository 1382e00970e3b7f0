//! Statements that change the store. They run on the writer thread's connection, inside the
//! transaction of a group commit; none of them commits.

use std::collections::HashSet;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

use super::{key_range, PER_DOCUMENT};
use crate::error::StoreError;
use crate::payload::Blob;
use crate::types::{Answer, State};

/// A document row as inserted.
pub(crate) struct DocumentRow<'a> {
    pub id: &'a str,
    pub seq: i64,
    pub process: &'a str,
    pub state: State,
    pub received_at: i64,
    pub payload: Option<&'a Blob>,
    pub payload_len: i64,
    pub raw: Option<&'a Blob>,
    pub duplicate_key: Option<&'a str>,
    pub duplicate_of: Option<&'a str>,
}

/// The document a resend duplicates.
pub(crate) struct Original {
    pub id: String,
    /// Its recorded answer, for replay.
    pub answer: Option<Vec<u8>>,
}

/// Finds the newest document of `process` with `key` among the process's last `window`
/// documents (resends themselves not counted); returns its id and recorded answer.
pub(crate) fn find_duplicate(
    conn: &Connection,
    process: &str,
    key: &str,
    window: u32,
) -> Result<Option<Original>, StoreError> {
    // Two steps instead of one window query: the first is a single probe of the partial index
    // and finds nothing for almost every document; only a hit pays for counting.
    let mut stmt = conn.prepare_cached(
        "SELECT id, seq, answer_bytes FROM documents
         WHERE process = ?1 AND duplicate_key = ?2 AND duplicate_key IS NOT NULL
         ORDER BY seq DESC LIMIT 1",
    )?;
    let hit: Option<(String, i64, Option<Vec<u8>>)> = stmt
        .query_row(params![process, key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((id, seq, answer)) = hit else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT COUNT(*) FROM documents WHERE process = ?1 AND seq > ?2 AND state <> 'duplicate'",
    )?;
    let newer: i64 = stmt.query_row(params![process, seq], |r| r.get(0))?;
    // The original itself is one of the last `window` documents when fewer than `window`
    // documents came after it.
    if newer < i64::from(window) {
        Ok(Some(Original { id, answer }))
    } else {
        Ok(None)
    }
}

fn split(blob: Option<&Blob>) -> (Option<&[u8]>, Option<&str>) {
    match blob {
        None => (None, None),
        Some(Blob::Inline(b)) => (Some(&b[..]), None),
        Some(Blob::File(name)) => (None, Some(name.as_str())),
    }
}

/// Inserts the row; false when a document with this id exists. The id's unique index answers
/// that question as part of the insert, which saves a lookup per document; the failed statement
/// alone is undone, the batch's transaction goes on.
pub(crate) fn insert_document(
    conn: &Connection,
    row: &DocumentRow<'_>,
) -> Result<bool, StoreError> {
    let (payload, payload_file) = split(row.payload);
    let (raw, raw_file) = split(row.raw);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO documents (seq, id, process, state, received_at, updated_at, payload,
             payload_file, payload_len, raw, raw_file, duplicate_key, duplicate_of)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    let inserted = stmt.execute(params![
        row.seq,
        row.id,
        row.process,
        row.state.as_str(),
        row.received_at,
        payload,
        payload_file,
        row.payload_len,
        raw,
        raw_file,
        row.duplicate_key,
        row.duplicate_of,
    ]);
    match inserted {
        Ok(_) => Ok(true),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == ErrorCode::ConstraintViolation
                && e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Inserts the properties under the document's key range. The caller has checked that they
/// fit in it.
pub(crate) fn insert_properties(
    conn: &Connection,
    seq: i64,
    properties: &[(String, String)],
) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("INSERT INTO properties (id, name, value) VALUES (?1, ?2, ?3)")?;
    let (first, _) = key_range(seq);
    for (position, (name, value)) in properties.iter().enumerate() {
        stmt.execute(params![first + position as i64, name, value])?;
    }
    Ok(())
}

/// Appends a history entry after the document's last one.
pub(crate) fn append_history(
    conn: &Connection,
    seq: i64,
    at: i64,
    event: &str,
) -> Result<(), StoreError> {
    let (first, end) = key_range(seq);
    let mut stmt = conn.prepare_cached("SELECT MAX(id) FROM history WHERE id >= ?1 AND id < ?2")?;
    let last: Option<i64> = stmt.query_row(params![first, end], |r| r.get(0))?;
    let next = last.map_or(first, |l| l + 1);
    if next >= end {
        return Err(StoreError::Corrupt(format!(
            "document #{seq} has {PER_DOCUMENT} history entries already"
        )));
    }
    let mut stmt =
        conn.prepare_cached("INSERT INTO history (id, at, event) VALUES (?1, ?2, ?3)")?;
    stmt.execute(params![next, at, event])?;
    Ok(())
}

pub(crate) fn state_of(conn: &Connection, id: &str) -> Result<Option<State>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT state FROM documents WHERE id = ?1")?;
    let state: Option<String> = stmt.query_row([id], |r| r.get(0)).optional()?;
    state.map(|s| State::parse(&s)).transpose()
}

/// Moves a `received` document to `state`; returns its seq, or None when it is not in state
/// `received`.
pub(crate) fn set_finished(
    conn: &Connection,
    id: &str,
    state: State,
    error: Option<&str>,
    at: i64,
) -> Result<Option<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE documents SET state = ?2, error = ?3, updated_at = ?4
         WHERE id = ?1 AND state = 'received' RETURNING seq",
    )?;
    Ok(stmt
        .query_row(params![id, state.as_str(), error, at], |r| r.get(0))
        .optional()?)
}

/// Records the answer; returns the document's seq, or None when there is no such document.
pub(crate) fn set_answer(
    conn: &Connection,
    id: &str,
    answer: &Answer,
    at: i64,
) -> Result<Option<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE documents SET answer_summary = ?2, answer_bytes = ?3, updated_at = ?4
         WHERE id = ?1 RETURNING seq",
    )?;
    Ok(stmt
        .query_row(params![id, answer.summary, answer.bytes, at], |r| r.get(0))
        .optional()?)
}

/// Moves a `failed` document back to `received`; returns its seq, or None when it is not
/// failed. The error stays in the history, not on the row, so listings no longer show it.
pub(crate) fn set_retry(conn: &Connection, id: &str, at: i64) -> Result<Option<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE documents SET state = 'received', error = NULL, updated_at = ?2
         WHERE id = ?1 AND state = 'failed' RETURNING seq",
    )?;
    Ok(stmt.query_row(params![id, at], |r| r.get(0)).optional()?)
}

/// Deletes finished documents received before `before`; failed ones only when asked, and
/// documents still `received` never (they have not run yet). Returns how many went and the
/// payload files they named, which the caller removes after the commit.
pub(crate) fn purge(
    conn: &Connection,
    before: i64,
    include_failed: bool,
) -> Result<(u64, Vec<String>), StoreError> {
    let states = if include_failed {
        "('processed', 'duplicate', 'failed')"
    } else {
        "('processed', 'duplicate')"
    };
    let mut victims = Vec::new();
    let mut files = Vec::new();
    {
        let mut stmt = conn.prepare(&format!(
            "SELECT seq, payload_file, raw_file FROM documents
             WHERE received_at < ?1 AND state IN {states}"
        ))?;
        let mut rows = stmt.query([before])?;
        while let Some(row) = rows.next()? {
            victims.push(row.get::<_, i64>(0)?);
            files.extend(row.get::<_, Option<String>>(1)?);
            files.extend(row.get::<_, Option<String>>(2)?);
        }
    }
    let mut props = conn.prepare_cached("DELETE FROM properties WHERE id >= ?1 AND id < ?2")?;
    let mut history = conn.prepare_cached("DELETE FROM history WHERE id >= ?1 AND id < ?2")?;
    let mut doc = conn.prepare_cached("DELETE FROM documents WHERE seq = ?1")?;
    for &seq in &victims {
        let (first, end) = key_range(seq);
        props.execute(params![first, end])?;
        history.execute(params![first, end])?;
        doc.execute([seq])?;
    }
    Ok((victims.len() as u64, files))
}

pub(crate) fn max_seq(conn: &Connection) -> Result<i64, StoreError> {
    let max: Option<i64> = conn.query_row("SELECT MAX(seq) FROM documents", [], |r| r.get(0))?;
    Ok(max.unwrap_or(0))
}

/// Every payload file some row names, for the start-up sweep.
pub(crate) fn referenced_files(conn: &Connection) -> Result<HashSet<String>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT payload_file FROM documents WHERE payload_file IS NOT NULL
         UNION SELECT raw_file FROM documents WHERE raw_file IS NOT NULL",
    )?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(names.collect::<Result<_, _>>()?)
}
