//! Micro benchmark of the store's write path: 64 concurrent tasks receive small documents,
//! first with group commit (the default), then with one commit (one fsync) per write, in the
//! same run and on the same disk, and print documents per second for each.
//!
//! `cargo run --release -p berth-store --example store_bench -- [DOCS] [DIR]`
//! DOCS (default 20000) are received with group commit; a tenth of them (at least 500) with one
//! commit per write, which is slow by design. DIR (default: the system temp dir) must be on the
//! disk to measure: a tmpfs makes fsync free.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_store::{Answer, Finish, NewDocument, Received, Store, StoreOptions};
use bytes::Bytes;

const TASKS: usize = 64;

#[derive(Clone, Copy)]
enum Work {
    /// receive only: what happens before the partner's answer.
    Receive,
    /// receive, finish, record_answer: the three writes of a document's life in the host.
    Lifecycle,
}

fn document(i: usize, payload: &Bytes) -> NewDocument {
    NewDocument {
        id: format!("doc-{i:08}"),
        process: "orders".into(),
        payload: payload.clone().into(),
        properties: vec![
            ("as2.from".into(), "PARTNER-A".into()),
            ("as2.to".into(), "BERTH".into()),
            ("as2.message_id".into(), format!("<{i}@partner-a.example>")),
            ("as2.subject".into(), "orders".into()),
            ("file.name".into(), format!("order-{i}.edi")),
            ("mime.type".into(), "application/edi-x12".into()),
        ],
        raw: None,
        duplicate_key: Some(format!("PARTNER-A|BERTH|<{i}@partner-a.example>")),
        duplicate_window: 10_000,
        unique_key: None,
    }
}

async fn run(store: Store, docs: usize, work: Work) -> Duration {
    let payload = Bytes::from(vec![b'x'; 1024]);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (store, payload) = (store.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            for i in (t..docs).step_by(TASKS) {
                let doc = document(i, &payload);
                let id = doc.id.clone();
                let received = store.receive(doc).await.expect("receive");
                assert_eq!(received, Received::New);
                if let Work::Lifecycle = work {
                    store.finish(&id, Finish::Processed).await.expect("finish");
                    let answer = Answer {
                        summary: "200".into(),
                        bytes: b"HTTP/1.1 200 OK".to_vec(),
                    };
                    store.record_answer(&id, answer).await.expect("answer");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    start.elapsed()
}

fn measure(
    rt: &tokio::runtime::Runtime,
    base: &std::path::Path,
    name: &str,
    max_batch: usize,
    docs: usize,
    work: Work,
) -> f64 {
    let dir = tempfile::tempdir_in(base).expect("temp dir");
    let options = StoreOptions {
        max_batch,
        ..StoreOptions::default()
    };
    let store = Store::open_with(dir.path(), options).expect("open store");
    let elapsed = rt.block_on(run(store, docs, work));
    let rate = docs as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<28} {docs:>7} docs in {:>8.3} s: {rate:>9.0} docs/s, {:>7.1} us/doc",
        elapsed.as_secs_f64(),
        1e6 / rate
    );
    rate
}

fn main() {
    let mut args = std::env::args().skip(1);
    let docs: usize = args
        .next()
        .map(|a| a.parse().expect("DOCS is a number"))
        .unwrap_or(20_000);
    let base: PathBuf = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let single = (docs / 10).max(500);
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime"),
    );
    println!(
        "{TASKS} concurrent tasks, 1 KiB payload, 6 properties, duplicate check on; dir {}",
        base.display()
    );
    let mut ratios = Vec::new();
    for (label, work) in [
        ("receive", Work::Receive),
        ("receive+finish+answer", Work::Lifecycle),
    ] {
        let grouped = measure(
            &rt,
            &base,
            &format!("{label}, grouped"),
            StoreOptions::default().max_batch,
            docs,
            work,
        );
        let each = measure(
            &rt,
            &base,
            &format!("{label}, per document"),
            1,
            single,
            work,
        );
        ratios.push((label, grouped / each));
    }
    for (label, ratio) in ratios {
        println!("{label}: group commit is {ratio:.1}x the rate of one commit per write");
    }
}
