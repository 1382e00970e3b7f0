//! `http_send` against a tiny HTTP server on 127.0.0.1 started by each test.

mod common;

use berth_process::{Document, RunOutcome, Runner};
use bytes::Bytes;
use common::process;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Accepts one connection, reads one request (headers and a Content-Length body), answers
/// with `status_line`, and returns the raw request text.
async fn one_shot_server(status_line: &'static str) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = socket.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    break;
                }
            }
        }
        let response =
            format!("HTTP/1.1 {status_line}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        socket.write_all(response.as_bytes()).await.unwrap();
        socket.shutdown().await.ok();
        String::from_utf8_lossy(&buf).to_string()
    });
    (format!("http://{addr}"), handle)
}

fn doc() -> Document {
    Document {
        id: "d1".into(),
        payload: Bytes::from_static(b"ISA*00*~").into(),
        properties: [("partner", "ACME")].into_iter().collect(),
    }
}

#[tokio::test]
async fn sends_payload_with_method_and_headers() {
    let (base, server) = one_shot_server("201 Created").await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!("name: p\nstart: {{connector: x}}\nsteps:\n  - http_send:\n      url: \"{base}/in/${{partner}}\"\n      method: PUT\n      headers: {{X-Partner: \"${{partner}}\"}}\n");
    let p = process(dir.path(), &text);
    let outcome = Runner::new(dir.path()).run(&p, doc()).await;
    let RunOutcome::Completed { properties, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(properties.get("http_send.status"), Some("201"));
    let request = server.await.unwrap();
    assert!(
        request.starts_with("PUT /in/ACME HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.to_ascii_lowercase().contains("x-partner: acme"),
        "{request}"
    );
    assert!(request.ends_with("\r\n\r\nISA*00*~"), "{request}");
}

#[tokio::test]
async fn non_2xx_fails_with_status() {
    let (base, server) = one_shot_server("503 Service Unavailable").await;
    let dir = tempfile::tempdir().unwrap();
    let p = process(
        dir.path(),
        &format!(
            "name: p\nstart: {{connector: x}}\nsteps:\n  - http_send: {{url: \"{base}/x\"}}\n"
        ),
    );
    let outcome = Runner::new(dir.path()).run(&p, doc()).await;
    let RunOutcome::Failed { step, reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(step, "steps[0] http_send");
    assert!(reason.contains("HTTP 503 Service Unavailable"), "{reason}");
    assert!(server.await.unwrap().starts_with("POST /x "));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (base, server) =
        one_shot_server("302 Found\r\nlocation: http://127.0.0.1:9/elsewhere").await;
    let dir = tempfile::tempdir().unwrap();
    let p = process(
        dir.path(),
        &format!(
            "name: p\nstart: {{connector: x}}\nsteps:\n  - http_send: {{url: \"{base}/x\"}}\n"
        ),
    );
    let outcome = Runner::new(dir.path()).run(&p, doc()).await;
    assert!(
        matches!(&outcome, RunOutcome::Failed { reason, .. } if reason.contains("HTTP 302")),
        "{outcome:?}"
    );
    server.await.unwrap();
}

#[tokio::test]
async fn transport_error_fails() {
    // Bind then drop, so the port is (almost certainly) closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let p = process(dir.path(), &format!("name: p\nstart: {{connector: x}}\nsteps:\n  - http_send: {{url: \"http://127.0.0.1:{port}/\", timeout_seconds: 5}}\n"));
    let outcome = Runner::new(dir.path()).run(&p, doc()).await;
    let RunOutcome::Failed { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.starts_with(&format!("POST http://127.0.0.1:{port}/: ")),
        "{reason}"
    );
}

#[tokio::test]
async fn rendered_bad_url_or_header_fails() {
    let dir = tempfile::tempdir().unwrap();
    let p = process(
        dir.path(),
        "name: p\nstart: {connector: x}\nsteps:\n  - http_send: {url: \"${u}\"}\n",
    );
    let mut d = doc();
    d.properties.set("u", "file:///etc/passwd");
    let outcome = Runner::new(dir.path()).run(&p, d).await;
    assert!(
        matches!(&outcome, RunOutcome::Failed { reason, .. } if reason.contains("not http")),
        "{outcome:?}"
    );

    let p = process(dir.path(), "name: p\nstart: {connector: x}\nsteps:\n  - http_send: {url: \"http://127.0.0.1:9/\", headers: {X-A: \"${v}\"}}\n");
    let mut d = doc();
    d.properties.set("v", "a\r\nInjected: yes");
    let outcome = Runner::new(dir.path()).run(&p, d).await;
    assert!(
        matches!(&outcome, RunOutcome::Failed { reason, .. } if reason.contains("not a valid header value")),
        "{outcome:?}"
    );
}
