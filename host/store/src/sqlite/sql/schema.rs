//! The schema and its migrations, recorded in a `schema_version` table.

use rusqlite::{Connection, OptionalExtension};

use crate::error::StoreError;

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only: a released
/// migration never changes, since stores in the field have already run it.
const MIGRATIONS: &[&str] = &[
    // 1: documents, their properties and their history.
    //
    // Written for insert speed, since every received document pays for each index before its
    // partner gets an answer: the documents table is keyed by its arrival number (appends, no
    // separate index), states that matter for recovery and retry have small partial indexes
    // instead of one index over every state, and properties and history are keyed by
    // `seq * 65536 + position` (see `PER_DOCUMENT`), so that a document's properties are one
    // key range and need no index of their own. PostgreSQL: BIGINT for INTEGER, BYTEA for BLOB.
    "CREATE TABLE documents (
        seq           INTEGER PRIMARY KEY,
        id            TEXT NOT NULL UNIQUE,
        process       TEXT NOT NULL,
        state         TEXT NOT NULL,
        received_at   BIGINT NOT NULL,
        updated_at    BIGINT NOT NULL,
        -- At most one of payload / payload_file is set; a duplicate has neither.
        payload       BLOB,
        payload_file  TEXT,
        payload_len   BIGINT NOT NULL,
        raw           BLOB,
        raw_file      TEXT,
        duplicate_key TEXT,
        duplicate_of  TEXT,
        error         TEXT,
        answer_summary TEXT,
        answer_bytes  BLOB
    );
    CREATE INDEX documents_process ON documents (process, seq);
    CREATE INDEX documents_received_at ON documents (received_at);
    CREATE INDEX documents_duplicate_key ON documents (process, duplicate_key, seq)
        WHERE duplicate_key IS NOT NULL;
    CREATE INDEX documents_unfinished ON documents (seq) WHERE state = 'received';
    CREATE INDEX documents_failed ON documents (seq) WHERE state = 'failed';
    CREATE TABLE properties (
        id    INTEGER PRIMARY KEY,
        name  TEXT NOT NULL,
        value TEXT NOT NULL
    );
    CREATE INDEX properties_name_value ON properties (name, value);
    CREATE TABLE history (
        id    INTEGER PRIMARY KEY,
        at    BIGINT NOT NULL,
        event TEXT NOT NULL
    );",
    // 2: the large contents of new documents in tables of their own, written once and never
    // rewritten; and no index on property values.
    //
    // A document's row changes after its receipt (its outcome, its answer). With 7 KB of
    // payload and raw request inline, the row spilled onto overflow pages, and every change of
    // it read, freed and rewrote those pages. Now the row stays small and a change rewrites a
    // small cell; the payload and raw request go to `contents` at receipt, the answer's bytes
    // to `answers` when it is recorded, both keyed by the document's seq, so that each is
    // appended at the end of its table (an answer keyed next to its document's payload would
    // split a full page in the middle instead). Rows written before this migration keep their
    // inline columns, which readers still consult (`COALESCE`): the migration moves no data,
    // so it costs nothing on a large store.
    //
    // The index on properties (name, value) was only ever probed once per listed document,
    // for a document's handful of properties, which the key range finds as fast; it cost a
    // randomly placed index page per received document.
    "CREATE TABLE contents (
        seq     INTEGER PRIMARY KEY,
        payload BLOB,
        raw     BLOB
    );
    CREATE TABLE answers (
        seq   INTEGER PRIMARY KEY,
        bytes BLOB NOT NULL
    );
    DROP INDEX properties_name_value;",
    // 3: the outbox, deliveries the host sends after answering (asynchronous MDNs), each with
    // its attempts. Small tables beside the documents: a delivery is found by its due time
    // (a partial index over the pending ones only) or by its document.
    "CREATE TABLE deliveries (
        id              INTEGER PRIMARY KEY,
        document_id     TEXT,
        listener        TEXT NOT NULL,
        method          TEXT NOT NULL,
        url             TEXT NOT NULL,
        headers         TEXT NOT NULL,
        body            BLOB NOT NULL,
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
        delivery BIGINT NOT NULL,
        n        INTEGER NOT NULL,
        at       BIGINT NOT NULL,
        result   TEXT NOT NULL,
        PRIMARY KEY (delivery, n)
    );",
    // Keys a process accepts once (AS2: a file name already received from the partner is
    // refused): the primary key refuses the second document, in the writer's transaction.
    "CREATE TABLE unique_keys (
        process     TEXT NOT NULL,
        key         TEXT NOT NULL,
        document_id TEXT NOT NULL,
        PRIMARY KEY (process, key)
    );",
    // Certificates partners sent at run time (AS2 certificate exchange), one row per
    // operation and certificate; a request sent again for the same certificate replaces it.
    "CREATE TABLE partner_certificates (
        operation   TEXT NOT NULL,
        partner     TEXT NOT NULL,
        usages      TEXT NOT NULL,
        certificate BLOB NOT NULL,
        fingerprint TEXT NOT NULL,
        active_from BIGINT NOT NULL,
        request_id  TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        PRIMARY KEY (operation, fingerprint)
    );",
];

/// The version this code writes.
pub(crate) const CURRENT: i64 = MIGRATIONS.len() as i64;

