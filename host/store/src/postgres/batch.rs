//! The statements of a group commit (see `group.rs`): many receipts in one multi-row insert,
//! many outcomes in one lock and one update, each a fixed number of round trips however many
//! documents the batch holds.
//!
//! The rows travel as arrays (`UNNEST($1::text[], ...)`), one parameter per column, so that one
//! prepared statement serves every batch size.

use std::collections::HashMap;

use deadpool_postgres::Transaction;

use super::write::{concluded, Change, Insert};
use crate::error::StoreError;
use crate::types::State;

/// Inserts the documents as new, in the order given, with their properties, in one statement.
/// A document that conflicts with any unique index (its duplicate key held, by a committed
/// document or by one earlier in this batch; its id taken) is skipped, not refused: the caller
/// takes it again on its own, which finds what it conflicted with. Returns the seq of each
/// document inserted, by id (the ids of one call must differ).
///
/// Only for contents stored inline and documents without a unique key.
pub(crate) async fn insert(
    tx: &Transaction<'_>,
    docs: &[&Insert],
) -> Result<HashMap<String, i64>, StoreError> {
    if docs.is_empty() {
        return Ok(HashMap::new());
    }
    let mut ids = Vec::with_capacity(docs.len());
    let mut processes = Vec::with_capacity(docs.len());
    let mut ats = Vec::with_capacity(docs.len());
    let mut payloads = Vec::with_capacity(docs.len());
    let mut payload_lens = Vec::with_capacity(docs.len());
    let mut raws = Vec::with_capacity(docs.len());
    let mut raw_lens = Vec::with_capacity(docs.len());
    let mut keys = Vec::with_capacity(docs.len());
    let mut nodes = Vec::with_capacity(docs.len());
    let (mut prop_ids, mut prop_ns, mut names, mut values) = (vec![], vec![], vec![], vec![]);
    for doc in docs {
        ids.push(doc.id.as_str());
        processes.push(doc.process.as_str());
        ats.push(doc.received_at);
        payloads.push(doc.payload.inline());
        payload_lens.push(doc.payload.len() as i64);
        raws.push(doc.raw.as_ref().and_then(|r| r.inline()));
        raw_lens.push(doc.raw.as_ref().map(|r| r.len() as i64));
        keys.push(doc.duplicate_key.as_deref());
        nodes.push(doc.node.as_deref());
        for (n, (name, value)) in doc.properties.iter().enumerate() {
            prop_ids.push(doc.id.as_str());
            prop_ns.push(n as i32 + 1);
            names.push(name.as_str());
            values.push(value.as_str());
        }
    }
    // `ON CONFLICT DO NOTHING` without a target covers both unique indexes (the id and the
    // duplicate key), and a conflict between two rows of this very statement too. The
    // properties join the rows actually inserted, so a skipped document leaves none behind.
    let stmt = tx
        .prepare_cached(
            "WITH ins AS (
                 INSERT INTO documents (id, process, state, received_at, updated_at, payload,
                     payload_len, raw, raw_len, duplicate_key, node)
                 SELECT d.id, d.process, 'received', d.at, d.at, d.payload, d.payload_len,
                     d.raw, d.raw_len, d.key, d.node
                 FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::bytea[], $5::int8[],
                     $6::bytea[], $7::int8[], $8::text[], $9::text[])
                     WITH ORDINALITY AS d(id, process, at, payload, payload_len, raw, raw_len,
                         key, node, ord)
                 ORDER BY d.ord
                 ON CONFLICT DO NOTHING
                 RETURNING seq, id
             ), props AS (
                 INSERT INTO properties (seq, n, name, value)
                 SELECT ins.seq, p.n, p.name, p.value
                 FROM ins JOIN UNNEST($10::text[], $11::int4[], $12::text[], $13::text[])
                     AS p(id, n, name, value) ON p.id = ins.id
             )
             SELECT seq, id FROM ins",
        )
        .await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &ids,
                &processes,
                &ats,
                &payloads,
                &payload_lens,
                &raws,
                &raw_lens,
                &keys,
                &nodes,
                &prop_ids,
                &prop_ns,
                &names,
                &values,
            ],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.get::<_, String>(1), row.get::<_, i64>(0)))
        .collect())
}

