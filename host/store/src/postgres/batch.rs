//! The statements of a group commit (see `group.rs`): many receipts in one multi-row insert,
//! many outcomes in one update, each a fixed number of round trips however many
//! documents the batch holds.
//!
//! The rows travel as arrays (`UNNEST($1::text[], ...)`), one parameter per column, so that one
//! prepared statement serves every batch size. The functions send their statement on their
//! first poll (the statement is prepared beforehand): polled together with the `BEGIN` before
//! them and the `COMMIT` after, the whole batch is one round trip.

use std::collections::HashSet;

use tokio_postgres::{Client, Statement};

use super::write::{concluded, Change, Insert};
use crate::error::StoreError;

/// Inserts documents as new, in the order given, with their properties (see [`insert`]).
/// `ON CONFLICT DO NOTHING` without a target covers both unique indexes (the id and the
/// duplicate key), and a conflict between two rows of this very statement too. The properties
/// join the rows actually inserted, so a skipped document leaves none behind.
pub(crate) const INSERT: &str = "WITH ins AS (
        INSERT INTO documents (id, process, state, received_at, updated_at, payload,
            payload_len, raw, raw_len, duplicate_key, node)
        SELECT d.id, d.process, 'received', d.at, d.at, d.payload, d.payload_len, d.raw,
            d.raw_len, d.key, d.node
        FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::bytea[], $5::int8[], $6::bytea[],
            $7::int8[], $8::text[], $9::text[])
            WITH ORDINALITY AS d(id, process, at, payload, payload_len, raw, raw_len, key,
                node, ord)
        ORDER BY d.ord
        ON CONFLICT DO NOTHING
        RETURNING seq, id
    ), props AS (
        INSERT INTO properties (seq, n, name, value)
        SELECT ins.seq, p.n, p.name, p.value
        FROM ins JOIN UNNEST($10::text[], $11::int4[], $12::text[], $13::text[])
            AS p(id, n, name, value) ON p.id = ins.id
    )
    SELECT id FROM ins";

/// Records outcomes and answers of `received` documents, and their history entries (the
/// outcome, then `answered ...`), see [`conclude`]. The `state = 'received'` condition is
/// checked again on the newest version of a row another transaction changed meanwhile
/// (PostgreSQL re-reads it after waiting for the other's lock), so two nodes' changes of one
/// document come one after the other as with `SELECT ... FOR UPDATE`. The history's numbers
/// continue each document's own: the subquery sees the rows before this statement, which is
/// why a batch changes a document at most once.
pub(crate) const CONCLUDE: &str = "WITH upd AS (
        UPDATE documents d SET state = u.state, error = u.error, updated_at = u.at,
            answer_summary = CASE WHEN u.answered THEN u.summary ELSE d.answer_summary END,
            answer_bytes = CASE WHEN u.answered THEN u.bytes ELSE d.answer_bytes END
        FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::bool[], $6::text[],
            $7::bytea[]) AS u(id, state, error, at, answered, summary, bytes)
        WHERE d.id = u.id AND d.state = 'received'
        RETURNING d.seq, d.id
    ), hist AS (
        INSERT INTO history (seq, n, at, event)
        SELECT upd.seq,
            COALESCE((SELECT MAX(x.n) FROM history x WHERE x.seq = upd.seq), 0) + h.k,
            h.at, h.event
        FROM upd JOIN UNNEST($8::text[], $9::int4[], $10::int8[], $11::text[])
            AS h(id, k, at, event) ON h.id = upd.id
    )
    SELECT id FROM upd";

/// Inserts the documents as new (statement [`INSERT`]). A document that conflicts with a unique
/// index (its duplicate key held, by a committed document or by one earlier in this batch; its
/// id taken) is skipped, not refused: the caller takes it again on its own, which finds what it
/// conflicted with. Returns the ids inserted (the ids of one call must differ).
///
/// Only for contents stored inline and documents without a unique key.
pub(crate) async fn insert(
    client: &Client,
    stmt: &Statement,
    docs: &[&Insert],
) -> Result<HashSet<String>, StoreError> {
    if docs.is_empty() {
        return Ok(HashSet::new());
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
    let rows = client
        .query(
            stmt,
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
    Ok(rows.into_iter().map(|row| row.get(0)).collect())
}

/// One outcome to record: the document, the change (a [`Change::Conclude`]), and when.
pub(crate) struct Concluding<'a> {
    pub id: &'a str,
    pub change: &'a Change,
    pub at: i64,
}

/// Records the outcomes (statement [`CONCLUDE`]) of documents that are `received`, each at most
/// once in a call; returns the ids recorded. One not recorded is unknown or in another state:
/// the caller finds out which on its own. Deliveries are not written here.
pub(crate) async fn conclude(
    client: &Client,
    stmt: &Statement,
    items: &[Concluding<'_>],
) -> Result<HashSet<String>, StoreError> {
    if items.is_empty() {
        return Ok(HashSet::new());
    }
    let mut ids = Vec::with_capacity(items.len());
    let mut states = Vec::with_capacity(items.len());
    let mut errors = Vec::with_capacity(items.len());
    let mut ats = Vec::with_capacity(items.len());
    let mut answered = Vec::with_capacity(items.len());
    let mut summaries = Vec::with_capacity(items.len());
    let mut bytes = Vec::with_capacity(items.len());
    let (mut h_ids, mut h_ks, mut h_ats, mut events) = (vec![], vec![], vec![], vec![]);
    for item in items {
        let Change::Conclude { finish, answer, .. } = item.change else {
            return Err(StoreError::Invalid(
                "only an outcome is recorded in a batch".into(),
            ));
        };
        let (state, error, event) = concluded(finish);
        ids.push(item.id);
        states.push(state.as_str());
        errors.push(error);
        ats.push(item.at);
        answered.push(answer.is_some());
        summaries.push(answer.as_ref().map(|a| a.summary.as_str()));
        bytes.push(answer.as_ref().map(|a| a.bytes.as_slice()));
        h_ids.push(item.id);
        h_ks.push(1i32);
        h_ats.push(item.at);
        events.push(event);
        if let Some(answer) = answer {
            h_ids.push(item.id);
            h_ks.push(2);
            h_ats.push(item.at);
            events.push(format!("answered {}", answer.summary));
        }
    }
    let rows = client
        .query(
            stmt,
            &[
                &ids, &states, &errors, &ats, &answered, &summaries, &bytes, &h_ids, &h_ks, &h_ats,
                &events,
            ],
        )
        .await?;
    Ok(rows.into_iter().map(|row| row.get(0)).collect())
}
