//! A copy's reads and writes (`berth store copy`): the documents in the order they were
//! received, their duplicate and unique keys, and a document written as it was in another store.

use std::sync::Arc;

use super::chunks::{Placed, PAYLOAD, RAW};
use super::pool::Db;
use super::write::{insert_properties, refused_id};
use crate::copy::{DuplicateKeys, Imported, UniqueKey};
use crate::error::StoreError;

pub(crate) async fn export_ids(
    db: Arc<Db>,
    after: i64,
    limit: usize,
) -> Result<Vec<(i64, String)>, StoreError> {
    let client = db.pool.get().await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT seq, id FROM documents WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &limit],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(crate) async fn duplicate_keys(
    db: Arc<Db>,
    id: String,
) -> Result<Option<DuplicateKeys>, StoreError> {
    let client = db.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT d.duplicate_key, d.duplicate_of,
                 (SELECT u.key FROM unique_keys u
                  WHERE u.process = d.process AND u.document_id = d.id LIMIT 1)
             FROM documents d WHERE d.id = $1",
            &[&id],
        )
        .await?;
    Ok(row.map(|r| DuplicateKeys {
        duplicate_key: r.get(0),
        duplicate_of: r.get(1),
        unique_key: r.get(2),
    }))
}

/// One transaction: the row with its state, answer and keys, its contents (chunked when
/// large, streamed from a file), properties and history.
pub(crate) async fn import(
    db: Arc<Db>,
    doc: Imported,
    payload: Placed,
    raw: Option<Placed>,
) -> Result<(), StoreError> {
    let mut client = db.pool.get().await?;
    let tx = client.transaction().await?;
    let (summary, answer) = match &doc.answer {
        Some(a) => (Some(a.summary.as_str()), Some(a.bytes.as_slice())),
        None => (None, None),
    };
    let seq: i64 = tx
        .query_one(
            "INSERT INTO documents (id, process, state, received_at, updated_at, payload,
                 payload_len, payload_chunked, raw, raw_len, raw_chunked, duplicate_key,
                 duplicate_of, error, answer_summary, answer_bytes)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
             RETURNING seq",
            &[
                &doc.id,
                &doc.process,
                &doc.state.as_str(),
                &doc.received_at,
                &doc.updated_at(),
                &payload.inline(),
                &(payload.len() as i64),
                &payload.chunked(),
                &raw.as_ref().and_then(Placed::inline),
                &raw.as_ref().map(|r| r.len() as i64),
                &raw.as_ref().is_some_and(Placed::chunked),
                &doc.keys.duplicate_key,
                &doc.keys.duplicate_of,
                &doc.error,
                &summary,
                &answer,
            ],
        )
        .await
        .map_err(|e| refused_id(e, &doc.id))?
        .get(0);
    let payload_len = payload.write(&tx, seq, PAYLOAD).await?;
    let raw_len = match &raw {
        Some(raw) => Some(raw.write(&tx, seq, RAW).await? as i64),
        None => None,
    };
    if payload_len != payload.len() || raw_len != raw.as_ref().map(|r| r.len() as i64) {
        return Err(StoreError::Invalid(format!(
            "document {}: its contents changed size while they were copied",
            doc.id
        )));
    }
    insert_properties(&tx, seq, &doc.properties).await?;
    if !doc.history.is_empty() {
        let at: Vec<i64> = doc.history.iter().map(|(at, _)| *at).collect();
        let events: Vec<&str> = doc.history.iter().map(|(_, e)| e.as_str()).collect();
        tx.execute(
            "INSERT INTO history (seq, n, at, event)
             SELECT $1, h.n::int, h.at, h.event
             FROM unnest($2::bigint[], $3::text[]) WITH ORDINALITY AS h(at, event, n)",
            &[&seq, &at, &events],
        )
        .await?;
    }
    if let Some(key) = &doc.keys.unique_key {
        // A key the target holds already (a copy with --append) stays with its holder: the
        // file name is refused either way.
        tx.execute(
            "INSERT INTO unique_keys (process, key, document_id) VALUES ($1, $2, $3)
             ON CONFLICT (process, key) DO NOTHING",
            &[&doc.process, key, &doc.id],
        )
        .await?;
    }
    super::outbox::import(&tx, &doc.id, &doc.deliveries).await?;
    tx.commit().await?;
    Ok(())
}

/// Keys whose document is gone (a key outlives its document's purge), in order of
/// (process, key) after `after`.
pub(crate) async fn orphan_keys(
    db: Arc<Db>,
    after: Option<(String, String)>,
    limit: usize,
) -> Result<Vec<UniqueKey>, StoreError> {
    let client = db.pool.get().await?;
    let (process, key) = after.unwrap_or_default();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT u.process, u.key, u.document_id FROM unique_keys u
             WHERE (u.process, u.key) > ($1, $2)
               AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = u.document_id)
             ORDER BY u.process, u.key LIMIT $3",
            &[&process, &key, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| UniqueKey {
            process: r.get(0),
            key: r.get(1),
            document_id: r.get(2),
        })
        .collect())
}

/// Keys copied on their own; one held here already stays with its holder.
pub(crate) async fn import_keys(db: Arc<Db>, keys: Vec<UniqueKey>) -> Result<(), StoreError> {
    let mut client = db.pool.get().await?;
    let tx = client.transaction().await?;
    for k in &keys {
        tx.execute(
            "INSERT INTO unique_keys (process, key, document_id) VALUES ($1, $2, $3)
             ON CONFLICT (process, key) DO NOTHING",
            &[&k.process, &k.key, &k.document_id],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
