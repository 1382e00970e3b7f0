//! What a receipt promises: the document is there after the store is closed and opened again,
//! and recovery hands back exactly the unfinished ones.

mod common;

use berth_store::{Finish, NewDocument, Payload, Received, State, Store, StoreError, StoreOptions};
use bytes::Bytes;
use common::{doc, given, payload_files, read, read_opt};

#[tokio::test(flavor = "multi_thread")]
async fn received_document_survives_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = doc("doc-1", "orders");
    d.raw = Some(Bytes::from_static(b"POST /as2 HTTP/1.1\r\n\r\nbody").into());
    {
        let store = Store::open(tmp.path()).unwrap();
        assert_eq!(store.receive(d.clone()).await.unwrap(), Received::New);
    }
    let store = Store::open(tmp.path()).unwrap();
    let got = store.get("doc-1").await.unwrap().expect("document kept");
    assert_eq!(got.process, "orders");
    assert_eq!(got.state, State::Received);
    assert_eq!(read(&got.payload), given(&d.payload));
    assert_eq!(got.properties, d.properties);
    assert_eq!(got.history.len(), 1);
    assert_eq!(got.history[0].1, "received");
    assert_eq!(
        read_opt(store.raw("doc-1").await.unwrap()),
        d.raw.as_ref().map(given)
    );
    assert!(store.get("doc-2").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn unfinished_after_reopen_is_exactly_the_unfinished_ones_oldest_first() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let store = Store::open(tmp.path()).unwrap();
        for i in 0..6 {
            store
                .receive(doc(&format!("d{i}"), "orders"))
                .await
                .unwrap();
        }
        store.finish("d1", Finish::Processed).await.unwrap();
        let failed = Finish::Failed {
            error: "disk full".into(),
        };
        store.finish("d3", failed).await.unwrap();
        store.finish("d4", Finish::Processed).await.unwrap();
    }
    let store = Store::open(tmp.path()).unwrap();
    let ids: Vec<String> = store
        .unfinished()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["d0", "d2", "d5"]);
    let first = &store.unfinished().await.unwrap()[0];
    assert_eq!(&read(&first.payload)[..], b"payload of d0");
    assert_eq!(first.properties[1], ("file.name".into(), "d0.edi".into()));
}

/// A request the host spooled to a file is linked into the store, not read and copied, and
/// stays there when the host removes its own name for it.
#[tokio::test(flavor = "multi_thread")]
async fn a_spooled_raw_request_is_adopted_as_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let file = spool.join("1-0.request");
    let raw: Vec<u8> = (0..500_000u32).map(|i| (i % 7) as u8).collect();
    std::fs::write(&file, &raw).unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let d = NewDocument {
        raw: Some(Payload::File(file.clone())),
        ..doc("spooled", "as2")
    };
    store.receive(d).await.unwrap();
    std::fs::remove_file(&file).unwrap();
    assert_eq!(read(&store.raw("spooled").await.unwrap().unwrap()), raw);
    assert_eq!(payload_files(tmp.path()).len(), 1);
    // A file that is not there is an error, and nothing is stored.
    let missing = NewDocument {
        raw: Some(Payload::File(spool.join("gone.request"))),
        ..doc("missing", "as2")
    };
    assert!(store.receive(missing).await.is_err());
    assert!(store.get("missing").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn large_payload_goes_to_a_file_and_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        inline_limit: 64 * 1024,
        ..StoreOptions::default()
    };
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let raw: Vec<u8> = (0..100_000u32).map(|i| (i % 13) as u8).collect();
    let d = NewDocument {
        payload: Bytes::from(big.clone()).into(),
        raw: Some(Bytes::from(raw.clone()).into()),
        ..doc("big", "orders")
    };
    {
        let store = Store::open_with(tmp.path(), options.clone()).unwrap();
        store.receive(d).await.unwrap();
        store.receive(doc("small", "orders")).await.unwrap();
    }
    // The payload and the raw request each went to a file; the small document to none.
    assert_eq!(payload_files(tmp.path()).len(), 2);
    let db_len = std::fs::metadata(tmp.path().join("store.sqlite"))
        .unwrap()
        .len()
        + std::fs::metadata(tmp.path().join("store.sqlite-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    assert!(
        db_len < 300_000,
        "payload went into the database ({db_len} bytes)"
    );

    let store = Store::open_with(tmp.path(), options).unwrap();
    assert_eq!(read(&store.get("big").await.unwrap().unwrap().payload), big);
    assert_eq!(read(&store.raw("big").await.unwrap().unwrap()), raw);
    let unfinished = store.unfinished().await.unwrap();
    assert_eq!(read(&unfinished[0].payload), big);
    assert_eq!(
        &read(&store.get("small").await.unwrap().unwrap().payload)[..],
        b"payload of small"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn orphan_payload_files_are_swept_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        inline_limit: 10,
        ..StoreOptions::default()
    };
    {
        let store = Store::open_with(tmp.path(), options.clone()).unwrap();
        store.receive(doc("kept", "orders")).await.unwrap();
    }
    let kept = payload_files(tmp.path());
    assert_eq!(kept.len(), 1);
    // What a crash between writing a file and committing its row leaves behind.
    std::fs::write(tmp.path().join("payloads/1-2-3.bin"), b"orphan").unwrap();
    let store = Store::open_with(tmp.path(), options).unwrap();
    assert_eq!(payload_files(tmp.path()), kept);
    assert_eq!(
        &read(&store.get("kept").await.unwrap().unwrap().payload)[..],
        b"payload of kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_open_of_the_same_data_dir_is_refused_until_the_first_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let clone = store.clone();
    assert!(matches!(
        Store::open(tmp.path()),
        Err(StoreError::Locked(_))
    ));
    drop(store);
    // A clone keeps the store open.
    assert!(matches!(
        Store::open(tmp.path()),
        Err(StoreError::Locked(_))
    ));
    drop(clone);
    Store::open(tmp.path()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn same_id_twice_is_refused_and_the_first_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    store.receive(doc("x", "orders")).await.unwrap();
    let again = NewDocument {
        payload: Bytes::from_static(b"other").into(),
        ..doc("x", "invoices")
    };
    assert!(matches!(
        store.receive(again).await,
        Err(StoreError::AlreadyExists(id)) if id == "x"
    ));
    let got = store.get("x").await.unwrap().unwrap();
    assert_eq!(
        (got.process.as_str(), &read(&got.payload)[..]),
        ("orders", &b"payload of x"[..])
    );
    // The refusal did not disturb later writes.
    store.receive(doc("y", "orders")).await.unwrap();
    assert_eq!(store.unfinished().await.unwrap().len(), 2);
}

#[test]
fn store_handles_can_be_shared_across_tasks_and_threads() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<Store>();
}
