//! Receipt, outcomes, answers, retry, listings, purge and the read-only view.

use std::time::Duration;

use berth_store::{Answer, Finish, Query, Received, State, StoreError};

use crate::common::{doc, read};
use crate::fixture::{Fixture, Kind};

crate::both!(lifecycle, listings, purge, read_only_view, size);

fn answer(summary: &str) -> Answer {
    Answer {
        summary: summary.into(),
        bytes: format!("bytes of {summary}").into_bytes(),
    }
}

async fn lifecycle(f: &Fixture) {
    let store = f.open();
    assert_eq!(
        store.receive(doc("a", "orders")).await.unwrap(),
        Received::New
    );
    assert!(matches!(
        store.receive(doc("a", "orders")).await,
        Err(StoreError::AlreadyExists(id)) if id == "a"
    ));
    let got = store.get("a").await.unwrap().unwrap();
    assert_eq!(got.state, State::Received);
    assert_eq!(read(&got.payload), "payload of a");
    assert_eq!(got.properties[1], ("file.name".into(), "a.edi".into()));
    assert_eq!(got.history.len(), 1);
    assert_eq!(got.history[0].1, "received");
    let unfinished = store.unfinished().await.unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].properties.len(), 2);

    store
        .conclude("a", Finish::Processed, Some(answer("200")))
        .await
        .unwrap();
    let got = store.get("a").await.unwrap().unwrap();
    assert_eq!(got.state, State::Processed);
    assert_eq!(got.answer, Some(answer("200")));
    let events: Vec<&str> = got.history.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(events, ["received", "processed", "answered 200"]);
    assert!(store.unfinished().await.unwrap().is_empty());
    // Only a received document concludes, and a refusal writes nothing.
    assert!(matches!(
        store
            .conclude("a", Finish::Processed, Some(answer("x")))
            .await,
        Err(StoreError::WrongState {
            state: State::Processed,
            expected: State::Received,
            ..
        })
    ));
    assert!(matches!(
        store.finish("nope", Finish::Processed).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.get("a").await.unwrap().unwrap().answer,
        Some(answer("200"))
    );

    // A failure, a retry, then success; the answer can be replaced in any state.
    store.receive(doc("b", "orders")).await.unwrap();
    let failed = Finish::Failed {
        error: "step 2: disk full".into(),
    };
    store.conclude("b", failed, None).await.unwrap();
    let got = store.get("b").await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.error.as_deref()),
        (State::Failed, Some("step 2: disk full"))
    );
    assert!(matches!(
        store.mark_for_retry("a").await,
        Err(StoreError::WrongState {
            expected: State::Failed,
            ..
        })
    ));
    store.mark_for_retry("b").await.unwrap();
    store.record_answer("b", answer("500")).await.unwrap();
    let got = store.get("b").await.unwrap().unwrap();
    assert_eq!((got.state, got.error), (State::Received, None));
    let events: Vec<&str> = got.history.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(
        events,
        [
            "received",
            "failed: step 2: disk full",
            "marked for retry",
            "answered 500"
        ]
    );
    assert_eq!(store.unfinished().await.unwrap()[0].id, "b");

    // What was committed is there after the store is opened again.
    drop(store);
    let store = f.open();
    assert_eq!(
        store.get("a").await.unwrap().unwrap().state,
        State::Processed
    );
    assert_eq!(store.unfinished().await.unwrap().len(), 1);
}

