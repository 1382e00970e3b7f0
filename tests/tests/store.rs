//! The message store through the real binary: documents can be found, shown and retried, and a
//! kill in the middle of traffic loses nothing that was acknowledged.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_e2e::{client, first_listed_id, free_port, Deployment};

fn process(name_template: &str) -> String {
    format!(
        "name: inbox\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation: {{ path: /in }}\nsteps:\n  - write_file: {{ directory: inbox, file_name: \"{name_template}\" }}\n  - return: {{ status: 200, body: \"stored\" }}\n"
    )
}

#[test]
fn documents_are_listed_shown_and_failed_ones_retried() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment
        .http_connection("inbound", port, "")
        .write("processes/inbox.yaml", &process("${http.query.name}"));
    let berth = deployment.start();
    let http = client();
    for (query, expected) in [("?name=a.edi", 200), ("?name=b.edi", 200), ("", 500)] {
        let response = http
            .post(format!("http://127.0.0.1:{port}/in{query}"))
            .header("content-disposition", "attachment; filename=\"po-77.edi\"")
            .body(format!("payload{query}"))
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), expected);
    }
    // Listing works beside the running host; retrying needs the store to itself.
    let list = deployment.berth_documents(&["list"]);
    assert!(list.contains("3 documents"), "{list}");
    let refused = deployment.berth_documents_fails(&["retry", "--failed"]);
    assert!(refused.contains("berth is running"), "{refused}");
    assert!(berth.terminate(Duration::from_secs(10)).success());

    let failed = deployment.berth_documents(&["list", "--state", "failed"]);
    assert!(failed.contains("1 document\n"), "{failed}");
    assert!(
        failed.contains("http.query.name"),
        "the error names the property: {failed}"
    );
    let by_name = deployment.berth_documents(&["list", "--property", "http.query.name=b.edi"]);
    assert!(by_name.contains("1 document\n"), "{by_name}");
    assert!(by_name.contains("file_name=po-77.edi"), "{by_name}");
    assert!(by_name.contains("answer: 200"), "{by_name}");

    let id = first_listed_id(&by_name);
    let shown = deployment.berth_documents(&["show", id]);
    assert!(shown.contains("state      processed"), "{shown}");
    assert!(shown.contains("http.query.name = b.edi"), "{shown}");
    assert!(shown.contains("answer     200"), "{shown}");
    assert!(shown.contains("| stored"), "{shown}");

    // Fix the process, then retry the failed document with it.
    deployment.write(
        "processes/inbox.yaml",
        &process("${http.query.name:-retried.edi}"),
    );
    let retried = deployment.berth_documents(&["retry", "--failed"]);
    assert!(retried.contains("1 processed, 0 failed"), "{retried}");
    assert_eq!(
        std::fs::read(deployment.path().join("inbox/retried.edi")).unwrap(),
        b"payload"
    );
    let failed = deployment.berth_documents(&["list", "--state", "failed"]);
    assert!(failed.contains("0 documents"), "{failed}");
}

/// Several partners send; berth is killed with SIGKILL mid-stream and restarted. Every request
/// that got a 2xx must be in the store and must have had its steps run (its file exists).
#[test]
fn a_kill_in_the_middle_of_traffic_loses_no_acknowledged_document() {
    const CLIENTS: usize = 8;
    const PER_CLIENT: usize = 1000;
    let port = free_port();
    let deployment = Deployment::new();
    deployment
        .http_connection("inbound", port, "")
        .write("processes/inbox.yaml", &process("${http.query.n}"));
    let berth = deployment.start();

    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let sent = Arc::new(Mutex::new(0usize));
    let deadline = Instant::now() + Duration::from_secs(30);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let acknowledged = Arc::clone(&acknowledged);
            let sent = Arc::clone(&sent);
            std::thread::spawn(move || {
                let http = client();
                for i in 0..PER_CLIENT {
                    if Instant::now() > deadline {
                        break;
                    }
                    let n = format!("doc-{c}-{i}");
                    *sent.lock().unwrap() += 1;
                    let result = http
                        .post(format!("http://127.0.0.1:{port}/in?n={n}"))
                        .header("content-disposition", format!("attachment; filename={n}"))
                        .body(n.clone())
                        .send();
                    match result {
                        Ok(r) if r.status().is_success() => {
                            acknowledged.lock().unwrap().insert(n);
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        // berth was killed: this client is done.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    // Kill once a good share of the traffic has been acknowledged.
    while acknowledged.lock().unwrap().len() < CLIENTS * PER_CLIENT / 2 {
        assert!(Instant::now() < deadline, "traffic too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    berth.kill();
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let sent = *sent.lock().unwrap();

    // Restart: documents left unfinished run again.
    let berth = deployment.start();
    std::thread::sleep(Duration::from_millis(500));
    assert!(berth.terminate(Duration::from_secs(20)).success());

    let listing = deployment.berth_documents(&["list", "--limit", "0"]);
    let stored: BTreeSet<String> = listing
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("file_name="))
        .map(str::to_string)
        .collect();
    let missing_in_store: Vec<_> = acknowledged.difference(&stored).collect();
    let missing_files: Vec<_> = acknowledged
        .iter()
        .filter(|n| !deployment.path().join("inbox").join(n).exists())
        .collect();
    println!(
        "sent {sent}, acknowledged {}, stored {}, acknowledged but not stored {}, acknowledged without a file {}",
        acknowledged.len(),
        stored.len(),
        missing_in_store.len(),
        missing_files.len()
    );
    assert!(missing_in_store.is_empty(), "{missing_in_store:?}");
    assert!(missing_files.is_empty(), "{missing_files:?}");
    assert!(acknowledged.len() >= CLIENTS * PER_CLIENT / 2);
}

#[test]
fn retention_purges_old_documents_but_keeps_failed_ones() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment
        .http_connection("inbound", port, "")
        .write("processes/inbox.yaml", &process("${http.query.name}"));
    let berth = deployment.start();
    let http = client();
    for query in ["?name=kept-until-purged.edi", ""] {
        let _ = http
            .post(format!("http://127.0.0.1:{port}/in{query}"))
            .body("payload")
            .send()
            .unwrap();
    }
    assert!(berth.terminate(Duration::from_secs(10)).success());
    assert!(deployment
        .berth_documents(&["list"])
        .contains("2 documents"));

    // Retention of zero days: everything already received is old enough.
    deployment.write("berth.yaml", "store:\n  retention_days: 0\n");
    let berth = deployment.start();
    berth.wait_for_log("purged old documents", Duration::from_secs(10));
    assert!(berth.terminate(Duration::from_secs(10)).success());
    let left = deployment.berth_documents(&["list"]);
    assert!(left.contains("1 document\n"), "{left}");
    assert!(
        left.contains("failed"),
        "the failed document is kept: {left}"
    );
}
