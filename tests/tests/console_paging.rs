//! The console's document list pages through 250 documents in a real headless browser
//! (tests/console/paging.mjs), by keyboard alone, through the real binary: each of the 250 is
//! shown exactly once, while a partner sends more that appear on top and shift nothing. Saves
//! screenshots of the end of the list at 1280 and 390 px under target/console-paging/.

#[path = "../console/browser.rs"]
mod browser;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use berth_e2e::{build_dir, client, free_port, Deployment};
use browser::{driver, node, run_with_timeout};
use serde_json::Value;

const ORDERS: &str = "name: orders\nstart:\n  connector: http-server-legacy\n  \
    connection: inbound\n  operation: { path: /orders, methods: [POST] }\n\
    steps:\n  - return: { status: 200, body: ok }\n";

const DOCUMENTS: usize = 250;

#[test]
fn the_console_pages_through_250_documents_by_keyboard_showing_each_once() {
    let driver = driver("paging.mjs");
    let (port, admin_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    deployment
        .http_connection("inbound", port, "")
        .write("processes/orders.yaml", ORDERS)
        .write(
            "berth.yaml",
            &format!("admin:\n  address: 127.0.0.1\n  port: {admin_port}\n"),
        );
    let berth = deployment.start();
    let listener_url = format!("http://127.0.0.1:{port}/orders");
    let http = client();
    for i in 0..DOCUMENTS {
        let response = http
            .post(&listener_url)
            .header(
                "content-disposition",
                format!("attachment; filename=\"doc-{i:03}.edi\""),
            )
            .body(format!("document {i}"))
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{}", berth.log());
    }
    let token = std::fs::read_to_string(deployment.path().join("data/admin.token")).unwrap();
    let token = token.trim();
    let admin_url = format!("http://127.0.0.1:{admin_port}");

    // The store's ids of the 250, by File name, to compare the browser's rows with.
    let listed = http
        .get(format!("{admin_url}/api/documents?limit=1000"))
        .bearer_auth(token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let sent: BTreeMap<String, String> = listed["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let name = d["properties"]["file_name"].as_str().unwrap().to_string();
            (d["id"].as_str().unwrap().to_string(), name)
        })
        .collect();
    assert_eq!(sent.len(), DOCUMENTS);

    let out = build_dir()
        .parent()
        .expect("the target folder")
        .join("console-paging");
    let _ = std::fs::remove_dir_all(&out);
    let mut command = node(&driver);
    command.args([&admin_url, token, &listener_url]).arg(&out);
    let (status, output) = run_with_timeout(command, Duration::from_secs(150));
    assert_eq!(
        status,
        Some(0),
        "the console paging test failed (screenshots in {}):\n{output}\nberth's log:\n{}",
        out.display(),
        berth.log()
    );
    println!("{output}");
    let shown: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("result.json")).unwrap()).unwrap();
    let rows = shown["rows"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a row shown twice: {ids:?}");

    // Each of the 250 exactly once, under its own File name; the late ones on top, once each.
    for (id, name) in &sent {
        let found: Vec<&Value> = rows.iter().filter(|r| r["id"] == id.as_str()).collect();
        assert_eq!(found.len(), 1, "{id} ({name}) shown {} times", found.len());
        assert_eq!(found[0]["file_name"], name.as_str());
    }
    let late: Vec<&str> = shown["late"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(rows.len(), DOCUMENTS + late.len(), "{ids:?}");
    let on_top: BTreeSet<&str> = rows[..late.len()]
        .iter()
        .map(|r| r["file_name"].as_str().unwrap())
        .collect();
    assert_eq!(on_top, late.iter().copied().collect());
    // Below them, newest first: the 250 in the order sent, backwards.
    let names: Vec<&str> = rows[late.len()..]
        .iter()
        .map(|r| r["file_name"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..DOCUMENTS)
        .rev()
        .map(|i| format!("doc-{i:03}.edi"))
        .collect();
    assert_eq!(names, expected);
    assert_eq!(shown["pages"], 5, "250 documents at 50 a page");
    for width in ["1280", "390"] {
        let file = out.join(format!("documents-{width}.png"));
        assert!(file.exists(), "no screenshot {}", file.display());
    }
}
