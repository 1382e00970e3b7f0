//! `conclude`: the outcome and the answer recorded in one write, as the host does once the
//! connector has answered.

mod common;

use berth_store::{Answer, Finish, Query, Received, State, Store, StoreError, StoreOptions};
use bytes::Bytes;
use common::{doc, given, keyed, read, read_opt};

fn answer(summary: &str, bytes: &[u8]) -> Answer {
    Answer {
        summary: summary.into(),
        bytes: bytes.to_vec(),
    }
}

async fn events(store: &Store, id: &str) -> Vec<String> {
    let got = store.get(id).await.unwrap().unwrap();
    got.history.into_iter().map(|(_, e)| e).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn conclude_records_outcome_and_answer_together() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let mut d = doc("a", "orders");
    d.raw = Some(Bytes::from_static(b"POST /as2 HTTP/1.1\r\n\r\nbody").into());
    store.receive(d.clone()).await.unwrap();
    let mdn = answer("processed", b"MDN: processed");
    store
        .conclude("a", Finish::Processed, Some(mdn.clone()))
        .await
        .unwrap();

    let got = store.get("a").await.unwrap().unwrap();
    assert_eq!(got.state, State::Processed);
    assert_eq!(got.error, None);
    assert_eq!(got.answer, Some(mdn));
    assert_eq!(read(&got.payload), given(&d.payload));
    assert_eq!(got.properties, d.properties);
    assert_eq!(
        events(&store, "a").await,
        ["received", "processed", "answered processed"]
    );
    // The outcome and the answer were written at the same moment, after the receipt.
    assert_eq!(got.history[1].0, got.history[2].0);
    assert!(got.history[0].0 <= got.history[1].0);
    // The raw request is still there as evidence.
    assert_eq!(
        read_opt(store.raw("a").await.unwrap()),
        d.raw.as_ref().map(given)
    );
    // Listings show the outcome and the answer's summary; nothing is left to recover.
    let listed = store.query(&Query::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].state, listed[0].answer.as_deref()),
        (State::Processed, Some("processed"))
    );
    assert!(store.unfinished().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn conclude_without_answer_is_finish_and_failed_documents_retry() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    store.receive(doc("a", "orders")).await.unwrap();
    let failed = Finish::Failed {
        error: "write_file: disk full".into(),
    };
    store.conclude("a", failed, None).await.unwrap();
    let got = store.get("a").await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.error.as_deref(), got.answer),
        (State::Failed, Some("write_file: disk full"), None)
    );
    assert_eq!(
        events(&store, "a").await,
        ["received", "failed: write_file: disk full"]
    );

    // Retried, it runs again and concludes once more, after its earlier history.
    store.mark_for_retry("a").await.unwrap();
    assert_eq!(store.unfinished().await.unwrap().len(), 1);
    store
        .conclude("a", Finish::Processed, Some(answer("200", b"OK")))
        .await
        .unwrap();
    let got = store.get("a").await.unwrap().unwrap();
    assert_eq!((got.state, got.error), (State::Processed, None));
    assert_eq!(got.answer, Some(answer("200", b"OK")));
    assert_eq!(
        events(&store, "a").await,
        [
            "received",
            "failed: write_file: disk full",
            "marked for retry",
            "processed",
            "answered 200"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn conclude_refuses_unknown_and_finished_documents_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    assert!(matches!(
        store.conclude("nope", Finish::Processed, None).await,
        Err(StoreError::NotFound(_))
    ));
    store.receive(doc("a", "orders")).await.unwrap();
    let first = answer("200", b"first");
    store
        .conclude("a", Finish::Processed, Some(first.clone()))
        .await
        .unwrap();
    let again = store
        .conclude("a", Finish::Processed, Some(answer("500", b"second")))
        .await;
    assert!(
        matches!(
            again,
            Err(StoreError::WrongState {
                state: State::Processed,
                expected: State::Received,
                ..
            })
        ),
        "{again:?}"
    );
    // Neither the second answer nor a history entry was written.
    assert_eq!(store.get("a").await.unwrap().unwrap().answer, Some(first));
    assert_eq!(
        events(&store, "a").await,
        ["received", "processed", "answered 200"]
    );
    // And `finish` now refuses too.
    assert!(matches!(
        store.finish("a", Finish::Processed).await,
        Err(StoreError::WrongState { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn resend_of_a_concluded_document_replays_its_answer_across_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let mdn = b"MDN: processed, signed".to_vec();
    {
        let store = Store::open(tmp.path()).unwrap();
        let first = store
            .receive(keyed("a", "as2", "A|B|<m1>", 100))
            .await
            .unwrap();
        assert_eq!(first, Received::New);
        store
            .conclude("a", Finish::Processed, Some(answer("processed", &mdn)))
            .await
            .unwrap();
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
            answer: Some(mdn.clone())
        }
    );
    // The resend is a record of its own; the original keeps its answer and raw request.
    assert_eq!(
        store.get("a2").await.unwrap().unwrap().state,
        State::Duplicate
    );
    assert_eq!(read_opt(store.raw("a2").await.unwrap()), None);
    assert_eq!(
        store.get("a").await.unwrap().unwrap().answer.unwrap().bytes,
        mdn
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn conclude_mixes_with_finish_and_record_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    // An answer recorded first, then the conclusion with the answer finally sent: the latest
    // answer is the one kept (and replayed to resends).
    store.receive(keyed("a", "as2", "k", 10)).await.unwrap();
    store
        .record_answer("a", answer("pending", b"first"))
        .await
        .unwrap();
    store
        .conclude("a", Finish::Processed, Some(answer("processed", b"final")))
        .await
        .unwrap();
    assert_eq!(
        events(&store, "a").await,
        [
            "received",
            "answered pending",
            "processed",
            "answered processed"
        ]
    );
    let replay = store.receive(keyed("b", "as2", "k", 10)).await.unwrap();
    assert_eq!(
        replay,
        Received::Duplicate {
            original_id: "a".into(),
            answer: Some(b"final".to_vec())
        }
    );
    // The old path after a conclusion still records later answers.
    store
        .record_answer("a", answer("processed", b"again"))
        .await
        .unwrap();
    assert_eq!(
        store.get("a").await.unwrap().unwrap().answer,
        Some(answer("processed", b"again"))
    );
    // And the old path alone behaves as before.
    store.receive(doc("c", "orders")).await.unwrap();
    store.finish("c", Finish::Processed).await.unwrap();
    store
        .record_answer("c", answer("200", b"OK"))
        .await
        .unwrap();
    assert_eq!(
        events(&store, "c").await,
        ["received", "processed", "answered 200"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_concurrent_conclusions_share_commits_and_all_land() {
    let tmp = tempfile::tempdir().unwrap();
    // Small inline limit: every payload and raw request goes to a file.
    let options = StoreOptions {
        inline_limit: 16,
        ..StoreOptions::default()
    };
    {
        let store = Store::open_with(tmp.path(), options.clone()).unwrap();
        let mut tasks = Vec::new();
        for t in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut fired = Vec::new();
                for i in 0..25 {
                    let id = format!("t{t}-{i}");
                    let mut d = keyed(&id, "as2", &format!("key-{id}"), 100_000);
                    d.raw = Some(Bytes::from(format!("raw request of {id}")).into());
                    assert_eq!(store.receive(d).await.unwrap(), Received::New);
                    let outcome = if i % 5 == 0 {
                        Finish::Failed {
                            error: format!("failed {id}"),
                        }
                    } else {
                        Finish::Processed
                    };
                    // Fired, not awaited before the next receipt, as the host does.
                    let store = store.clone();
                    fired.push(tokio::spawn(async move {
                        let mdn = answer("processed", id.as_bytes());
                        store.conclude(&id, outcome, Some(mdn)).await.unwrap();
                    }));
                }
                for conclusion in fired {
                    conclusion.await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    }
    let store = Store::open_with(tmp.path(), options).unwrap();
    assert!(store.unfinished().await.unwrap().is_empty());
    for t in 0..16 {
        for i in 0..25 {
            let id = format!("t{t}-{i}");
            let got = store.get(&id).await.unwrap().unwrap();
            let expected = if i % 5 == 0 {
                State::Failed
            } else {
                State::Processed
            };
            assert_eq!(got.state, expected, "{id}");
            assert_eq!(got.answer.unwrap().bytes, id.as_bytes(), "{id}");
            assert_eq!(
                read(&store.raw(&id).await.unwrap().unwrap()),
                Bytes::from(format!("raw request of {id}"))
            );
            assert_eq!(got.history.len(), 3, "{id}");
        }
    }
}
