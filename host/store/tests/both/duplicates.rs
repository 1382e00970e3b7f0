//! Resends: recognised by a unique key inside the write, the original's answer replayed, the
//! window of recent documents honoured as far as each backend defines it.

use std::sync::Arc;

use berth_store::{Answer, Finish, Received, State};

use crate::common::{doc, keyed};
use crate::fixture::Fixture;

crate::both!(resend_replays_the_answer, window, concurrent_resends);

fn duplicate_of(received: Received) -> (String, Option<Vec<u8>>) {
    match received {
        Received::Duplicate {
            original_id,
            answer,
        } => (original_id, answer),
        other => panic!("expected a duplicate, got {other:?}"),
    }
}

async fn resend_replays_the_answer(f: &Fixture) {
    let store = f.open();
    let first = store
        .receive(keyed("m1", "as2", "A|B|<id-1>", 100))
        .await
        .unwrap();
    assert_eq!(first, Received::New);
    // Before the original is answered, a resend is known but has nothing to replay.
    let early = store
        .receive(keyed("m1-r1", "as2", "A|B|<id-1>", 100))
        .await
        .unwrap();
    assert_eq!(duplicate_of(early), ("m1".to_string(), None));
    let mdn = Answer {
        summary: "processed".into(),
        bytes: b"the MDN".to_vec(),
    };
    store
        .conclude("m1", Finish::Processed, Some(mdn))
        .await
        .unwrap();
    let late = store
        .receive(keyed("m1-r2", "as2", "A|B|<id-1>", 100))
        .await
        .unwrap();
    assert_eq!(
        duplicate_of(late),
        ("m1".to_string(), Some(b"the MDN".to_vec()))
    );
    let resend = store.get("m1-r2").await.unwrap().unwrap();
    assert_eq!(resend.state, State::Duplicate);
    assert!(resend.payload.is_empty(), "a resend keeps no payload");
    assert_eq!(resend.history[1].1, "duplicate of m1");
    assert_eq!(resend.properties.len(), 2);
    // Never run again.
    assert!(store.unfinished().await.unwrap().is_empty());
    // The same key in another process, or no key, is another message.
    let other = store
        .receive(keyed("m2", "other", "A|B|<id-1>", 100))
        .await
        .unwrap();
    assert_eq!(other, Received::New);
    assert_eq!(
        store.receive(doc("m3", "as2")).await.unwrap(),
        Received::New
    );
    // Across a restart too.
    drop(store);
    let store = f.open();
    let again = store
        .receive(keyed("m1-r3", "as2", "A|B|<id-1>", 100))
        .await
        .unwrap();
    assert_eq!(duplicate_of(again).0, "m1");
}

async fn window(f: &Fixture) {
    let store = f.open();
    store.receive(keyed("k1", "p", "K", 2)).await.unwrap();
    store.receive(doc("x1", "p")).await.unwrap();
    // One newer document: the original is among the last 2.
    let hit = store.receive(keyed("k1-r", "p", "K", 2)).await.unwrap();
    assert_eq!(duplicate_of(hit).0, "k1");
    store.receive(doc("x2", "p")).await.unwrap();
    // Two newer documents (the resend not counted): outside the window, a new original.
    assert_eq!(
        store.receive(keyed("k2", "p", "K", 2)).await.unwrap(),
        Received::New
    );
    // Later resends find the newest original.
    let hit = store.receive(keyed("k2-r", "p", "K", 2)).await.unwrap();
    assert_eq!(duplicate_of(hit).0, "k2");
    // Window 0 turns the check off, and the key is still kept for later documents.
    assert_eq!(
        store.receive(keyed("k3", "p", "K", 0)).await.unwrap(),
        Received::New
    );
    let hit = store.receive(keyed("k3-r", "p", "K", 5)).await.unwrap();
    assert_eq!(duplicate_of(hit).0, "k3");
}

/// Resends arriving at once (on PostgreSQL, over separate connections, as on several nodes):
/// exactly one original.
async fn concurrent_resends(f: &Fixture) {
    let store = Arc::new(f.open());
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("copy-{i}");
            (
                id.clone(),
                store
                    .receive(keyed(&id, "as2", "race", 1000))
                    .await
                    .unwrap(),
            )
        }));
    }
    let mut originals = Vec::new();
    let mut named = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (id, Received::New) => originals.push(id),
            (_, Received::Duplicate { original_id, .. }) => named.push(original_id),
            (id, other) => panic!("{id}: unexpected {other:?}"),
        }
    }
    assert_eq!(originals.len(), 1, "one original: {originals:?}");
    assert_eq!(named.len(), 7);
    assert!(named.iter().all(|o| *o == originals[0]));
}
