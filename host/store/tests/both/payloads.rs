//! Contents of any size: small ones in memory, large ones (a multi-MiB file) streamed in and
//! read back as a stream, never whole.

use std::io::Read;

use berth_store::{NewDocument, Payload, StoreOptions};
use bytes::Bytes;

use crate::common::{doc, read};
use crate::fixture::{Fixture, Kind};

crate::both!(
    large_contents_stream,
    small_contents_stay_in_memory,
    a_raw_request_is_its_head_then_its_spooled_body
);

/// 5.5 MiB that no chunk boundary can hide a misplaced byte in.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + i / 4099) % 251) as u8).collect()
}

/// Reads in small pieces, as a step copying to a file would.
fn stream(payload: &berth_store::StoredPayload) -> Vec<u8> {
    let mut reader = payload.open().unwrap();
    let mut out = Vec::new();
    let mut piece = [0u8; 65536];
    loop {
        let n = reader.read(&mut piece).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&piece[..n]);
    }
}

async fn large_contents_stream(f: &Fixture) {
    let big = content(5 * 1024 * 1024 + 512 * 1024 + 3);
    let raw = content(3 * 1024 * 1024);
    let spool = f.scratch().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let (payload_file, raw_file) = (spool.join("payload"), spool.join("raw"));
    std::fs::write(&payload_file, &big).unwrap();
    std::fs::write(&raw_file, &raw).unwrap();
    let store = f.open();
    let d = NewDocument {
        payload: Payload::File(payload_file.clone()),
        raw: Some(Payload::File(raw_file.clone())),
        ..doc("big", "orders")
    };
    store.receive(d).await.unwrap();
    // The caller may remove its files once receive returned.
    std::fs::remove_file(&payload_file).unwrap();
    std::fs::remove_file(&raw_file).unwrap();
    // Large bytes in memory are stored the same way.
    let from_memory = Bytes::from(content(2 * 1024 * 1024 + 1));
    let d = NewDocument {
        payload: Payload::Bytes(from_memory.clone()),
        ..doc("big-bytes", "orders")
    };
    store.receive(d).await.unwrap();

    let got = store.get("big").await.unwrap().unwrap();
    assert_eq!(got.payload.len(), big.len() as u64);
    assert!(
        got.payload.in_memory().is_none(),
        "a large payload is not loaded"
    );
    let streamed = tokio::task::spawn_blocking(move || stream(&got.payload))
        .await
        .unwrap();
    assert!(streamed == big, "the payload comes back byte for byte");
    let stored_raw = store.raw("big").await.unwrap().expect("a raw request");
    assert_eq!(stored_raw.len(), raw.len() as u64);
    assert!(stored_raw.load().await.unwrap() == raw);
    let got = store.get("big-bytes").await.unwrap().unwrap();
    assert!(got.payload.in_memory().is_none());
    assert!(got.payload.load().await.unwrap() == from_memory);
    // Recovery hands back the same handles; the read-only view reads them too.
    assert_eq!(
        store.unfinished().await.unwrap()[0].payload.len(),
        big.len() as u64
    );
    let viewed = f.reader().get("big").await.unwrap().unwrap();
    assert!(viewed.payload.load().await.unwrap() == big);

    if f.kind == Kind::Postgres {
        // 6 chunks of payload, 3 of raw request, 3 of the bytes; none larger than 1 MiB.
        let chunks = f.sql("SELECT COUNT(*), MAX(length(bytes)) FROM payload_chunks");
        assert_eq!(chunks, "12|1048576");
    }
    for id in ["big", "big-bytes"] {
        store
            .finish(id, berth_store::Finish::Processed)
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        store.purge(std::time::Duration::ZERO, false).await.unwrap(),
        2
    );
    if f.kind == Kind::Postgres {
        assert_eq!(f.sql("SELECT COUNT(*) FROM payload_chunks"), "0");
    }
}

async fn small_contents_stay_in_memory(f: &Fixture) {
    let store = f.open_with(StoreOptions {
        inline_limit: 1024,
        ..StoreOptions::default()
    });
    let small = spool_file(f, "small", &content(1000));
    let d = NewDocument {
        payload: Payload::Bytes(Bytes::from(content(1024))),
        raw: Some(Payload::Bytes(Bytes::from_static(
            b"POST / HTTP/1.1\r\n\r\n",
        ))),
        ..doc("s", "orders")
    };
    store.receive(d).await.unwrap();
    let got = store.get("s").await.unwrap().unwrap();
    assert_eq!(got.payload.in_memory().map(|b| b.len()), Some(1024));
    assert_eq!(
        read(&store.raw("s").await.unwrap().unwrap()),
        "POST / HTTP/1.1\r\n\r\n"
    );
    let d = NewDocument {
        payload: Payload::File(small),
        ..doc("f", "orders")
    };
    store.receive(d).await.unwrap();
    let got = store.get("f").await.unwrap().unwrap();
    assert_eq!(read(&got.payload), content(1000));
}

fn spool_file(f: &Fixture, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = f.scratch().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A raw request given as the head the host holds and the body it spooled reads back as one,
/// the body taken in without a copy into memory; small, it is kept in the row like any other.
async fn a_raw_request_is_its_head_then_its_spooled_body(f: &Fixture) {
    let store = f.open();
    let head = Bytes::from_static(b"POST /as2 HTTP/1.1\r\ncontent-length: 3145731\r\n\r\n");
    let body = content(3 * 1024 * 1024 + 3);
    let spooled = spool_file(f, "body", &body);
    let d = NewDocument {
        raw: Some(Payload::HeadAndFile {
            head: head.clone(),
            file: spooled.clone(),
        }),
        ..doc("large-raw", "orders")
    };
    store.receive(d).await.unwrap();
    std::fs::remove_file(&spooled).unwrap();
    let raw = store
        .raw("large-raw")
        .await
        .unwrap()
        .expect("a raw request");
    assert_eq!(raw.len(), (head.len() + body.len()) as u64);
    assert!(
        raw.in_memory().is_none(),
        "a large raw request is not loaded"
    );
    let whole = tokio::task::spawn_blocking(move || stream(&raw))
        .await
        .unwrap();
    assert!(whole[..head.len()] == head[..], "the head comes first");
    assert!(
        whole[head.len()..] == body[..],
        "then the body, byte for byte"
    );
    let viewed = f.reader().raw("large-raw").await.unwrap().unwrap();
    assert_eq!(viewed.len(), (head.len() + body.len()) as u64);
    if f.kind == Kind::Postgres {
        // The head's chunk, then the body's four.
        assert_eq!(f.sql("SELECT COUNT(*) FROM payload_chunks"), "5");
    }

    let small = spool_file(f, "small-body", b"tiny");
    let d = NewDocument {
        raw: Some(Payload::HeadAndFile {
            head: Bytes::from_static(b"POST / HTTP/1.1\r\n\r\n"),
            file: small,
        }),
        ..doc("small-raw", "orders")
    };
    store.receive(d).await.unwrap();
    assert_eq!(
        read(&store.raw("small-raw").await.unwrap().unwrap()),
        "POST / HTTP/1.1\r\n\r\ntiny"
    );

    for id in ["large-raw", "small-raw"] {
        store
            .finish(id, berth_store::Finish::Processed)
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        store.purge(std::time::Duration::ZERO, false).await.unwrap(),
        2
    );
    if f.kind == Kind::Postgres {
        assert_eq!(f.sql("SELECT COUNT(*) FROM payload_chunks"), "0");
    } else {
        let left = std::fs::read_dir(f.scratch().join("data/payloads"));
        let left: Vec<_> = left.into_iter().flatten().flatten().collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
