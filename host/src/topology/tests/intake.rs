//! Each apply tells the intake which processes run now: a document retried after a redeploy runs
//! the new version of its process, and one whose process was removed is left failed.

use std::time::Instant;

use berth_store::{Query, State};

use super::{post, Live, PATIENCE};
use crate::deploy::testing::{free_port, Folder};

/// Wait until the store records `count` failed documents (the outcome is recorded just after
/// the answer goes out).
async fn failed(live: &Live, count: usize) {
    let store = live.intake.store().expect("the store is on");
    let query = Query {
        state: Some(State::Failed),
        ..Query::default()
    };
    let deadline = Instant::now() + PATIENCE;
    while store.query(&query).await.unwrap().len() < count {
        assert!(
            Instant::now() < deadline,
            "{count} failed documents recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Files the document in `folder`, then answers 200.
fn filing_in(folder: &str) -> String {
    format!(
        "  - write_file:\n      directory: {folder}\n      file_name: order.txt\n  - return:\n      \
         status: 200\n      body: filed\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_redeploy_runs_the_deployed_version() {
    let port = free_port();
    let folder = Folder::new();
    // A file where the folder should be: the first version fails.
    folder
        .write("blocked", "in the way")
        .http_connection("inbound", port)
        .http_process("orders", "inbound", "/orders", &filing_in("blocked"));
    let live = Live::start(folder).await;
    let (status, _) = post(port, "/orders", "order 1").await.unwrap();
    assert_eq!(status, 500, "the first version fails");
    failed(&live, 1).await;

    live.folder
        .http_process("orders", "inbound", "/orders", &filing_in("filed"));
    live.apply().await;
    let report = live.intake.retry(&[], true).await.unwrap();

    assert!(
        report.ends_with(": processed\n1 processed, 0 failed\n"),
        "{report}"
    );
    let filed = std::fs::read(live.folder.path().join("filed/order.txt")).unwrap();
    assert_eq!(filed, b"order 1");

    // Failing again, then removed: the intake no longer knows the process.
    live.folder
        .http_process("orders", "inbound", "/orders", &filing_in("blocked"));
    live.apply().await;
    assert_eq!(post(port, "/orders", "order 2").await.unwrap().0, 500);
    failed(&live, 1).await;
    live.folder.remove("processes/orders.yaml");
    live.apply().await;
    let report = live.intake.retry(&[], true).await.unwrap();

    assert!(
        report
            .ends_with(": process `orders` is not deployed; left failed\n0 processed, 1 failed\n"),
        "{report}"
    );
}
