//! Statements that only read. They run on reader connections, each call inside one read
//! transaction so that a document, its properties and its history come from one snapshot.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::{key_range, PER_DOCUMENT};
use crate::copy::DuplicateKeys;
use crate::error::StoreError;
use crate::sqlite::files::Blob;
use crate::traffic::{TrafficCount, TrafficQuery};
use crate::types::{Answer, Query, State, Summary};

/// A document row without properties and history; the payload still to be loaded if a file.
pub(crate) struct DocumentRead {
    pub seq: i64,
    pub id: String,
    pub process: String,
    pub state: State,
    pub received_at: i64,
    pub payload: Option<Blob>,
    /// The payload's length in bytes, so that a file need not be opened to tell it.
    pub payload_len: u64,
    pub error: Option<String>,
    pub answer: Option<Answer>,
}

/// A document row with its payload and answer: inline in rows older than schema 2, in
/// `contents` and `answers` since.
const DOCUMENT_SELECT: &str = "SELECT d.id, d.process, d.state, d.received_at, \
     COALESCE(d.payload, c.payload), d.payload_file, d.error, d.answer_summary, \
     COALESCE(d.answer_bytes, a.bytes), d.seq, d.payload_len \
     FROM documents d \
     LEFT JOIN contents c ON c.seq = d.seq \
     LEFT JOIN answers a ON a.seq = d.seq";

fn blob_of(inline: Option<Vec<u8>>, file: Option<String>) -> Option<Blob> {
    match (inline, file) {
        (Some(head), Some(name)) => Some(Blob::HeadAndFile(head.into(), name)),
        (None, Some(name)) => Some(Blob::File(name)),
        (Some(bytes), None) => Some(Blob::Inline(bytes.into())),
        (None, None) => None,
    }
}

fn document_row(r: &Row<'_>) -> rusqlite::Result<(DocumentRead, String)> {
    let state: String = r.get(2)?;
    let answer = match (
        r.get::<_, Option<String>>(7)?,
        r.get::<_, Option<Vec<u8>>>(8)?,
    ) {
        (Some(summary), bytes) => Some(Answer {
            summary,
            bytes: bytes.unwrap_or_default(),
        }),
        (None, _) => None,
    };
    let doc = DocumentRead {
        seq: r.get(9)?,
        id: r.get(0)?,
        process: r.get(1)?,
        // Parsed by the caller: rusqlite's closures cannot return the store's error.
        state: State::Received,
        received_at: r.get(3)?,
        payload: blob_of(r.get(4)?, r.get(5)?),
        // Never negative as written; a tampered row reads as empty rather than huge.
        payload_len: u64::try_from(r.get::<_, i64>(10)?).unwrap_or(0),
        error: r.get(6)?,
        answer,
    };
    Ok((doc, state))
}

fn with_state((mut doc, state): (DocumentRead, String)) -> Result<DocumentRead, StoreError> {
    doc.state = State::parse(&state)?;
    Ok(doc)
}

pub(crate) fn document(conn: &Connection, id: &str) -> Result<Option<DocumentRead>, StoreError> {
    let sql = format!("{DOCUMENT_SELECT} WHERE d.id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let row = stmt.query_row([id], document_row).optional()?;
    row.map(with_state).transpose()
}

/// The documents whose process has not finished, in arrival order.
pub(crate) fn unfinished(conn: &Connection) -> Result<Vec<DocumentRead>, StoreError> {
    // The literal state lets SQLite use the small partial index of unfinished documents.
    let sql = format!("{DOCUMENT_SELECT} WHERE d.state = 'received' ORDER BY d.seq");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], document_row)?;
    rows.map(|row| with_state(row?)).collect()
}