async fn listings(f: &Fixture) {
    let store = f.open();
    for (id, process) in [
        ("1", "orders"),
        ("2", "invoices"),
        ("3", "orders"),
        ("4", "orders"),
    ] {
        let mut d = doc(id, process);
        d.properties.push(("n".into(), id.into()));
        store.receive(d).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    store.finish("3", Finish::Processed).await.unwrap();
    let ids = |summaries: Vec<berth_store::Summary>| -> Vec<String> {
        summaries.into_iter().map(|s| s.id).collect()
    };
    let all = store.query(&Query::default()).await.unwrap();
    assert_eq!(ids(all.clone()), ["4", "3", "2", "1"]);
    assert_eq!(all[1].properties[2], ("n".into(), "3".into()));
    assert_eq!(all[1].state, State::Processed);
    let q = |f: fn(&mut Query)| {
        let mut q = Query::default();
        f(&mut q);
        q
    };
    let orders = q(|q| q.process = Some("orders".into()));
    assert_eq!(ids(store.query(&orders).await.unwrap()), ["4", "3", "1"]);
    let received = q(|q| q.state = Some(State::Received));
    assert_eq!(ids(store.query(&received).await.unwrap()), ["4", "2", "1"]);
    let by_property = q(|q| q.properties = vec![("file.name".into(), "2.edi".into())]);
    assert_eq!(ids(store.query(&by_property).await.unwrap()), ["2"]);
    let both = q(|q| {
        q.properties = vec![
            ("n".into(), "4".into()),
            ("as2.from".into(), "PARTNER-A".into()),
        ]
    });
    assert_eq!(ids(store.query(&both).await.unwrap()), ["4"]);
    let page = q(|q| {
        q.limit = 2;
        q.offset = 1
    });
    assert_eq!(ids(store.query(&page).await.unwrap()), ["3", "2"]);
    let third = store.get("3").await.unwrap().unwrap().received_at;
    let mut window = Query {
        from: Some(third),
        ..Query::default()
    };
    assert_eq!(ids(store.query(&window).await.unwrap()), ["4", "3"]);
    window.from = None;
    window.to = Some(third);
    assert_eq!(ids(store.query(&window).await.unwrap()), ["2", "1"]);
}

async fn purge(f: &Fixture) {
    let store = f.open();
    for id in ["done", "failed", "waiting"] {
        store.receive(doc(id, "orders")).await.unwrap();
    }
    store.finish("done", Finish::Processed).await.unwrap();
    let failed = Finish::Failed { error: "x".into() };
    store.finish("failed", failed).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    if f.kind == Kind::Postgres {
        let rows = f.sql("SELECT count(DISTINCT seq) || ' ' || count(*) FROM history");
        assert_eq!(
            rows.trim(),
            "2 2",
            "the finished documents' history to purge"
        );
    }
    assert_eq!(
        store.purge(Duration::from_secs(3600), true).await.unwrap(),
        0
    );
    assert_eq!(store.purge(Duration::ZERO, false).await.unwrap(), 1);
    assert!(store.get("done").await.unwrap().is_none());
    assert_eq!(store.purge(Duration::ZERO, true).await.unwrap(), 1);
    assert!(store.get("failed").await.unwrap().is_none());
    if f.kind == Kind::Postgres {
        // Properties and history go with their document, without a foreign key to take them.
        let orphans = f.sql(
            "SELECT (SELECT count(*) FROM properties p
                     WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.seq = p.seq)) || ' ' ||
                    (SELECT count(*) FROM history h
                     WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.seq = h.seq))",
        );
        assert_eq!(orphans.trim(), "0 0", "rows of purged documents are left");
    }
    // Never a document that has not run.
    assert_eq!(
        store.get("waiting").await.unwrap().unwrap().state,
        State::Received
    );
}

async fn read_only_view(f: &Fixture) {
    let store = f.open();
    store.receive(doc("seen", "orders")).await.unwrap();
    let reader = f.reader();
    let got = reader.get("seen").await.unwrap().unwrap();
    assert_eq!(read(&got.payload), "payload of seen");
    // Later writes of the running host show up in the open view.
    store.receive(doc("later", "orders")).await.unwrap();
    store.finish("later", Finish::Processed).await.unwrap();
    let listed = reader.query(&Query::default()).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].state, State::Processed);
    assert!(reader.raw("seen").await.unwrap().is_none());
    assert!(matches!(
        reader.raw("nope").await,
        Err(StoreError::NotFound(_))
    ));
}

/// The size the `berth_store_bytes` gauge shows: the database's own, above zero once it holds a
/// document, and growing as documents arrive.
async fn size(f: &Fixture) {
    let store = f.open();
    store.receive(doc("a", "orders")).await.unwrap();
    let first = store.size_bytes().await.unwrap();
    assert!(first > 0, "an open store with a document takes room");
    for n in 0..200 {
        store
            .receive(doc(&format!("more-{n}"), "orders"))
            .await
            .unwrap();
    }
    let later = store.size_bytes().await.unwrap();
    assert!(
        later > first,
        "{later} after 200 more documents, {first} before"
    );
}
