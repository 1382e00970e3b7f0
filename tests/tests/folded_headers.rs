//! Request heads with obsolete line folding (RFC 9112 5.2), as older Java AS2 products send
//! them, through the real binary: pyas2lib messages whose heads are folded by hand reach both
//! AS2 connectors and are processed; the HTTP Server connector sees the unfolded values and the
//! bodies untouched; malformed heads and connector refusals get their 400 and a log line with
//! the reason and the peer's address.

#[path = "../as2/common.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use berth_e2e::tls::write_self_signed;
use berth_e2e::{free_port, Berth, Deployment};
use common::*;
use serde_json::{json, Value};

/// The legacy connector's partner, beside the shared server's `PARTNER`.
const LEGACY: &str = "LEGACY";

/// One berth with both AS2 connectors: the AS2 Shared Server on berth.yaml's shared server and
/// the AS2 Server (legacy) on a connection of its own, plain and TLS.
struct As2Both {
    deployment: Deployment,
    keys: Keys,
    berth: Berth,
    shared: u16,
    legacy: u16,
    legacy_tls: u16,
}

fn start_as2() -> As2Both {
    let (shared, legacy, legacy_tls) = (free_port(), free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    write_self_signed(&keys.dir, "tls.pem", "tls.key");
    deployment
        .write(
            "berth.yaml",
            &format!("shared_server:\n  address: 127.0.0.1\n  port: {shared}\n"),
        )
        .write(
            "connections/as2-in.yaml",
            &format!(
                "name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  \
                 port: {legacy}\n  tls: {{ port: {legacy_tls}, certificate: keys/tls.pem, \
                 private_key: keys/tls.key }}\n"
            ),
        )
        .write(
            "processes/shared.yaml",
            &process("shared", "as2-shared-server", None, &operation(PARTNER, "")),
        )
        .write(
            "processes/legacy.yaml",
            &process(
                "legacy",
                "as2-server-legacy",
                Some("as2-in"),
                &operation(LEGACY, ""),
            ),
        );
    let berth = deployment.start();
    As2Both {
        deployment,
        keys,
        berth,
        shared,
        legacy,
        legacy_tls,
    }
}

/// The fold shapes sent to each connector: (name, how the message is built, which fields are
/// folded and how; see `post_folded` in send.py).
fn shapes() -> Vec<(&'static str, Value, Value)> {
    vec![
        // A long Subject folded once, the way a Java mail-style writer does.
        (
            "subject",
            json!({"digest": "sha256", "mdn": "signed"}),
            json!({"Subject": ["first", "\r\n "]}),
        ),
        // Disposition-Notification-Options continued with tabs, folded at every space (three
        // folds in one field): the signed MDN's MIC algorithm comes from it.
        (
            "options-tab",
            json!({"digest": "sha384", "mdn": "signed", "mdn_digest": "sha384"}),
            json!({"disposition-notification-options": ["every", "\r\n\t"]}),
        ),
        // Several whitespace bytes after each fold, and a folded Content-Type whose boundary the
        // signature check needs.
        (
            "content-type",
            json!({"digest": "sha256", "enc_alg": "aes_256_cbc", "mdn": "signed"}),
            json!({"Content-Type": ["every", "\r\n \t "], "Subject": ["every", "\r\n\t\t"]}),
        ),
        // AS2-From's neighbours folded right after their colons: the line before AS2-From
        // (Message-ID) and the line after it (AS2-To) are continuations.
        (
            "neighbours",
            json!({"digest": "sha256", "enc_alg": "aes_128_cbc", "compress": true, "mdn": "sync"}),
            json!({"Message-ID": ["start", "\r\n "], "AS2-To": ["start", "\r\n\t"]}),
        ),
    ]
}

#[test]
fn folded_heads_reach_both_as2_connectors_and_are_processed() {
    let both = start_as2();
    let targets = [
        (
            "shared",
            PARTNER,
            format!("http://127.0.0.1:{}/as2", both.shared),
        ),
        (
            "legacy",
            LEGACY,
            format!("http://127.0.0.1:{}/as2", both.legacy),
        ),
        (
            "legacy-tls",
            LEGACY,
            format!("https://127.0.0.1:{}/as2", both.legacy_tls),
        ),
    ];
    let mut cases = Vec::new();
    let mut kind = 0;
    for (target, from, url) in &targets {
        for (shape, build, folds) in shapes() {
            let mut case = Case::new(&format!("{target}-{shape}"), from, kind, &both.keys)
                .set("url", json!(url))
                .set("folds", folds);
            for (key, value) in build.as_object().unwrap() {
                case = case.set(key, value.clone());
            }
            cases.push(case);
            kind += 1;
        }
    }
    let results = send(&targets[0].2, &cases, both.deployment.path());
    let log = both.berth.log();
    let lines = received_lines(&log);
    for case in &cases {
        assert_processed(case, &results[&case.id][0], both.deployment.path(), &lines);
    }
    assert!(
        !log.contains("refused a malformed request head"),
        "a folded head was refused:\n{log}"
    );
    eprintln!(
        "folded heads: {} messages in {} shapes processed by both AS2 connectors",
        cases.len(),
        shapes().len()
    );
}

/// Send raw bytes and read the answer until the server closes or 10 s pass.
fn exchange(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// berth's log without the terminal colours around its field names.
fn plain_log(berth: &Berth) -> String {
    let log = berth.log();
    let mut plain = String::with_capacity(log.len());
    let mut rest = log.as_str();
    while let Some(at) = rest.find("\x1b[") {
        plain.push_str(&rest[..at]);
        rest = &rest[at..];
        rest = rest.find('m').map_or("", |end| &rest[end + 1..]);
    }
    plain.push_str(rest);
    plain
}

/// Wait up to 5 s for `count` log lines holding every one of `parts`.
fn logged(berth: &Berth, parts: &[&str], count: usize) {
    for _ in 0..250 {
        let log = plain_log(berth);
        let found = log
            .lines()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .count();
        if found >= count {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "fewer than {count} log lines with all of {parts:?}:\n{}",
        berth.log()
    );
}

#[test]
fn malformed_heads_and_connector_refusals_are_answered_400_and_logged_with_the_peer() {
    let both = start_as2();
    let malformed: [(&str, &str); 3] = [
        (
            "POST /as2 HTTP/1.1\r\nHost: x\r\nAS2-From PARTNER\r\nAS2-To: BERTH\r\nContent-Length: 0\r\n\r\n",
            "a header line without a colon",
        ),
        (
            "POST /as2 HTTP/1.1\r\n Host: x\r\nAS2-From: PARTNER\r\nContent-Length: 0\r\n\r\n",
            "a line starting with whitespace right after the request line",
        ),
        (
            "POST /as2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            "a Transfer-Encoding that does not end in chunked",
        ),
    ];
    for (round, port) in [both.shared, both.legacy].into_iter().enumerate() {
        for (head, reason) in malformed {
            let answer = exchange(port, head.as_bytes());
            assert!(answer.starts_with("HTTP/1.1 400"), "{head:?}: {answer}");
            logged(
                &both.berth,
                &[
                    "WARN",
                    "refused a malformed request head",
                    "peer=127.0.0.1:",
                    reason,
                ],
                round + 1,
            );
        }
        // An AS2 request without AS2-To: the connector's 400, logged with the peer.
        let answer = exchange(
            port,
            b"POST /as2 HTTP/1.1\r\nHost: x\r\nAS2-From: PARTNER\r\nContent-Type: application/edi-x12\r\n\
              Content-Length: 1\r\nConnection: close\r\n\r\nx",
        );
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("AS2-To"), "{answer}");
    }
    let log = plain_log(&both.berth);
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("refused by the connector") && l.contains("AS2-To"))
        .collect();
    assert_eq!(refusals.len(), 2, "{log}");
    for line in refusals {
        assert!(line.contains("peer=127.0.0.1:"), "{line}");
        assert!(line.contains("status=400"), "{line}");
    }
    // One line per refused connection, not one per attempt hyper made.
    assert_eq!(
        log.matches("refused a malformed request head").count(),
        6,
        "{log}"
    );
}

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
      file_name: "order-${http.query.id}.bin"
  - return:
      status: 201
      body: "stored ${http.query.id} from [${http.header.x-partner:-unknown}]\n"
"#;

/// The HTTP Server connector unfolds folded heads when its connection says so: the process
/// sees the value with each fold as one space, and the bodies of the requests on the
/// connection, fixed-length or chunked, arrive byte for byte. Without the setting a folded head
/// gets 400, logged with the peer.
#[test]
fn the_http_server_connector_sees_folded_fields_unfolded_and_bodies_untouched() {
    let strict_port = free_port();
    let port = free_port();
    let deployment = Deployment::new();
    deployment
        .http_connection("strict", strict_port, "")
        .http_connection("inbound", port, "unfold_folded_headers: true")
        .write("processes/orders.yaml", ORDERS)
        .write(
            "processes/strict.yaml",
            &ORDERS
                .replace("name: orders", "name: strict")
                .replace("connection: inbound", "connection: strict"),
        );
    let berth = deployment.start();
    let first_body = b"line one\r\n folded-looking MIME line\r\n\tand a tab\r\n";
    let mut requests = format!(
        "POST /orders?id=1 HTTP/1.1\r\nHost: x\r\nX-Partner: ACME\r\n  Trading\r\n\tCorp\r\n\
         Content-Length: {}\r\n\r\n",
        first_body.len()
    )
    .into_bytes();
    requests.extend_from_slice(first_body);
    // The next request on the same connection: chunked, with a fold right after the colon.
    requests.extend_from_slice(
        b"POST /orders?id=2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Partner:\r\n Beta\r\n\
          Connection: close\r\n\r\n4\r\n\r\n x\r\n3\r\n\r\n\t\r\n0\r\n\r\n",
    );
    let refused = exchange(strict_port, &requests);
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    logged(
        &berth,
        &["refused a malformed request head", "peer=127.0.0.1:"],
        1,
    );
    let answer = exchange(port, &requests);
    assert_eq!(
        answer.matches("HTTP/1.1 201").count(),
        2,
        "{answer}\n{}",
        berth.log()
    );
    assert!(
        answer.contains("stored 1 from [ACME Trading Corp]"),
        "{answer}"
    );
    assert!(answer.contains("stored 2 from [Beta]"), "{answer}");
    let inbox = deployment.path().join("inbox");
    assert_eq!(
        std::fs::read(inbox.join("order-1.bin")).unwrap(),
        first_body
    );
    assert_eq!(
        std::fs::read(inbox.join("order-2.bin")).unwrap(),
        b"\r\n x\r\n\t"
    );
}
