//! SIGKILL in the middle of a stream of receipts: every document whose `receive` had returned
//! (and so could have been acknowledged to a partner) is in the store after reopening.
//!
//! The test runs itself again as a child process (this test binary, filtered to
//! `crash_child`, with the data dir in an environment variable), reads the ids the child prints
//! after each `receive`, `finish` and `conclude` returns, and kills it with SIGKILL part-way.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_store::{Answer, Finish, NewDocument, State, Store};
use bytes::Bytes;

const DIR_VAR: &str = "BERTH_STORE_CRASH_DIR";
/// How many acknowledged receipts the parent waits for before it kills the child.
const KILL_AFTER: usize = 3000;

fn payload_of(id: &str) -> Bytes {
    // Every third document is large enough to go to a payload file.
    let n = if id.ends_with(['0', '3', '6', '9']) {
        300_000
    } else {
        200
    };
    Bytes::from(
        id.as_bytes()
            .iter()
            .copied()
            .cycle()
            .take(n)
            .collect::<Vec<u8>>(),
    )
}

fn answer_of(id: &str) -> Vec<u8> {
    format!("MDN for {id}").into_bytes()
}

/// The child: receives documents from 16 tasks until it is killed (or, should the parent fail
/// to kill it, for at most a minute), printing each id once its receive, finish or conclude
/// returned.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return; // run as an ordinary test: nothing to do
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let store = Store::open(std::path::Path::new(&dir)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut tasks = Vec::new();
        for t in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let id = format!("t{t}-{i}");
                    let doc = NewDocument {
                        properties: vec![("task".into(), t.to_string())],
                        payload: payload_of(&id).into(),
                        ..common::doc(&id, "crash")
                    };
                    store.receive(doc).await.unwrap();
                    println!("received {id}");
                    if i % 4 == 0 {
                        store.finish(&id, Finish::Processed).await.unwrap();
                        println!("finished {id}");
                    } else if i % 4 == 1 {
                        let answer = Answer {
                            summary: "processed".into(),
                            bytes: answer_of(&id),
                        };
                        store
                            .conclude(&id, Finish::Processed, Some(answer))
                            .await
                            .unwrap();
                        println!("concluded {id}");
                    }
                    i += 1;
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

// The child's output is read with blocking calls; a multi-threaded runtime keeps the store's
// blocking reads afterwards free of them.
#[tokio::test(flavor = "multi_thread")]
async fn every_acknowledged_receipt_survives_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(DIR_VAR, tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut received = HashSet::new();
    let mut finished = HashSet::new();
    let mut concluded = HashSet::new();
    let mut killed = false;
    // Lines printed before the kill are still in the pipe after it: read to the end.
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(id) = line.strip_prefix("received ") {
            received.insert(id.to_string());
        } else if let Some(id) = line.strip_prefix("finished ") {
            finished.insert(id.to_string());
        } else if let Some(id) = line.strip_prefix("concluded ") {
            finished.insert(id.to_string());
            concluded.insert(id.to_string());
        }
        if !killed && received.len() >= KILL_AFTER {
            child.kill().unwrap(); // SIGKILL
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        killed,
        "the child stopped by itself ({status}) after {} receipts",
        received.len()
    );

    let store = Store::open(tmp.path()).unwrap();
    let unfinished: HashSet<String> = store
        .unfinished()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    let mut lost = Vec::new();
    for id in &received {
        match store.get(id).await.unwrap() {
            None => lost.push(id.clone()),
            Some(doc) => {
                assert_eq!(
                    common::read(&doc.payload),
                    payload_of(id),
                    "payload of {id}"
                );
                assert_eq!(doc.properties.len(), 1, "properties of {id}");
                if finished.contains(id) {
                    assert_eq!(doc.state, State::Processed, "{id} was finished");
                    if concluded.contains(id) {
                        // The answer was committed with the outcome.
                        let answer = doc.answer.as_ref().map(|a| a.bytes.clone());
                        assert_eq!(answer, Some(answer_of(id)), "answer of {id}");
                    }
                } else {
                    // Received but not known to be finished: either is allowed, and
                    // recovery must hand it back unless its finish did commit.
                    assert!(
                        unfinished.contains(id) || doc.state == State::Processed,
                        "{id} is {} and not handed back for recovery",
                        doc.state
                    );
                }
            }
        }
    }
    let stored = store
        .query(&berth_store::Query::default())
        .await
        .unwrap()
        .len();
    println!(
        "acknowledged {} receipts and {} finishes ({} with their answer) before SIGKILL; {} \
         documents stored, {} unfinished to recover, {} lost",
        received.len(),
        finished.len(),
        concluded.len(),
        stored,
        unfinished.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost acknowledged documents: {lost:?}");
    // Every finished one is out of the recovery list, every other stored one is in it.
    assert!(finished.iter().all(|id| !unfinished.contains(id)));
}
