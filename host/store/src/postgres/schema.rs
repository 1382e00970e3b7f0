//! The schema and its migrations, recorded in a `schema_version` table. Several nodes may start
//! at once on an empty database: each migrates inside a transaction that first takes a
//! transaction-scoped advisory lock, so one creates the schema and the others then find it.

use deadpool_postgres::Object as Client;

use crate::error::StoreError;

/// The advisory lock key that serialises migrations ("berth" in ASCII).
const MIGRATION_LOCK: i64 = 0x0062_6572_7468;

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only: a released
/// migration never changes, since databases in the field have already run it.
const MIGRATIONS: &[&str] = &[
    // 1: documents, their properties, history and large contents.
    //
    // A document's row holds its small payload and raw request (PostgreSQL moves values over
    // 2 KB out of line by itself, and an update of the row's state keeps them where they are);
    // larger ones are chunks. Properties, history and chunks are keyed by the document's seq
    // and go with it (ON DELETE CASCADE), so that a purge is one statement.
    //
    // Duplicates: `UNIQUE (process, duplicate_key)` is what refuses a second original of a
    // message, whichever node receives it; NULL keys (no key, or a resend) never conflict.
    "CREATE TABLE documents (
        seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id              TEXT NOT NULL UNIQUE,
        process         TEXT NOT NULL,
        state           TEXT NOT NULL,
        received_at     BIGINT NOT NULL,
        updated_at      BIGINT NOT NULL,
        -- Inline content; NULL when chunked (the flag) or for a resend.
        payload         BYTEA,
        payload_len     BIGINT NOT NULL,
        payload_chunked BOOLEAN NOT NULL DEFAULT FALSE,
        raw             BYTEA,
        -- NULL when the document has no raw request.
        raw_len         BIGINT,
        raw_chunked     BOOLEAN NOT NULL DEFAULT FALSE,
        duplicate_key   TEXT,
        duplicate_of    TEXT,
        error           TEXT,
        answer_summary  TEXT,
        answer_bytes    BYTEA,
        CONSTRAINT documents_duplicate_key UNIQUE (process, duplicate_key)
    );
    CREATE INDEX documents_process ON documents (process, seq);
    CREATE INDEX documents_received_at ON documents (received_at);
    CREATE INDEX documents_unfinished ON documents (seq) WHERE state = 'received';
    CREATE INDEX documents_failed ON documents (seq) WHERE state = 'failed';
    CREATE TABLE properties (
        seq   BIGINT NOT NULL REFERENCES documents ON DELETE CASCADE,
        n     INT NOT NULL,
        name  TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (seq, n)
    );
    CREATE TABLE history (
        seq   BIGINT NOT NULL REFERENCES documents ON DELETE CASCADE,
        n     INT NOT NULL,
        at    BIGINT NOT NULL,
        event TEXT NOT NULL,
        PRIMARY KEY (seq, n)
    );
    -- kind 0: the payload, 1: the raw request; n counts chunks from 0.
    CREATE TABLE payload_chunks (
        seq   BIGINT NOT NULL REFERENCES documents ON DELETE CASCADE,
        kind  SMALLINT NOT NULL,
        n     INT NOT NULL,
        bytes BYTEA NOT NULL,
        PRIMARY KEY (seq, kind, n)
    );
    -- Payloads are mostly encrypted or compressed already: do not spend CPU trying again.
    ALTER TABLE payload_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;",
    // 2: the outbox, deliveries the host sends after answering (asynchronous MDNs), each with
    // its attempts; a delivery goes with its document (ON DELETE CASCADE), and one of no
    // document (an answer to a message never stored) has a NULL document_id. Any node claims a
    // due one for a while (claimed_by, claimed_until), with FOR UPDATE SKIP LOCKED so that
    // claimers pass each other by; a dead node's claim simply runs out.
    "CREATE TABLE deliveries (
        id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        document_id     TEXT REFERENCES documents (id) ON DELETE CASCADE,
        listener        TEXT NOT NULL,
        method          TEXT NOT NULL,
        url             TEXT NOT NULL,
        headers         TEXT NOT NULL,
        body            BYTEA NOT NULL,
        verify_hostname BOOLEAN NOT NULL,
        created_at      BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        state           TEXT NOT NULL,
        claimed_by      TEXT,
        claimed_until   BIGINT
    );
    CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
    CREATE INDEX deliveries_document ON deliveries (document_id);
    CREATE TABLE delivery_attempts (
        delivery BIGINT NOT NULL REFERENCES deliveries ON DELETE CASCADE,
        n        INT NOT NULL,
        at       BIGINT NOT NULL,
        result   TEXT NOT NULL,
        PRIMARY KEY (delivery, n)
    );",
    // 3: the nodes of a cluster, who owns which document, and listener controls for all nodes.
    //
    // `documents.node` is the node that received (or took over, or retried) a document; NULL
    // for documents stored before nodes existed, which the first node to start claims. The
    // heartbeat is the database's time, so that nodes' clocks never have to agree. A listener
    // control is a row (a node that was away reads what it missed) and a NOTIFY (the others
    // hear of it at once).
    "ALTER TABLE documents ADD COLUMN node TEXT;
    CREATE INDEX documents_node_unfinished ON documents (node, seq) WHERE state = 'received';
    CREATE TABLE nodes (
        name            TEXT PRIMARY KEY,
        instance        TEXT NOT NULL,
        address         TEXT NOT NULL,
        version         TEXT NOT NULL,
        files           TEXT[] NOT NULL,
        hashes          TEXT[] NOT NULL,
        listeners       TEXT[] NOT NULL,
        listener_states TEXT[] NOT NULL,
        started         TIMESTAMPTZ NOT NULL,
        last_heartbeat  TIMESTAMPTZ NOT NULL,
        stopped         BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE TABLE listener_controls (
        id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        listener TEXT NOT NULL,
        action   TEXT NOT NULL,
        origin   TEXT NOT NULL,
        at       TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
    );",
    // 4: keys a process accepts once (AS2: a file name already received from the partner is
    // refused): the primary key orders two nodes claiming the same key, the second waits for
    // the first's commit and then finds it taken.
    "CREATE TABLE unique_keys (
        process     TEXT NOT NULL,
        key         TEXT NOT NULL,
        document_id TEXT NOT NULL,
        PRIMARY KEY (process, key)
    );",
    // 5: certificates partners sent at run time (AS2 certificate exchange), one row per
    // operation and certificate, seen by every node; a request sent again for the same
    // certificate replaces it.
    "CREATE TABLE partner_certificates (
        operation   TEXT NOT NULL,
        partner     TEXT NOT NULL,
        usages      TEXT NOT NULL,
        certificate BYTEA NOT NULL,
        fingerprint TEXT NOT NULL,
        active_from BIGINT NOT NULL,
        request_id  TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        PRIMARY KEY (operation, fingerprint)
    );",
    // 6: no foreign keys from a document's properties and history to it. They are written in
    // the transaction that inserts the document and deleted by the purge that deletes it, so
    // the keys checked nothing, at a price: a trigger per row that looks the document up and
    // locks it (FOR KEY SHARE), ten times per document on the hot path of every receipt.
    "ALTER TABLE properties DROP CONSTRAINT IF EXISTS properties_seq_fkey;
    ALTER TABLE history DROP CONSTRAINT IF EXISTS history_seq_fkey;",
];