/// Locks the rows of the documents named (in the order of their ids, so that two batches
/// locking some of the same rows take them in the same order) and returns each one's seq and
/// state. A document not found is not in the answer.
pub(crate) async fn lock(
    tx: &Transaction<'_>,
    ids: &[&str],
) -> Result<HashMap<String, (i64, State)>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let stmt = tx
        .prepare_cached(
            "SELECT seq, id, state FROM documents WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        )
        .await?;
    let mut found = HashMap::with_capacity(ids.len());
    for row in tx.query(&stmt, &[&ids]).await? {
        let state = State::parse(row.get(2))?;
        found.insert(row.get::<_, String>(1), (row.get::<_, i64>(0), state));
    }
    Ok(found)
}

/// One outcome to record: the document's seq (its row locked and `received`), the change (a
/// [`Change::Conclude`]), and when.
pub(crate) struct Concluding<'a> {
    pub seq: i64,
    pub change: &'a Change,
    pub at: i64,
}

/// Records the outcomes and answers of documents whose rows [`lock`] holds, each document at
/// most once, and their history entries (the outcome, then `answered ...`), in one statement.
/// Their deliveries are the caller's to insert.
pub(crate) async fn conclude(
    tx: &Transaction<'_>,
    items: &[Concluding<'_>],
) -> Result<(), StoreError> {
    if items.is_empty() {
        return Ok(());
    }
    let mut seqs = Vec::with_capacity(items.len());
    let mut states = Vec::with_capacity(items.len());
    let mut errors = Vec::with_capacity(items.len());
    let mut ats = Vec::with_capacity(items.len());
    let mut answered = Vec::with_capacity(items.len());
    let mut summaries = Vec::with_capacity(items.len());
    let mut bytes = Vec::with_capacity(items.len());
    let (mut h_seqs, mut h_ks, mut h_ats, mut events) = (vec![], vec![], vec![], vec![]);
    for item in items {
        let Change::Conclude { finish, answer, .. } = item.change else {
            return Err(StoreError::Invalid(
                "only an outcome is recorded in a batch".into(),
            ));
        };
        let (state, error, event) = concluded(finish);
        seqs.push(item.seq);
        states.push(state.as_str());
        errors.push(error);
        ats.push(item.at);
        answered.push(answer.is_some());
        summaries.push(answer.as_ref().map(|a| a.summary.as_str()));
        bytes.push(answer.as_ref().map(|a| a.bytes.as_slice()));
        h_seqs.push(item.seq);
        h_ks.push(1i32);
        h_ats.push(item.at);
        events.push(event);
        if let Some(answer) = answer {
            h_seqs.push(item.seq);
            h_ks.push(2);
            h_ats.push(item.at);
            events.push(format!("answered {}", answer.summary));
        }
    }
    // The history's numbers continue each document's own (the subquery sees the rows before
    // this statement, which is why a batch changes a document at most once).
    let stmt = tx
        .prepare_cached(
            "WITH upd AS (
                 UPDATE documents d SET state = u.state, error = u.error, updated_at = u.at,
                     answer_summary = CASE WHEN u.answered THEN u.summary
                         ELSE d.answer_summary END,
                     answer_bytes = CASE WHEN u.answered THEN u.bytes ELSE d.answer_bytes END
                 FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[], $5::bool[],
                     $6::text[], $7::bytea[])
                     AS u(seq, state, error, at, answered, summary, bytes)
                 WHERE d.seq = u.seq
             )
             INSERT INTO history (seq, n, at, event)
             SELECT h.seq,
                 COALESCE((SELECT MAX(x.n) FROM history x WHERE x.seq = h.seq), 0) + h.k,
                 h.at, h.event
             FROM UNNEST($8::int8[], $9::int4[], $10::int8[], $11::text[])
                 AS h(seq, k, at, event)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &seqs, &states, &errors, &ats, &answered, &summaries, &bytes, &h_seqs, &h_ks, &h_ats,
            &events,
        ],
    )
    .await?;
    Ok(())
}
