//! The outbox on PostgreSQL: deliveries and their attempts, claimed by any node for a while.
//!
//! A claim is a lease: the claimer's name and a time until which no one else takes the
//! delivery. Claiming picks due rows with `FOR UPDATE SKIP LOCKED`, so nodes claiming at the
//! same moment pass each other by instead of queueing on the same rows, and then sets the lease
//! in the same statement; once it commits, other claimers' `WHERE` no longer matches the row.
//! A node that dies holding a claim holds it only until its lease ends.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::pool::Db;
use crate::delivery::{
    headers_of, headers_text, Attempt, AttemptOutcome, Delivery, DeliveryState, NewDelivery,
};
use crate::error::StoreError;

/// Puts `deliveries` into the outbox inside the caller's transaction, pending and due at `at`.
pub(crate) async fn insert(
    tx: &Transaction<'_>,
    document_id: Option<&str>,
    deliveries: &[NewDelivery],
    at: i64,
) -> Result<(), StoreError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO deliveries (document_id, listener, method, url, headers, body,
                 verify_hostname, created_at, next_attempt_at, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 'pending')",
        )
        .await?;
    for d in deliveries {
        tx.execute(
            &stmt,
            &[
                &document_id,
                &d.listener,
                &d.method,
                &d.url,
                &headers_text(&d.headers),
                &d.body,
                &d.verify_hostname,
                &at,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Writes deliveries copied from another store as they were there (state, times, attempts),
/// under document `document_id`, unclaimed, inside the caller's transaction.
pub(crate) async fn import(
    tx: &Transaction<'_>,
    document_id: &str,
    deliveries: &[Delivery],
) -> Result<(), StoreError> {
    for d in deliveries {
        let r = &d.request;
        let id: i64 = tx
            .query_one(
                "INSERT INTO deliveries (document_id, listener, method, url, headers, body,
                     verify_hostname, created_at, next_attempt_at, state)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                &[
                    &document_id,
                    &r.listener,
                    &r.method,
                    &r.url,
                    &headers_text(&r.headers),
                    &r.body,
                    &r.verify_hostname,
                    &d.created_at,
                    &d.next_attempt_at,
                    &d.state.as_str(),
                ],
            )
            .await?
            .get(0);
        for (n, a) in d.attempts.iter().enumerate() {
            tx.execute(
                "INSERT INTO delivery_attempts (delivery, n, at, result) VALUES ($1, $2, $3, $4)",
                &[&id, &(n as i32 + 1), &a.at, &a.result],
            )
            .await?;
        }
    }
    Ok(())
}

/// Deliveries without a document outcome, in one transaction; a named document must exist.
pub(crate) async fn enqueue(
    db: Arc<Db>,
    document_id: Option<String>,
    deliveries: Vec<NewDelivery>,
    at: i64,
) -> Result<(), StoreError> {
    let mut client = db.pool.get().await?;
    let tx = client.transaction().await?;
    if let Some(id) = &document_id {
        let found = tx
            .query_opt("SELECT 1 FROM documents WHERE id = $1", &[id])
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound(id.clone()));
        }
    }
    insert(&tx, document_id.as_deref(), &deliveries, at).await?;
    tx.commit().await?;
    Ok(())
}

const COLUMNS: &str = "d.id, d.document_id, d.listener, d.method, d.url, d.headers, d.body,
     d.verify_hostname, d.created_at, d.next_attempt_at, d.state";

/// Claims up to `limit` due deliveries that no live claim holds, for `claimer` until `until`.
pub(crate) async fn claim(
    db: Arc<Db>,
    claimer: String,
    now: i64,
    until: i64,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    let client = db.pool.get().await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            &format!(
                "WITH due AS (
                     SELECT id FROM deliveries
                     WHERE state = 'pending' AND next_attempt_at <= $1
                       AND (claimed_until IS NULL OR claimed_until < $1)
                     ORDER BY next_attempt_at, id LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 UPDATE deliveries d SET claimed_by = $3, claimed_until = $4
                 FROM due WHERE d.id = due.id
                 RETURNING {COLUMNS}"
            ),
            &[&now, &limit, &claimer, &until],
        )
        .await?;
    let mut claimed = with_attempts(&client, rows).await?;
    claimed.sort_by_key(|d| (d.next_attempt_at, d.id));
    Ok(claimed)
}

