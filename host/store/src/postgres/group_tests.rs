//! One batch holding every kind of receipt and outcome, each of which must get its own answer,
//! on a real PostgreSQL (the test binary's one server, a fresh database per test).

use std::sync::Arc;

use berth_e2e::postgres::PgServer;
use bytes::Bytes;
use tokio::sync::oneshot;

use super::{run, Job};
use crate::error::StoreError;
use crate::postgres::chunks::Placed;
use crate::postgres::pool::{connect, Db, Owner, PgConfig};
use crate::postgres::schema;
use crate::postgres::write::{self, Change, Insert};
use crate::types::{Answer, Finish, Received};

fn open() -> (Arc<Db>, Arc<Owner>) {
    let server = PgServer::shared();
    let name = server.create_database("group");
    let config = PgConfig::new(&server.url(&name), Some(server.password().into())).unwrap();
    let (db, owner) = connect(&config, 4).unwrap();
    let pool = db.pool.clone();
    db.block_on(async move { schema::migrate(&mut pool.get().await?).await })
        .unwrap();
    (db, owner)
}

fn doc(id: &str, key: Option<&str>, unique: Option<&str>, property: &str) -> Insert {
    Insert {
        id: id.into(),
        process: "p".into(),
        received_at: 1,
        payload: Placed::Inline(Bytes::from(format!("payload of {id}"))),
        raw: Some(Placed::Inline(Bytes::from_static(b"raw"))),
        properties: vec![("a".into(), property.into()), ("b".into(), id.into())],
        duplicate_key: key.map(str::to_string),
        duplicate_window: 10,
        node: Some("n".into()),
        unique_key: unique.map(str::to_string),
    }
}

fn conclude(id: &str) -> Change {
    Change::Conclude {
        finish: Finish::Processed,
        answer: Some(Answer {
            summary: "200".into(),
            bytes: format!("answer of {id}").into_bytes(),
        }),
        deliveries: Vec::new(),
    }
}

type Receipt = oneshot::Receiver<Result<Received, StoreError>>;
type Changed = oneshot::Receiver<Result<(), StoreError>>;

fn receive(jobs: &mut Vec<Job>, doc: Insert) -> Receipt {
    let (reply, answer) = oneshot::channel();
    jobs.push(Job::Receive { doc, reply });
    answer
}

fn change(jobs: &mut Vec<Job>, id: &str, change: Change) -> Changed {
    let (reply, answer) = oneshot::channel();
    jobs.push(Job::Conclude {
        id: id.into(),
        change,
        at: 2,
        reply,
    });
    answer
}

/// `SELECT` on the test's database, each row's columns joined by `|`.
fn rows(db: &Arc<Db>, sql: &'static str) -> Vec<String> {
    let pool = db.pool.clone();
    db.block_on(async move {
        let client = pool.get().await?;
        let rows = client.query(sql, &[]).await?;
        Ok(rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<_, Option<String>>(i).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect())
    })
    .unwrap()
}

/// New, resend of a committed document, resend of one in the same batch, a taken unique key,
/// a taken id, and outcomes of a received, an unknown and an already finished document; with
/// `bad`, also a document the database refuses (a NUL in a property), which fails the batch's
/// statement and sends every job through its own transaction.
fn mixed_batch(bad: bool) {
    let (db, _owner) = open();
    // Committed before the batch: a keyed original, a holder of a unique key, a document to
    // conclude, and one already concluded.
    let setup = db.clone();
    db.block_on(async move {
        for d in [
            doc("orig", Some("k0"), None, "x"),
            doc("holder", None, Some("u"), "x"),
            doc("open", None, None, "x"),
            doc("done", None, None, "x"),
        ] {
            assert_eq!(write::receive(setup.clone(), &d).await?, Received::New);
        }
        write::change(setup.clone(), "done", &conclude("done"), 1).await
    })
    .unwrap();

    let mut jobs = Vec::new();
    let new = receive(&mut jobs, doc("new", Some("k1"), None, "x"));
    let resend_committed = receive(&mut jobs, doc("again", Some("k0"), None, "x"));
    let resend_in_batch = receive(&mut jobs, doc("new-again", Some("k1"), None, "x"));
    let key_taken = receive(&mut jobs, doc("second", None, Some("u"), "x"));
    let id_taken = receive(&mut jobs, doc("orig", Some("k9"), None, "x"));
    let refused = bad.then(|| receive(&mut jobs, doc("bad", None, None, "nul\0byte")));
    let concluded = change(&mut jobs, "open", conclude("open"));
    let unknown = change(&mut jobs, "nobody", conclude("nobody"));
    let finished = change(&mut jobs, "done", conclude("done"));
    let runner = db.clone();
    db.block_on(async move {
        run(&runner, jobs).await;
        Ok(())
    })
    .unwrap();

    let got = |r: Receipt| r.blocking_recv().expect("answered");
    let done = |r: Changed| r.blocking_recv().expect("answered");
    assert_eq!(got(new).unwrap(), Received::New);
    let duplicate_of = |original: &str, answer: Option<&str>| Received::Duplicate {
        original_id: original.into(),
        answer: answer.map(|a| a.as_bytes().to_vec()),
    };
    assert_eq!(got(resend_committed).unwrap(), duplicate_of("orig", None));
    assert_eq!(got(resend_in_batch).unwrap(), duplicate_of("new", None));
    assert_eq!(
        got(key_taken).unwrap(),
        Received::KeyTaken {
            holder_id: "holder".into()
        }
    );
    let taken = got(id_taken);
    assert!(
        matches!(&taken, Err(StoreError::AlreadyExists(id)) if id == "orig"),
        "{taken:?}"
    );
    if let Some(refused) = refused {
        let refused = got(refused);
        assert!(matches!(refused, Err(StoreError::Db(_))), "{refused:?}");
    }
    done(concluded).unwrap();
    let unknown = done(unknown);
    assert!(
        matches!(&unknown, Err(StoreError::NotFound(id)) if id == "nobody"),
        "{unknown:?}"
    );
    let finished = done(finished);
    assert!(
        matches!(finished, Err(StoreError::WrongState { .. })),
        "{finished:?}"
    );

    // What was written: the new document with its properties, the resends as records of their
    // originals, the outcome with its history; nothing of the refused ones.
    assert_eq!(
        rows(&db, "SELECT id, state, duplicate_of, duplicate_key, answer_summary FROM documents ORDER BY id"),
        [
            "again|duplicate|orig||",
            "done|processed|||200",
            "holder|received|||",
            "new|received||k1|",
            "new-again|duplicate|new||",
            "open|processed|||200",
            "orig|received||k0|",
        ]
    );
    assert_eq!(
        rows(&db, "SELECT d.id, p.n::text, p.name, p.value FROM properties p JOIN documents d USING (seq) WHERE d.id LIKE 'new%' ORDER BY 1, 2"),
        ["new|1|a|x", "new|2|b|new", "new-again|1|a|x", "new-again|2|b|new-again"]
    );
    assert_eq!(
        rows(&db, "SELECT h.n::text, h.event FROM history h JOIN documents d USING (seq) WHERE d.id IN ('open', 'new-again') ORDER BY d.id, h.n"),
        ["duplicate of new", "processed", "answered 200"]
            .iter()
            .zip(["1", "1", "2"])
            .map(|(e, n)| format!("{n}|{e}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        rows(&db, "SELECT key, document_id FROM unique_keys"),
        ["u|holder"]
    );
}

#[test]
fn each_write_of_a_batch_gets_its_own_answer() {
    mixed_batch(false);
}

#[test]
fn a_write_the_database_refuses_fails_alone() {
    mixed_batch(true);
}
