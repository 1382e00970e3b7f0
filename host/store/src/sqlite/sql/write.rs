//! Statements that change the store. They run on the writer thread's connection, inside the
//! transaction of a group commit; none of them commits.

use std::collections::HashSet;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

use super::{key_range, PER_DOCUMENT};
use crate::error::StoreError;
use crate::sqlite::files::Blob;
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
    // The answer is inline in rows older than schema 2, in `answers` since.
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.seq, COALESCE(d.answer_bytes,
                    (SELECT a.bytes FROM answers a WHERE a.seq = d.seq))
         FROM documents d
         WHERE d.process = ?1 AND d.duplicate_key = ?2 AND d.duplicate_key IS NOT NULL
         ORDER BY d.seq DESC LIMIT 1",
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
        Some(Blob::HeadAndFile(head, name)) => (Some(&head[..]), Some(name.as_str())),
    }
}

/// Inserts the row, and the inline payload and raw request as its contents; false when a
/// document with this id exists. The id's unique index answers that question as part of the
/// insert, which saves a lookup per document; the failed statement alone is undone, the
/// batch's transaction goes on.
pub(crate) fn insert_document(
    conn: &Connection,
    row: &DocumentRow<'_>,
) -> Result<bool, StoreError> {
    let (payload, payload_file) = split(row.payload);
    let (raw, raw_file) = split(row.raw);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO documents (seq, id, process, state, received_at, updated_at,
             payload_file, payload_len, raw_file, duplicate_key, duplicate_of)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let inserted = stmt.execute(params![
        row.seq,
        row.id,
        row.process,
        row.state.as_str(),
        row.received_at,
        payload_file,
        row.payload_len,
        raw_file,
        row.duplicate_key,
        row.duplicate_of,
    ]);
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == ErrorCode::ConstraintViolation
                && e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            return Ok(false)
        }
        Err(e) => return Err(e.into()),
    }
    if payload.is_some() || raw.is_some() {
        let mut stmt =
            conn.prepare_cached("INSERT INTO contents (seq, payload, raw) VALUES (?1, ?2, ?3)")?;
        stmt.execute(params![row.seq, payload, raw])?;
    }
    Ok(true)
}

/// Keeps the bytes of a document's answer, replacing those of an earlier answer.
fn put_answer(conn: &Connection, seq: i64, bytes: &[u8]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached("INSERT INTO answers (seq, bytes) VALUES (?1, ?2)")?;
    match stmt.execute(params![seq, bytes]) {
        Ok(_) => Ok(()),
        // A second answer for the document (rare): replace the first.
        Err(e) if is_conflict(&e) => {
            let mut stmt = conn.prepare_cached("UPDATE answers SET bytes = ?2 WHERE seq = ?1")?;
            stmt.execute(params![seq, bytes])?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// A unique or primary key constraint refused the statement (and only it: the transaction
/// goes on).
fn is_conflict(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(e, _)
        if e.code == ErrorCode::ConstraintViolation
            && (e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY))
}

/// Inserts the properties under the document's key range. The caller has checked that they
/// fit in it. One statement per property: a multi-row `INSERT` measured slower, since a
/// statement that writes several rows keeps an undo copy of each page it touches (a statement
/// journal), which a single-row insert into a table without indexes does not need.
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
    let next = next_history(conn, seq, 1)?;
    insert_history(conn, next, at, event)
}

/// Inserts the history entry `id` (see `next_history`).
pub(crate) fn insert_history(
    conn: &Connection,
    id: i64,
    at: i64,
    event: &str,
) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("INSERT INTO history (id, at, event) VALUES (?1, ?2, ?3)")?;
    stmt.execute(params![id, at, event])?;
    Ok(())
}

/// The id of the entry after document `seq`'s last one, if `count` more fit its key range.
pub(crate) fn next_history(conn: &Connection, seq: i64, count: i64) -> Result<i64, StoreError> {
    let (first, end) = key_range(seq);
    let mut stmt = conn.prepare_cached("SELECT MAX(id) FROM history WHERE id >= ?1 AND id < ?2")?;
    let last: Option<i64> = stmt.query_row(params![first, end], |r| r.get(0))?;
    let next = last.map_or(first, |l| l + 1);
    if next + count > end {
        return Err(StoreError::Corrupt(format!(
            "document #{seq} has {PER_DOCUMENT} history entries already"
        )));
    }
    Ok(next)
}