/// Creates or upgrades the schema. Each migration commits with its new version number, so a
/// crash in the middle leaves a store that the next start upgrades from where it stopped.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);")?;
    let found: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .optional()?
        .flatten();
    let found = found.unwrap_or(0);
    if found > CURRENT {
        return Err(StoreError::SchemaTooNew {
            found,
            known: CURRENT,
        });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute("DELETE FROM schema_version", [])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [from as i64 + 1],
        )?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rusqlite::{params, Connection};

    use super::MIGRATIONS;
    use crate::{Answer, Finish, NewDocument, Received, State, Store};

    /// A store as schema 1 wrote it: contents inline in the document rows, 4 KiB pages.
    fn schema_1_store(dir: &std::path::Path) {
        let conn = Connection::open(dir.join(crate::sqlite::sql::DB_FILE)).unwrap();
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version BIGINT NOT NULL);
             INSERT INTO schema_version (version) VALUES (1);",
        )
        .unwrap();
        let insert = "INSERT INTO documents (seq, id, process, state, received_at, updated_at,
                payload, payload_len, raw, duplicate_key, answer_summary, answer_bytes)
             VALUES (?1, ?2, 'as2', ?3, 1000, 1000, ?4, ?5, ?6, ?7, ?8, ?9)";
        conn.execute(
            insert,
            params![
                1,
                "old-done",
                "processed",
                b"old payload".to_vec(),
                11,
                b"old raw".to_vec(),
                "k1",
                "processed",
                b"old mdn".to_vec()
            ],
        )
        .unwrap();
        conn.execute(
            insert,
            params![
                2,
                "old-open",
                "received",
                b"open payload".to_vec(),
                12,
                b"open raw".to_vec(),
                "k2",
                None::<String>,
                None::<Vec<u8>>
            ],
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO properties (id, name, value) VALUES (65536, 'as2.from', 'A');
             INSERT INTO history (id, at, event) VALUES (65536, 1000, 'processed'),
                 (65537, 1000, 'answered processed');",
        )
        .unwrap();
    }

    fn keyed(id: &str, key: &str) -> NewDocument {
        NewDocument {
            id: id.into(),
            process: "as2".into(),
            payload: b"resend".to_vec().into(),
            duplicate_key: Some(key.into()),
            duplicate_window: 100,
            unique_key: None,
            ..NewDocument::default()
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_schema_1_store_is_read_and_written_after_the_upgrade() {
        let tmp = tempfile::tempdir().unwrap();
        schema_1_store(tmp.path());
        let store = Store::open(tmp.path()).unwrap();

        // Inline contents of old rows are still found.
        let done = store.get("old-done").await.unwrap().unwrap();
        assert_eq!(&done.payload.bytes().unwrap()[..], b"old payload");
        assert_eq!(done.answer.as_ref().unwrap().bytes, b"old mdn");
        assert_eq!(done.properties, [("as2.from".into(), "A".into())]);
        assert_eq!(
            &store
                .raw("old-done")
                .await
                .unwrap()
                .unwrap()
                .bytes()
                .unwrap()[..],
            b"old raw"
        );
        let again = store.receive(keyed("resend", "k1")).await.unwrap();
        assert_eq!(
            again,
            Received::Duplicate {
                original_id: "old-done".into(),
                answer: Some(b"old mdn".to_vec())
            }
        );
        let open = store.unfinished().await.unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(&open[0].payload.bytes().unwrap()[..], b"open payload");

        // Old rows take new answers and outcomes; the new answer wins over the inline one.
        let mdn = Answer {
            summary: "processed".into(),
            bytes: b"new mdn".to_vec(),
        };
        store
            .conclude("old-open", Finish::Processed, Some(mdn.clone()))
            .await
            .unwrap();
        let got = store.get("old-open").await.unwrap().unwrap();
        assert_eq!(
            (got.state, got.answer),
            (State::Processed, Some(mdn.clone()))
        );
        assert_eq!(
            &store
                .raw("old-open")
                .await
                .unwrap()
                .unwrap()
                .bytes()
                .unwrap()[..],
            b"open raw"
        );
        store.record_answer("old-done", mdn.clone()).await.unwrap();
        let got = store.get("old-done").await.unwrap().unwrap();
        assert_eq!(got.answer, Some(mdn));
        let events: Vec<&str> = got.history.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(
            events,
            [
                "received",
                "processed",
                "answered processed",
                "answered processed"
            ]
        );

        // Purge removes old and new alike.
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(store.purge(Duration::ZERO, true).await.unwrap(), 3);
        drop(store);
        let conn = Connection::open(tmp.path().join(crate::sqlite::sql::DB_FILE)).unwrap();
        let left: i64 = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM documents) + (SELECT COUNT(*) FROM contents)
                     + (SELECT COUNT(*) FROM answers) + (SELECT COUNT(*) FROM properties)
                     + (SELECT COUNT(*) FROM history)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
        // An existing store keeps its page size; the index on property values is gone.
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(page_size, 4096);
        let indexes: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'properties_name_value'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_read_only_view_of_a_store_from_before_the_outbox_shows_no_deliveries() {
        let tmp = tempfile::tempdir().unwrap();
        schema_1_store(tmp.path());
        // Upgraded to schema 2, the last one before the outbox, by a berth of that time.
        let conn = Connection::open(tmp.path().join(crate::sqlite::sql::DB_FILE)).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.execute("UPDATE schema_version SET version = 2", [])
            .unwrap();
        drop(conn);
        let reader = crate::StoreReader::open(tmp.path()).unwrap();
        assert!(reader.get("old-done").await.unwrap().is_some());
        assert!(reader.deliveries("old-done").await.unwrap().is_empty());
    }

    #[test]
    fn a_new_store_has_8_kib_pages() {
        let tmp = tempfile::tempdir().unwrap();
        drop(Store::open(tmp.path()).unwrap());
        let conn = Connection::open(tmp.path().join(crate::sqlite::sql::DB_FILE)).unwrap();
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(page_size, 8192);
        let version: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, super::CURRENT);
    }
}
