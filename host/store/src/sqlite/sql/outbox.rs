//! The outbox's statements: deliveries and their attempts. The writes run on the writer
//! thread's connection inside a group commit (one process owns an embedded store, so a claim
//! needs no row locks: the writer thread is the only writer); the reads on reader connections.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::delivery::{
    headers_of, headers_text, Attempt, AttemptOutcome, Delivery, DeliveryState, NewDelivery,
};
use crate::error::StoreError;

/// Puts `deliveries` into the outbox, pending and due at `at`.
pub(crate) fn insert(
    conn: &Connection,
    document_id: Option<&str>,
    deliveries: &[NewDelivery],
    at: i64,
) -> Result<(), StoreError> {
    // Almost every conclusion promises nothing: not even a statement lookup then.
    if deliveries.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO deliveries (document_id, listener, method, url, headers, body,
             verify_hostname, created_at, next_attempt_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 'pending')",
    )?;
    for d in deliveries {
        stmt.execute(params![
            document_id,
            d.listener,
            d.method,
            d.url,
            headers_text(&d.headers),
            d.body,
            d.verify_hostname,
            at,
        ])?;
    }
    Ok(())
}

/// Writes deliveries copied from another store as they were there (state, times, attempts),
/// under document `document_id`, unclaimed.
pub(crate) fn import(
    conn: &Connection,
    document_id: &str,
    deliveries: &[Delivery],
) -> Result<(), StoreError> {
    for d in deliveries {
        let r = &d.request;
        conn.prepare_cached(
            "INSERT INTO deliveries (document_id, listener, method, url, headers, body,
                 verify_hostname, created_at, next_attempt_at, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            document_id,
            r.listener,
            r.method,
            r.url,
            headers_text(&r.headers),
            r.body,
            r.verify_hostname,
            d.created_at,
            d.next_attempt_at,
            d.state.as_str(),
        ])?;
        let id = conn.last_insert_rowid();
        let mut attempt = conn.prepare_cached(
            "INSERT INTO delivery_attempts (delivery, n, at, result) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (n, a) in d.attempts.iter().enumerate() {
            attempt.execute(params![id, n as i64 + 1, a.at, a.result])?;
        }
    }
    Ok(())
}

/// Claims up to `limit` due, unclaimed (or expired) deliveries for `claimer` until `until`.
pub(crate) fn claim(
    conn: &Connection,
    claimer: &str,
    now: i64,
    until: i64,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    let ids: Vec<i64> = {
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM deliveries
             WHERE state = 'pending' AND next_attempt_at <= ?1
               AND (claimed_until IS NULL OR claimed_until < ?1)
             ORDER BY next_attempt_at, id LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![now, limit], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut update = conn.prepare_cached(
        "UPDATE deliveries SET claimed_by = ?2, claimed_until = ?3 WHERE id = ?1",
    )?;
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        update.execute(params![id, claimer, until])?;
        claimed.extend(load(conn, id)?);
    }
    Ok(claimed)
}

/// Records an attempt and, while `claimer` still holds the delivery, what follows it.
pub(crate) fn attempted(
    conn: &Connection,
    id: i64,
    claimer: &str,
    attempt: &Attempt,
    outcome: AttemptOutcome,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO delivery_attempts (delivery, n, at, result)
         SELECT ?1, COALESCE(MAX(n), 0) + 1, ?2, ?3 FROM delivery_attempts WHERE delivery = ?1",
    )?;
    stmt.execute(params![id, attempt.at, attempt.result])?;
    let (state, next) = match outcome {
        AttemptOutcome::Delivered => (DeliveryState::Delivered, None),
        AttemptOutcome::RetryAt(at) => (DeliveryState::Pending, Some(at)),
        AttemptOutcome::GiveUp => (DeliveryState::Failed, None),
    };
    let mut stmt = conn.prepare_cached(
        "UPDATE deliveries SET state = ?3, next_attempt_at = COALESCE(?4, next_attempt_at),
             claimed_by = NULL, claimed_until = NULL
         WHERE id = ?1 AND state = 'pending' AND claimed_by = ?2",
    )?;
    stmt.execute(params![id, claimer, state.as_str(), next])?;
    Ok(())
}