/// The seq and state of document `id`: where a change finds its row, and why it refuses.
pub(crate) fn locate(conn: &Connection, id: &str) -> Result<Option<(i64, State)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT seq, state FROM documents WHERE id = ?1")?;
    let row: Option<(i64, String)> = stmt
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(seq, state)| Ok((seq, State::parse(&state)?)))
        .transpose()
}

// The changes below address the row by seq, found by `locate` in the same transaction: a
// lookup by seq is the table's own key, and the caller has checked the state already, so no
// statement needs `RETURNING` (which costs a temporary table per execution).

/// Moves document `seq` to a final `state`.
pub(crate) fn set_finished(
    conn: &Connection,
    seq: i64,
    state: State,
    error: Option<&str>,
    at: i64,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE documents SET state = ?2, error = ?3, updated_at = ?4 WHERE seq = ?1",
    )?;
    stmt.execute(params![seq, state.as_str(), error, at])?;
    Ok(())
}

/// Records the answer sent for document `seq`.
pub(crate) fn set_answer(
    conn: &Connection,
    seq: i64,
    answer: &Answer,
    at: i64,
) -> Result<(), StoreError> {
    // The row keeps the summary; the bytes go to `answers` (an inline answer of a row older
    // than schema 2 is cleared, so that readers find the new one).
    let mut stmt = conn.prepare_cached(
        "UPDATE documents SET answer_summary = ?2, answer_bytes = NULL, updated_at = ?3
         WHERE seq = ?1",
    )?;
    stmt.execute(params![seq, answer.summary, at])?;
    put_answer(conn, seq, &answer.bytes)
}

/// Moves document `seq` to a final `state` and records the answer sent: one change of its
/// row, one new row of `answers`.
pub(crate) fn set_concluded(
    conn: &Connection,
    seq: i64,
    state: State,
    error: Option<&str>,
    answer: &Answer,
    at: i64,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE documents SET state = ?2, error = ?3, answer_summary = ?4, answer_bytes = NULL,
             updated_at = ?5
         WHERE seq = ?1",
    )?;
    stmt.execute(params![seq, state.as_str(), error, answer.summary, at])?;
    put_answer(conn, seq, &answer.bytes)
}

/// Moves failed document `seq` back to `received`. The error stays in the history, not on the
/// row, so listings no longer show it.
pub(crate) fn set_retry(conn: &Connection, seq: i64, at: i64) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE documents SET state = 'received', error = NULL, updated_at = ?2 WHERE seq = ?1",
    )?;
    stmt.execute(params![seq, at])?;
    Ok(())
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
            "SELECT seq, payload_file, raw_file, id FROM documents
             WHERE received_at < ?1 AND state IN {states}"
        ))?;
        let mut rows = stmt.query([before])?;
        while let Some(row) = rows.next()? {
            victims.push(row.get::<_, i64>(0)?);
            files.extend(row.get::<_, Option<String>>(1)?);
            files.extend(row.get::<_, Option<String>>(2)?);
            // A document's deliveries go with it (the embedded store has no foreign keys).
            super::outbox::purge_of(conn, &row.get::<_, String>(3)?)?;
        }
    }
    super::outbox::purge_orphans(conn, before)?;
    let mut props = conn.prepare_cached("DELETE FROM properties WHERE id >= ?1 AND id < ?2")?;
    let mut history = conn.prepare_cached("DELETE FROM history WHERE id >= ?1 AND id < ?2")?;
    let mut contents = conn.prepare_cached("DELETE FROM contents WHERE seq = ?1")?;
    let mut answers = conn.prepare_cached("DELETE FROM answers WHERE seq = ?1")?;
    let mut doc = conn.prepare_cached("DELETE FROM documents WHERE seq = ?1")?;
    for &seq in &victims {
        let (first, end) = key_range(seq);
        props.execute(params![first, end])?;
        history.execute(params![first, end])?;
        contents.execute([seq])?;
        answers.execute([seq])?;
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
