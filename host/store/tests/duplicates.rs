//! Duplicate detection reads the store: it holds across restarts, within the window only, and
//! exactly one of several concurrent resends is new.

mod common;

use berth_store::{Answer, Query, Received, State, Store};
use common::{doc, keyed};

fn dup_of(id: &str) -> impl Fn(&Received) -> bool + '_ {
    move |r| matches!(r, Received::Duplicate { original_id, .. } if original_id == id)
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_is_detected_across_reopen_and_replays_the_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let mdn = b"MDN: processed".to_vec();
    {
        let store = Store::open(tmp.path()).unwrap();
        let first = store
            .receive(keyed("a", "as2", "A|B|<m1>", 100))
            .await
            .unwrap();
        assert_eq!(first, Received::New);
        let answer = Answer {
            summary: "processed".into(),
            bytes: mdn.clone(),
        };
        store.record_answer("a", answer).await.unwrap();
    }
    let store = Store::open(tmp.path()).unwrap();
    let again = store
        .receive(keyed("a2", "as2", "A|B|<m1>", 100))
        .await
        .unwrap();
    assert_eq!(
        again,
        Received::Duplicate {
            original_id: "a".into(),
            answer: Some(mdn)
        }
    );
    // The resend is kept as a record, never run, and names its original.
    let resend = store.get("a2").await.unwrap().unwrap();
    assert_eq!(resend.state, State::Duplicate);
    assert!(resend.payload.is_empty());
    assert_eq!(resend.history.last().unwrap().1, "duplicate of a");
    assert_eq!(resend.properties, doc("a2", "as2").properties);
    let unfinished: Vec<String> = store
        .unfinished()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(unfinished, ["a"]);
    // A third copy still finds the original, not the resend.
    let third = store
        .receive(keyed("a3", "as2", "A|B|<m1>", 100))
        .await
        .unwrap();
    assert!(dup_of("a")(&third), "{third:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_before_any_answer_replays_none() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    store.receive(keyed("a", "as2", "k", 10)).await.unwrap();
    let again = store.receive(keyed("b", "as2", "k", 10)).await.unwrap();
    assert_eq!(
        again,
        Received::Duplicate {
            original_id: "a".into(),
            answer: None
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn window_counts_the_last_n_documents_of_the_process() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    store.receive(keyed("orig", "as2", "k", 3)).await.unwrap();
    store.receive(doc("b", "as2")).await.unwrap();
    // Documents of other processes do not push the original out of the window.
    for i in 0..5 {
        store
            .receive(doc(&format!("other{i}"), "x12"))
            .await
            .unwrap();
    }
    store.receive(doc("c", "as2")).await.unwrap();
    // Two documents came after the original: it is among the last three.
    let r = store.receive(keyed("d", "as2", "k", 3)).await.unwrap();
    assert!(dup_of("orig")(&r), "{r:?}");
    // The resend does not count as one of the process's documents.
    store.receive(doc("e", "as2")).await.unwrap();
    // Now three came after it: out of the window, so new.
    let r = store.receive(keyed("f", "as2", "k", 3)).await.unwrap();
    assert_eq!(r, Received::New);
    // And the newest copy is now the one that resends match.
    let r = store.receive(keyed("g", "as2", "k", 3)).await.unwrap();
    assert!(dup_of("f")(&r), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn same_key_in_another_process_or_with_window_zero_is_new() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    store.receive(keyed("a", "as2", "k", 10)).await.unwrap();
    assert_eq!(
        store.receive(keyed("b", "other", "k", 10)).await.unwrap(),
        Received::New
    );
    assert_eq!(
        store.receive(keyed("c", "as2", "k", 0)).await.unwrap(),
        Received::New
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_resends_exactly_one_is_new() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    for round in 0..5 {
        let key = format!("A|B|<race-{round}>");
        let mut tasks = Vec::new();
        for i in 0..32 {
            let (store, key) = (store.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                let id = format!("r{round}-{i}");
                let r = store.receive(keyed(&id, "as2", &key, 1000)).await.unwrap();
                (id, r)
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        let new: Vec<&String> = results
            .iter()
            .filter(|(_, r)| *r == Received::New)
            .map(|(id, _)| id)
            .collect();
        assert_eq!(new.len(), 1, "round {round}: {results:?}");
        for (_, r) in &results {
            assert!(*r == Received::New || dup_of(new[0])(r), "{r:?}");
        }
        let filter = Query {
            state: Some(State::Duplicate),
            ..Query::default()
        };
        assert_eq!(store.query(&filter).await.unwrap().len(), 31 * (round + 1));
    }
}