/// Records an attempt and, while `claimer` still holds the delivery, what follows it.
pub(crate) async fn attempted(
    db: Arc<Db>,
    id: i64,
    claimer: String,
    attempt: Attempt,
    outcome: AttemptOutcome,
) -> Result<(), StoreError> {
    let mut client = db.pool.get().await?;
    let tx = client.transaction().await?;
    // The row's lock orders two claimers' records of the same delivery (one whose lease ran
    // out, and its successor), so that their attempts number one after the other.
    let found = tx
        .query_opt("SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE", &[&id])
        .await?;
    if found.is_none() {
        return Err(StoreError::NotFound(format!("delivery {id}")));
    }
    tx.execute(
        "INSERT INTO delivery_attempts (delivery, n, at, result)
         SELECT $1, COALESCE(MAX(n), 0) + 1, $2, $3 FROM delivery_attempts WHERE delivery = $1",
        &[&id, &attempt.at, &attempt.result],
    )
    .await?;
    let (state, next) = match outcome {
        AttemptOutcome::Delivered => (DeliveryState::Delivered, None),
        AttemptOutcome::RetryAt(at) => (DeliveryState::Pending, Some(at)),
        AttemptOutcome::GiveUp => (DeliveryState::Failed, None),
    };
    tx.execute(
        "UPDATE deliveries SET state = $3, next_attempt_at = COALESCE($4, next_attempt_at),
             claimed_by = NULL, claimed_until = NULL
         WHERE id = $1 AND state = 'pending' AND claimed_by = $2",
        &[&id, &claimer, &state.as_str(), &next],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends `claimer`'s claims.
pub(crate) async fn release(db: Arc<Db>, claimer: String) -> Result<(), StoreError> {
    let client = db.pool.get().await?;
    client
        .execute(
            "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1",
            &[&claimer],
        )
        .await?;
    Ok(())
}

/// When the next pending delivery may be claimed: its due time, or its claim's end if later.
pub(crate) async fn next_due(db: Arc<Db>) -> Result<Option<i64>, StoreError> {
    let client = db.pool.get().await?;
    let row = client
        .query_one(
            "SELECT MIN(GREATEST(next_attempt_at, COALESCE(claimed_until, 0))) FROM deliveries
             WHERE state = 'pending'",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// The deliveries of document `id`, oldest first, with their attempts. A database that no
/// berth with an outbox has migrated yet (the read-only view after an upgrade) has none.
pub(crate) async fn of_document(db: Arc<Db>, id: String) -> Result<Vec<Delivery>, StoreError> {
    let client = db.pool.get().await?;
    let exists: bool = client
        .query_one("SELECT to_regclass('deliveries') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM deliveries d WHERE d.document_id = $1 ORDER BY d.id"),
            &[&id],
        )
        .await?;
    with_attempts(&client, rows).await
}

/// Deliveries from their rows, with the attempts of all of them read in one query.
async fn with_attempts(
    client: &deadpool_postgres::Object,
    rows: Vec<Row>,
) -> Result<Vec<Delivery>, StoreError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let mut attempts: HashMap<i64, Vec<Attempt>> = HashMap::new();
    if !ids.is_empty() {
        for r in client
            .query(
                "SELECT delivery, at, result FROM delivery_attempts WHERE delivery = ANY($1)
                 ORDER BY delivery, n",
                &[&ids],
            )
            .await?
        {
            attempts.entry(r.get(0)).or_default().push(Attempt {
                at: r.get(1),
                result: r.get(2),
            });
        }
    }
    rows.into_iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let headers: String = r.get(5);
            Ok(Delivery {
                id,
                document_id: r.get(1),
                request: NewDelivery {
                    listener: r.get(2),
                    method: r.get(3),
                    url: r.get(4),
                    headers: headers_of(&headers),
                    body: r.get(6),
                    verify_hostname: r.get(7),
                },
                created_at: r.get(8),
                next_attempt_at: r.get(9),
                state: DeliveryState::parse(r.get(10))?,
                attempts: attempts.remove(&id).unwrap_or_default(),
            })
        })
        .collect()
}