/// The properties of document `seq`, in the order given.
pub(crate) fn properties(conn: &Connection, seq: i64) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, value FROM properties WHERE id >= ?1 AND id < ?2 ORDER BY id",
    )?;
    let (first, end) = key_range(seq);
    let rows = stmt.query_map(params![first, end], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The recorded events of document `seq` after its receipt, oldest first.
pub(crate) fn history(conn: &Connection, seq: i64) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT at, event FROM history WHERE id >= ?1 AND id < ?2 ORDER BY id")?;
    let (first, end) = key_range(seq);
    let rows = stmt.query_map(params![first, end], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The raw request kept as evidence: None when there is no such document, Some(None) when the
/// document has none.
pub(crate) fn raw(conn: &Connection, id: &str) -> Result<Option<Option<Blob>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(d.raw, c.raw), d.raw_file FROM documents d
         LEFT JOIN contents c ON c.seq = d.seq WHERE d.id = ?1",
    )?;
    let row = stmt
        .query_row(params![id], |r| Ok(blob_of(r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row)
}

/// A listing, newest first. Caller-given strings become bound parameters only; the state is
/// spliced in as one of four fixed words, so that SQLite can use a state's partial index.
pub(crate) fn query(conn: &Connection, filter: &Query) -> Result<Vec<Summary>, StoreError> {
    let mut sql = String::from(
        "SELECT id, process, state, received_at, error, seq, answer_summary FROM documents d WHERE 1 = 1",
    );
    if let Some(state) = filter.state {
        sql.push_str(&format!(" AND d.state = '{}'", state.as_str()));
    }
    let mut args: Vec<Value> = Vec::new();
    let mut bind = |sql: &mut String, clause: &str, value: Value| {
        args.push(value);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(process) = &filter.process {
        bind(&mut sql, " AND d.process = ?", Value::Text(process.clone()));
    }
    if let Some(from) = filter.from {
        bind(&mut sql, " AND d.received_at >= ?", Value::Integer(from));
    }
    if let Some(to) = filter.to {
        bind(&mut sql, " AND d.received_at < ?", Value::Integer(to));
    }
    // The keyset bound walks down the same index as the order (the primary key, or the
    // process's or a state's index, all ending in seq), starting where the last page ended.
    if let Some(seq) = filter.older_than {
        bind(&mut sql, " AND d.seq < ?", Value::Integer(seq));
    }
    for (name, value) in &filter.properties {
        bind(
            &mut sql,
            &format!(
                " AND EXISTS (SELECT 1 FROM properties p WHERE p.id >= d.seq * {PER_DOCUMENT}
                  AND p.id < (d.seq + 1) * {PER_DOCUMENT} AND p.name = ?"
            ),
            Value::Text(name.clone()),
        );
        bind(&mut sql, " AND p.value = ?)", Value::Text(value.clone()));
    }
    let limit = if filter.limit == 0 {
        i64::MAX
    } else {
        i64::try_from(filter.limit).unwrap_or(i64::MAX)
    };
    bind(
        &mut sql,
        " ORDER BY d.seq DESC LIMIT ?",
        Value::Integer(limit),
    );
    let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
    bind(&mut sql, " OFFSET ?", Value::Integer(offset));

    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, Option<String>>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, process, state, received_at, error, seq, answer) = row?;
        let properties = properties(conn, seq)?;
        out.push(Summary {
            seq,
            id,
            process,
            state: State::parse(&state)?,
            received_at,
            properties,
            error,
            answer,
        });
    }
    Ok(out)
}

/// Documents received in the range, counted per process, bucket, state and answer. The range
/// is read through the `received_at` index; the counting happens in SQLite, so a busy day's
/// rows never come out one by one.
pub(crate) fn traffic(
    conn: &Connection,
    range: &TrafficQuery,
) -> Result<Vec<TrafficCount>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT process, (received_at - ?1) / ?3 AS bucket, state, answer_summary, COUNT(*)
         FROM documents
         WHERE received_at >= ?1 AND received_at < ?2
         GROUP BY process, bucket, state, answer_summary",
    )?;
    let rows = stmt.query_map(params![range.from, range.to, range.bucket_ms], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (process, bucket, state, answer, count) = row?;
        out.push(TrafficCount {
            process,
            bucket,
            state: State::parse(&state)?,
            answer,
            count: u64::try_from(count).unwrap_or(0),
        });
    }
    Ok(out)
}

/// For a copy: the next `limit` documents after number `after`, oldest first, as (seq, id).
pub(crate) fn export_ids(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, id FROM documents WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(rusqlite::params![after, limit], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// For a copy: a document's duplicate keys, if it exists.
pub(crate) fn duplicate_keys(
    conn: &Connection,
    id: &str,
) -> Result<Option<DuplicateKeys>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.duplicate_key, d.duplicate_of,
             (SELECT u.key FROM unique_keys u
              WHERE u.process = d.process AND u.document_id = d.id LIMIT 1)
         FROM documents d WHERE d.id = ?1",
    )?;
    Ok(stmt
        .query_row([id], |r| {
            Ok(DuplicateKeys {
                duplicate_key: r.get(0)?,
                duplicate_of: r.get(1)?,
                unique_key: r.get(2)?,
            })
        })
        .optional()?)
}