/// The version this code writes.
pub(crate) const CURRENT: i64 = MIGRATIONS.len() as i64;

/// Creates or upgrades the schema, all migrations in one transaction under the advisory lock.
pub(crate) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .await?;
    let found: Option<i64> = tx
        .query_one("SELECT MAX(version) FROM schema_version", &[])
        .await?
        .get(0);
    let found = found.unwrap_or(0);
    if found > CURRENT {
        return Err(StoreError::SchemaTooNew {
            found,
            known: CURRENT,
        });
    }
    if found == CURRENT {
        return Ok(());
    }
    for sql in MIGRATIONS.iter().skip(found as usize) {
        tx.batch_execute(sql).await?;
    }
    tx.execute("DELETE FROM schema_version", &[]).await?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES ($1)",
        &[&CURRENT],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// For the read-only view: the schema must exist (a host has run) and be one this code reads.
pub(crate) async fn check(client: &Client) -> Result<(), StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Err(StoreError::NotFound(
            "no message store in this database (berth has not run with it yet)".into(),
        ));
    }
    let found: Option<i64> = client
        .query_one("SELECT MAX(version) FROM schema_version", &[])
        .await?
        .get(0);
    match found.unwrap_or(0) {
        found if found > CURRENT => Err(StoreError::SchemaTooNew {
            found,
            known: CURRENT,
        }),
        _ => Ok(()),
    }
}