/// Ends `claimer`'s claims; `None` ends everyone's (an embedded store at open: its one owner
/// before this one has stopped).
pub(crate) fn release(conn: &Connection, claimer: Option<&str>) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL
         WHERE claimed_by IS NOT NULL AND (?1 IS NULL OR claimed_by = ?1)",
    )?;
    stmt.execute(params![claimer])?;
    Ok(())
}

/// Deletes the deliveries of document `id`, which is being purged.
pub(crate) fn purge_of(conn: &Connection, id: &str) -> Result<(), StoreError> {
    let mut attempts = conn.prepare_cached(
        "DELETE FROM delivery_attempts
         WHERE delivery IN (SELECT id FROM deliveries WHERE document_id = ?1)",
    )?;
    attempts.execute([id])?;
    let mut deliveries = conn.prepare_cached("DELETE FROM deliveries WHERE document_id = ?1")?;
    deliveries.execute([id])?;
    Ok(())
}

/// Deletes finished deliveries that belong to no document, created before `before`.
pub(crate) fn purge_orphans(conn: &Connection, before: i64) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM delivery_attempts WHERE delivery IN (SELECT id FROM deliveries
             WHERE document_id IS NULL AND state <> 'pending' AND created_at < ?1)",
        [before],
    )?;
    conn.execute(
        "DELETE FROM deliveries
         WHERE document_id IS NULL AND state <> 'pending' AND created_at < ?1",
        [before],
    )?;
    Ok(())
}

/// When the next pending delivery may be claimed: its due time, or its claim's end if later.
pub(crate) fn next_due(conn: &Connection) -> Result<Option<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT MIN(MAX(next_attempt_at, COALESCE(claimed_until, 0))) FROM deliveries
         WHERE state = 'pending'",
    )?;
    Ok(stmt.query_row([], |r| r.get(0))?)
}

const SELECT: &str = "SELECT id, document_id, listener, method, url, headers, body,
     verify_hostname, created_at, next_attempt_at, state FROM deliveries";

/// The deliveries of document `id`, oldest first, with their attempts. A store that no berth
/// with an outbox has opened yet (the read-only view after an upgrade) has none.
pub(crate) fn of_document(conn: &Connection, id: &str) -> Result<Vec<Delivery>, StoreError> {
    let mut exists = conn.prepare_cached(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'deliveries'",
    )?;
    if exists.query_row([], |r| r.get::<_, i64>(0))? == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<(Delivery, String)> = {
        let mut stmt =
            conn.prepare_cached(&format!("{SELECT} WHERE document_id = ?1 ORDER BY id"))?;
        let rows = stmt.query_map([id], row)?;
        rows.collect::<Result<_, _>>()?
    };
    rows.into_iter().map(|r| complete(conn, r)).collect()
}

fn load(conn: &Connection, id: i64) -> Result<Option<Delivery>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE id = ?1"))?;
    let found = stmt.query_row([id], row).optional()?;
    found.map(|r| complete(conn, r)).transpose()
}

/// A row, its state still to parse (rusqlite's closures cannot return the store's error).
fn row(r: &Row<'_>) -> rusqlite::Result<(Delivery, String)> {
    let headers: String = r.get(5)?;
    let delivery = Delivery {
        id: r.get(0)?,
        document_id: r.get(1)?,
        request: NewDelivery {
            listener: r.get(2)?,
            method: r.get(3)?,
            url: r.get(4)?,
            headers: headers_of(&headers),
            body: r.get(6)?,
            verify_hostname: r.get(7)?,
        },
        created_at: r.get(8)?,
        next_attempt_at: r.get(9)?,
        state: DeliveryState::Pending,
        attempts: Vec::new(),
    };
    Ok((delivery, r.get(10)?))
}

fn complete(
    conn: &Connection,
    (mut delivery, state): (Delivery, String),
) -> Result<Delivery, StoreError> {
    delivery.state = DeliveryState::parse(&state)?;
    let mut stmt = conn.prepare_cached(
        "SELECT at, result FROM delivery_attempts WHERE delivery = ?1 ORDER BY n",
    )?;
    let attempts = stmt.query_map([delivery.id], |r| {
        Ok(Attempt {
            at: r.get(0)?,
            result: r.get(1)?,
        })
    })?;
    delivery.attempts = attempts.collect::<Result<_, _>>()?;
    Ok(delivery)
}
