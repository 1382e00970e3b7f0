//! Keys a process accepts once (AS2: a file name already received from a partner): refused
//! by a unique index inside the write, never by a read before it; a resend is still a resend.

use std::sync::Arc;

use berth_store::{NewDocument, Received};

use crate::common::{doc, keyed};
use crate::fixture::Fixture;

crate::both!(
    a_taken_key_is_refused_and_nothing_stored,
    a_resend_is_answered_as_a_resend,
    concurrent_claims
);

fn named(id: &str, message: &str, name: &str) -> NewDocument {
    NewDocument {
        unique_key: Some(name.into()),
        ..keyed(id, "as2", message, 100)
    }
}

async fn a_taken_key_is_refused_and_nothing_stored(f: &Fixture) {
    let store = f.open();
    let first = store.receive(named("n1", "<m1>", "A|B|a.edi")).await;
    assert_eq!(first.unwrap(), Received::New);
    let second = store.receive(named("n2", "<m2>", "A|B|a.edi")).await;
    assert_eq!(
        second.unwrap(),
        Received::KeyTaken {
            holder_id: "n1".into()
        }
    );
    assert!(
        store.get("n2").await.unwrap().is_none(),
        "a refused key stores nothing"
    );
    // Another name, the same name in another process, and no key at all are all fine.
    let other = store.receive(named("n3", "<m3>", "A|B|b.edi")).await;
    assert_eq!(other.unwrap(), Received::New);
    let elsewhere = NewDocument {
        unique_key: Some("A|B|a.edi".into()),
        ..doc("n4", "other")
    };
    assert_eq!(store.receive(elsewhere).await.unwrap(), Received::New);
    assert_eq!(
        store.receive(doc("n5", "as2")).await.unwrap(),
        Received::New
    );
}

async fn a_resend_is_answered_as_a_resend(f: &Fixture) {
    let store = f.open();
    let first = store.receive(named("r1", "<m1>", "A|B|a.edi")).await;
    assert_eq!(first.unwrap(), Received::New);
    match store
        .receive(named("r2", "<m1>", "A|B|a.edi"))
        .await
        .unwrap()
    {
        Received::Duplicate { original_id, .. } => assert_eq!(original_id, "r1"),
        other => panic!("expected a resend, got {other:?}"),
    }
}

/// Claims arriving at once (on PostgreSQL, over separate connections, as on several nodes):
/// exactly one is stored, every other names it.
async fn concurrent_claims(f: &Fixture) {
    let store = Arc::new(f.open());
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("c{i}");
            let received = store.receive(named(&id, &format!("<m{i}>"), "A|B|race.edi"));
            (id, received.await.unwrap())
        }));
    }
    let mut stored = Vec::new();
    let mut holders = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (id, Received::New) => stored.push(id),
            (_, Received::KeyTaken { holder_id }) => holders.push(holder_id),
            (id, other) => panic!("{id}: unexpected {other:?}"),
        }
    }
    assert_eq!(stored.len(), 1, "one stored: {stored:?}");
    assert_eq!(holders.len(), 7);
    assert!(holders.iter().all(|h| *h == stored[0]));
}
