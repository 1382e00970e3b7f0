//! The operator console in a real headless browser (Debian's chromium, driven by playwright-core
//! from `tests/console/drive.mjs`): an operator pauses a listener by clicking, partners then get
//! 503, the operator resumes it and finds a document received a moment earlier by its File Name,
//! downloads its payload, and sees a new document appear in the open list by itself.
//! `scripts/console-setup` (run by `scripts/test`) installs chromium and playwright-core.

#[path = "../console/browser.rs"]
mod browser;

use std::time::Duration;

use berth_e2e::{build_dir, client, free_port, Deployment};
use browser::{driver, node, run_with_timeout};

const ORDERS: &str = r#"
name: orders
start:
  connector: http-server-legacy
  connection: inbound
  operation:
    path: /orders
    methods: [POST]
steps:
  - write_file:
      directory: inbox
      file_name: "${file_name:-unnamed.edi}"
      if_exists: unique
  - return:
      status: 201
      body: "stored ${file_name:-unnamed.edi}"
"#;

const FILE_NAME: &str = "po-4711.edi";
const PAYLOAD: &str = "ISA*00*          *00*          *ZZ*ACME~\r\nST*850*4711~\r\n";

#[test]
fn an_operator_pauses_and_resumes_a_listener_and_finds_a_document_in_the_console() {
    let driver = driver("drive.mjs");
    let port = free_port();
    let admin_port = free_port();
    let deployment = Deployment::new();
    deployment
        .http_connection("inbound", port, "")
        .write("processes/orders.yaml", ORDERS)
        .write(
            "berth.yaml",
            &format!("admin:\n  address: 127.0.0.1\n  port: {admin_port}\n"),
        );
    let berth = deployment.start();
    let http = client();
    let listener_url = format!("http://127.0.0.1:{port}/orders");
    let admin_url = format!("http://127.0.0.1:{admin_port}");

    let sent = http
        .post(&listener_url)
        .header("content-type", "application/edi-x12")
        .header(
            "content-disposition",
            format!("attachment; filename=\"{FILE_NAME}\""),
        )
        .body(PAYLOAD)
        .send()
        .expect("send the order");
    assert_eq!(sent.status().as_u16(), 201, "{}", berth.log());
    assert!(deployment.path().join("inbox").join(FILE_NAME).exists());

    // The page is served without the token; the API is not.
    let page = http.get(format!("{admin_url}/")).send().expect("GET /");
    assert_eq!(page.status().as_u16(), 200, "{}", berth.log());
    assert!(page.text().unwrap().contains("console.js"));
    let refused = http
        .get(format!("{admin_url}/api/listeners"))
        .send()
        .expect("GET /api/listeners without a token");
    assert_eq!(refused.status().as_u16(), 401);

    let token_file = deployment.path().join("data/admin.token");
    let token = std::fs::read_to_string(&token_file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", token_file.display()));
    let screenshot = build_dir()
        .parent()
        .expect("the target folder")
        .join("console.png");

    let mut command = node(&driver);
    command
        .args([&admin_url, token.trim(), &listener_url, "orders", FILE_NAME])
        .env("BERTH_CONSOLE_SCREENSHOT", &screenshot)
        .env("BERTH_CONSOLE_PAYLOAD", PAYLOAD);
    let (status, output) = run_with_timeout(command, Duration::from_secs(120));
    assert_eq!(
        status,
        Some(0),
        "the console test failed (screenshot: {}):\n{output}\nberth's log:\n{}",
        screenshot.display(),
        berth.log()
    );
    println!("{output}");
    assert!(output.contains("all checks passed"), "{output}");
    assert!(
        screenshot.exists(),
        "no screenshot at {}",
        screenshot.display()
    );
}
