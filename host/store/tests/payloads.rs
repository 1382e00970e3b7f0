//! Payloads and raw requests that need not fit in memory: given as files, handed back as
//! handles that read them; small ones keep their in-memory path.

mod common;

use std::io::Read;

use berth_store::{
    BackendConfig, NewDocument, Payload, Store, StoreError, StoreOptions, StoreReader,
};
use bytes::Bytes;
use common::{doc, keyed, payload_files};

fn content(len: u32, modulus: u32) -> Vec<u8> {
    (0..len).map(|i| (i % modulus) as u8).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payload_file_is_adopted_and_read_back_as_a_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let big = content(1_000_000, 251);
    let file = spool.join("payload.bin");
    std::fs::write(&file, &big).unwrap();
    let config = BackendConfig::sqlite(tmp.path().join("data"));
    let store = Store::open_backend(&config, StoreOptions::default()).unwrap();
    let d = NewDocument {
        payload: Payload::File(file.clone()),
        ..doc("big", "orders")
    };
    store.receive(d).await.unwrap();
    // The caller's name goes; the store's link stays.
    std::fs::remove_file(&file).unwrap();
    assert_eq!(payload_files(&tmp.path().join("data")).len(), 1);

    let got = store.get("big").await.unwrap().unwrap();
    assert_eq!(got.payload.len(), big.len() as u64);
    assert!(
        got.payload.in_memory().is_none(),
        "a large payload is not loaded"
    );
    let path = got.payload.path().expect("a local file").to_path_buf();
    assert!(path.starts_with(tmp.path().join("data").join("payloads")));
    let mut streamed = Vec::new();
    let mut reader = got.payload.open().unwrap();
    let mut chunk = [0u8; 4096];
    loop {
        let n = reader.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        streamed.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(streamed, big);
    assert_eq!(got.payload.load().await.unwrap(), big);
    let recovered = store.unfinished().await.unwrap();
    assert_eq!(recovered[0].payload.path(), Some(path.as_path()));

    // Purged with its document.
    drop(store);
    let store = Store::open_backend(&config, StoreOptions::default()).unwrap();
    store
        .finish("big", berth_store::Finish::Processed)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        store.purge(std::time::Duration::ZERO, false).await.unwrap(),
        1
    );
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn small_payloads_stay_in_memory_and_a_resend_keeps_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    store.receive(keyed("a", "as2", "key", 10)).await.unwrap();
    let got = store.get("a").await.unwrap().unwrap();
    assert_eq!(
        got.payload.in_memory().map(|b| &b[..]),
        Some(&b"payload of a"[..])
    );
    assert_eq!(got.payload.path(), None);

    // A resend given as a file: recorded as a duplicate, its adopted file removed again.
    let file = tmp.path().join("resend.bin");
    std::fs::write(&file, content(10, 7)).unwrap();
    let resend = NewDocument {
        payload: Payload::File(file),
        ..keyed("a2", "as2", "key", 10)
    };
    assert!(matches!(
        store.receive(resend).await.unwrap(),
        berth_store::Received::Duplicate { .. }
    ));
    assert!(payload_files(tmp.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_read_only_view_hands_back_payload_and_raw_handles_beside_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        inline_limit: 1024,
        ..StoreOptions::default()
    };
    let store = Store::open_with(tmp.path(), options).unwrap();
    let raw = content(50_000, 13);
    let d = NewDocument {
        payload: Bytes::from(content(5_000, 11)).into(),
        raw: Some(Bytes::from(raw.clone()).into()),
        ..doc("x", "orders")
    };
    store.receive(d).await.unwrap();

    // Opened while the host holds the store: no lock taken.
    let reader = StoreReader::open(tmp.path()).unwrap();
    let got = reader.get("x").await.unwrap().unwrap();
    assert_eq!(got.payload.len(), 5_000);
    assert!(got.payload.path().is_some());
    assert_eq!(got.payload.bytes().unwrap(), content(5_000, 11));
    let stored_raw = reader.raw("x").await.unwrap().unwrap();
    assert_eq!(stored_raw.len(), raw.len() as u64);
    assert_eq!(stored_raw.load().await.unwrap(), raw);
    assert!(matches!(
        reader.raw("nope").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(reader.query(&Default::default()).await.unwrap().len(), 1);
}

#[test]
fn a_database_error_keeps_its_message_and_source_without_naming_the_driver() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("store.sqlite"), vec![b'x'; 8192]).unwrap();
    let Err(e) = Store::open(tmp.path()) else {
        panic!("a file that is not a database opened as a store");
    };
    assert!(matches!(e, StoreError::Db(_)), "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with("message store database: "), "{text}");
    assert!(text.contains("not a database"), "{text}");
    assert!(std::error::Error::source(&e).is_some());
    // Clone, so that one failed group commit reaches every caller of its batch.
    assert_eq!(e.clone().to_string(), text);
}
