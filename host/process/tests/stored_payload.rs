//! Steps on a payload the store keeps outside memory: `write_file` links or streams it, and
//! `http_send` and `return` stream it, while `route` and `set_properties` never open it.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use berth_process::{Document, RunOutcome, Runner};
use berth_store::{PayloadSource, StoreError, StoredPayload};
use common::process;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const START: &str = "name: p\nstart: {connector: x}\n";

/// A payload file as a store keeps it, counting how often it is opened. Without a path it
/// stands for a database's chunks, which can only be read through.
#[derive(Debug)]
struct Stored {
    file: PathBuf,
    len: u64,
    with_path: bool,
    opened: AtomicUsize,
}

impl PayloadSource for Stored {
    fn len(&self) -> u64 {
        self.len
    }

    fn open(&self) -> Result<Box<dyn Read + Send>, StoreError> {
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(Box::new(std::fs::File::open(&self.file).unwrap()))
    }

    fn path(&self) -> Option<&Path> {
        self.with_path.then_some(self.file.as_path())
    }
}

/// A payload of `len` patterned bytes in `dir`.
fn stored(dir: &Path, len: usize, with_path: bool) -> (Arc<Stored>, Vec<u8>) {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
    let file = dir.join("stored.bin");
    std::fs::write(&file, &bytes).unwrap();
    let source = Arc::new(Stored {
        file,
        len: len as u64,
        with_path,
        opened: AtomicUsize::new(0),
    });
    (source, bytes)
}

fn doc(source: &Arc<Stored>) -> Document {
    Document {
        id: "d1".into(),
        payload: StoredPayload::stored(source.clone()),
        properties: [("kind", "order")].into_iter().collect(),
    }
}

fn completed(outcome: RunOutcome) -> (Option<berth_process::Returned>, berth_process::Properties) {
    match outcome {
        RunOutcome::Completed {
            returned,
            properties,
        } => (returned, properties),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn write_file_places_a_stored_file_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let (source, bytes) = stored(dir.path(), 3 << 20, true);
    let steps = "steps:\n  - write_file: {directory: out, file_name: big.bin}\n";
    let p = process(dir.path(), &format!("{START}{steps}"));
    let (_, props) = completed(Runner::new(dir.path()).run(&p, doc(&source)).await);
    let written = PathBuf::from(props.get("file.path").unwrap());
    assert_eq!(std::fs::read(&written).unwrap(), bytes);
    // Cloned, linked or copied by the kernel: never read through the payload's reader.
    assert_eq!(source.opened.load(Ordering::Relaxed), 0);
    let names: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["big.bin"], "no temp files left");
}

#[tokio::test]
async fn write_file_streams_a_payload_that_is_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (source, bytes) = stored(dir.path(), (1 << 20) + 5, false);
    let steps = "steps:\n  - write_file: {directory: out, file_name: big.bin, if_exists: fail}\n";
    let p = process(dir.path(), &format!("{START}{steps}"));
    let (_, props) = completed(Runner::new(dir.path()).run(&p, doc(&source)).await);
    let written = PathBuf::from(props.get("file.path").unwrap());
    assert_eq!(std::fs::read(&written).unwrap(), bytes);
    assert_eq!(source.opened.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn route_and_set_properties_never_open_the_payload() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = stored(dir.path(), 1 << 20, true);
    let steps = "steps:\n  - set_properties: {seen: \"${kind}\"}\n  - route:\n      property: seen\n      cases:\n        - equals: order\n          steps:\n            - set_properties: {routed: \"yes\"}\n";
    let p = process(dir.path(), &format!("{START}{steps}"));
    let (_, props) = completed(Runner::new(dir.path()).run(&p, doc(&source)).await);
    assert_eq!(props.get("routed"), Some("yes"));
    assert_eq!(source.opened.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn return_leaves_a_stored_payload_for_its_caller_to_stream() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = stored(dir.path(), 1 << 20, true);
    let p = process(dir.path(), &format!("{START}steps:\n  - return:\n"));
    let (returned, _) = completed(Runner::new(dir.path()).run(&p, doc(&source)).await);
    let returned = returned.unwrap();
    assert!(returned.body_is_payload);
    assert!(returned.body.is_empty());
    assert_eq!(source.opened.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn http_send_streams_a_stored_payload_with_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let (source, bytes) = stored(dir.path(), (2 << 20) + 3, false);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        let (head_end, length) = loop {
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the request ended early");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse::<usize>().unwrap())
                    .expect("a content-length, not chunked");
                break (end + 4, length);
            }
        };
        while buf.len() < head_end + length {
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the body ended early");
            buf.extend_from_slice(&chunk[..n]);
        }
        let answer = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        socket.write_all(answer.as_bytes()).await.unwrap();
        buf.split_off(head_end)
    });
    let steps = format!("steps:\n  - http_send: {{url: \"http://{addr}/in\"}}\n");
    let p = process(dir.path(), &format!("{START}{steps}"));
    let (_, props) = completed(Runner::new(dir.path()).run(&p, doc(&source)).await);
    assert_eq!(props.get("http_send.status"), Some("200"));
    assert_eq!(server.await.unwrap(), bytes);
}
