//! Outcomes, answers, history, retry, retention and listings.

mod common;

use std::time::Duration;

use berth_store::{Answer, Finish, Query, State, Store, StoreError, StoreOptions};
use bytes::Bytes;
use common::{doc, payload_files};

fn failed(error: &str) -> Finish {
    Finish::Failed {
        error: error.into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn finish_and_answer_are_kept_with_history() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    store.receive(doc("a", "orders")).await.unwrap();
    let answer = Answer {
        summary: "200".into(),
        bytes: b"HTTP/1.1 200 OK".to_vec(),
    };
    store.record_answer("a", answer.clone()).await.unwrap();
    store.finish("a", Finish::Processed).await.unwrap();
    let got = store.get("a").await.unwrap().unwrap();
    assert_eq!(got.state, State::Processed);
    assert_eq!(got.answer, Some(answer));
    let events: Vec<&str> = got.history.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(events, ["received", "answered 200", "processed"]);
    assert!(got.history.windows(2).all(|w| w[0].0 <= w[1].0));
    // Only a received document can finish; unknown ones are reported as such.
    assert!(matches!(
        store.finish("a", failed("late")).await,
        Err(StoreError::WrongState {
            state: State::Processed,
            ..
        })
    ));
    assert!(matches!(
        store.finish("nope", Finish::Processed).await,
        Err(StoreError::NotFound(_))
    ));
    let answer = Answer {
        summary: "x".into(),
        bytes: vec![],
    };
    assert!(matches!(
        store.record_answer("nope", answer).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_document_can_be_retried_and_runs_again() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    store.receive(doc("a", "orders")).await.unwrap();
    store.receive(doc("b", "orders")).await.unwrap();
    store.finish("a", failed("partner down")).await.unwrap();
    store.finish("b", Finish::Processed).await.unwrap();
    let got = store.get("a").await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.error.as_deref()),
        (State::Failed, Some("partner down"))
    );
    assert!(store.unfinished().await.unwrap().is_empty());

    assert!(matches!(
        store.mark_for_retry("b").await,
        Err(StoreError::WrongState {
            state: State::Processed,
            expected: State::Failed,
            ..
        })
    ));
    assert!(matches!(
        store.mark_for_retry("zz").await,
        Err(StoreError::NotFound(_))
    ));
    store.mark_for_retry("a").await.unwrap();
    let again = store.unfinished().await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id.as_str(), again[0].error.as_ref()), ("a", None));
    let events: Vec<&str> = again[0].history.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(
        events,
        ["received", "failed: partner down", "marked for retry"]
    );
    store.finish("a", Finish::Processed).await.unwrap();
    assert_eq!(
        store.get("a").await.unwrap().unwrap().state,
        State::Processed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_keeps_failed_and_unfinished_unless_asked_and_removes_files() {
    let tmp = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        inline_limit: 8,
        ..StoreOptions::default()
    };
    let store = Store::open_with(tmp.path(), options).unwrap();
    for id in ["done", "bad", "open"] {
        let mut d = doc(id, "orders");
        d.raw = Some(Bytes::from(format!("raw request of {id}")).into());
        store.receive(d).await.unwrap();
    }
    store.finish("done", Finish::Processed).await.unwrap();
    store.finish("bad", failed("no route")).await.unwrap();
    assert_eq!(payload_files(tmp.path()).len(), 6);

    // Nothing is old enough yet.
    assert_eq!(
        store.purge(Duration::from_secs(3600), true).await.unwrap(),
        0
    );
    tokio::time::sleep(Duration::from_millis(5)).await;

    assert_eq!(store.purge(Duration::ZERO, false).await.unwrap(), 1);
    assert!(store.get("done").await.unwrap().is_none());
    assert!(store.get("bad").await.unwrap().is_some());
    assert!(store.get("open").await.unwrap().is_some());
    assert_eq!(payload_files(tmp.path()).len(), 4);

    assert_eq!(store.purge(Duration::ZERO, true).await.unwrap(), 1);
    assert!(store.get("bad").await.unwrap().is_none());
    // A document that has not run yet is never purged.
    assert_eq!(store.unfinished().await.unwrap()[0].id, "open");
    assert_eq!(payload_files(tmp.path()).len(), 2);
    // Its properties and history went with it: a listing by property finds only "open".
    let by_sender = Query {
        properties: vec![("as2.from".into(), "PARTNER-A".into())],
        ..Query::default()
    };
    let ids: Vec<String> = store
        .query(&by_sender)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["open"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn query_filters_by_process_state_date_and_property_newest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let pause = || tokio::time::sleep(Duration::from_millis(15));
    store.receive(doc("o1", "orders")).await.unwrap();
    pause().await;
    let t1 = now();
    store.receive(doc("i1", "invoices")).await.unwrap();
    let mut o2 = doc("o2", "orders");
    o2.properties
        .push(("as2.message_id".into(), "<42@a>".into()));
    store.receive(o2).await.unwrap();
    pause().await;
    let t2 = now();
    store.receive(doc("o3", "orders")).await.unwrap();
    store.finish("o3", failed("boom")).await.unwrap();
    store.finish("i1", Finish::Processed).await.unwrap();

    let ids = |q: Query| {
        let store = store.clone();
        async move {
            let found = store.query(&q).await.unwrap();
            found.into_iter().map(|s| s.id).collect::<Vec<String>>()
        }
    };
    let all = Query::default();
    assert_eq!(ids(all.clone()).await, ["o3", "o2", "i1", "o1"]);
    let orders = Query {
        process: Some("orders".into()),
        ..all.clone()
    };
    assert_eq!(ids(orders.clone()).await, ["o3", "o2", "o1"]);
    let failed_orders = Query {
        state: Some(State::Failed),
        ..orders.clone()
    };
    assert_eq!(ids(failed_orders).await, ["o3"]);
    let received = Query {
        state: Some(State::Received),
        ..all.clone()
    };
    assert_eq!(ids(received).await, ["o2", "o1"]);
    let processed = Query {
        state: Some(State::Processed),
        ..all.clone()
    };
    assert_eq!(ids(processed).await, ["i1"]);
    let window = Query {
        from: Some(t1),
        to: Some(t2),
        ..all.clone()
    };
    assert_eq!(ids(window).await, ["o2", "i1"]);
    let since = Query {
        from: Some(t2),
        ..all.clone()
    };
    assert_eq!(ids(since).await, ["o3"]);
    let by_message_id = Query {
        properties: vec![("as2.message_id".into(), "<42@a>".into())],
        ..all.clone()
    };
    assert_eq!(ids(by_message_id).await, ["o2"]);
    let by_two = Query {
        properties: vec![
            ("as2.from".into(), "PARTNER-A".into()),
            ("file.name".into(), "o1.edi".into()),
        ],
        ..all.clone()
    };
    assert_eq!(ids(by_two).await, ["o1"]);
    let no_match = Query {
        properties: vec![("file.name".into(), "o1.EDI".into())],
        ..all.clone()
    };
    assert!(ids(no_match).await.is_empty());
    let page = Query {
        limit: 2,
        offset: 1,
        ..all.clone()
    };
    assert_eq!(ids(page).await, ["o2", "i1"]);

    let summary = &store.query(&failed_orders_query()).await.unwrap()[0];
    assert_eq!(summary.error.as_deref(), Some("boom"));
    assert_eq!(summary.properties, doc("o3", "orders").properties);
}

fn failed_orders_query() -> Query {
    Query {
        process: Some("orders".into()),
        state: Some(State::Failed),
        ..Query::default()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
