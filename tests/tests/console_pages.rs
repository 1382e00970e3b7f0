//! The console's pages in a real headless browser (tests/console/pages.mjs), through the real
//! binary: documents sent over HTTP and AS2 (some failing, one answered with an error
//! disposition) appear in each listener's traffic chart minute by minute; the partners page
//! lists the AS2 pairs and a partner certificate made to expire in 10 days with 10 days left,
//! highlighted, and a certificate the partner sent by certificate exchange as pending; a payload and an MDN downloaded from a document's page are the ones sent and
//! answered, byte for byte; the pages work by keyboard and at 1280 and 390 px wide, with
//! screenshots of each under target/console-pages/.

#[path = "../console/browser.rs"]
mod browser;
#[path = "../as2/cem_common.rs"]
mod cem_common;
#[path = "../as2/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_e2e::{build_dir, client, free_port, Deployment};
use browser::{driver, node, run_with_timeout};
use common::{operation, process, Case, Keys, PARTNER, US};
use serde_json::{json, Value};

/// HTTP orders: a document without `?name=` fails its process (the file name's property is
/// missing), so the chart has failures to mark.
const ORDERS: &str = r#"
name: orders
start:
  connector: http-server-legacy
  connection: inbound
  operation: { path: /orders, methods: [POST] }
steps:
  - write_file: { directory: inbox, file_name: "${http.query.name}" }
  - return: { status: 201, body: "stored" }
"#;

/// A second AS2 partner whose certificate expires in 10 days and whose process always fails:
/// its messages are answered `processed/error: unexpected-processing-error`.
fn globex() -> String {
    format!(
        "name: globex\nstart:\n  connector: as2-shared-server\n  operation:\n    as2_from: GLOBEX\n\
         \x20   as2_to: {US}\n    partner_certificate: keys/soon.pem\n\
         \x20   decryption_key: {{ key: keys/berth.key, certificate: keys/berth.pem }}\n\
         \x20   mdn_signing_key: {{ key: keys/berth-both.pem }}\n    require_signed: true\n\
         steps:\n  - write_file: {{ directory: inbox, file_name: \"${{no.such.property}}\" }}\n"
    )
}

/// A key and a self-signed certificate valid for 10 days, made by openssl as an operator would.
/// (The other test keys are valid for 30 days; the warning window is set to 20 days, so that
/// they count as valid and this one as expiring.)
fn certificate_for_ten_days(keys: &Path) {
    let output = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "10",
        ])
        .args(["-subj", "/CN=GLOBEX soon expiring"])
        .arg("-keyout")
        .arg(keys.join("soon.key"))
        .arg("-out")
        .arg(keys.join("soon.pem"))
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut both = std::fs::read(keys.join("soon.key")).unwrap();
    both.extend(std::fs::read(keys.join("soon.pem")).unwrap());
    std::fs::write(keys.join("soon-both.pem"), both).unwrap();
}

fn as2_case(id: &str, from: &str, kind: usize, keys: &Keys) -> Case {
    Case::new(id, from, kind, keys)
        .set("digest", json!("sha256"))
        .set("enc_alg", json!("aes_256_cbc"))
        .set("mdn", json!("signed"))
        .set("keep_bytes", json!(true))
}

struct Admin {
    url: String,
    token: String,
}

impl Admin {
    fn json(&self, path: &str) -> Value {
        let response = client()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        serde_json::from_str(&response.text().unwrap()).unwrap()
    }

    /// Unix seconds of each document of `process` the store holds.
    fn received_seconds(&self, process: &str) -> Vec<i64> {
        let list = self.json(&format!("/api/documents?process={process}&limit=1000"));
        list["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let at = d["received_at"].as_str().unwrap();
                at.parse::<jiff::Timestamp>()
                    .unwrap_or_else(|e| panic!("{at}: {e}"))
                    .as_second()
            })
            .collect()
    }
}

/// Documents per minute as the chart's minutes count them.
fn per_minute(times: &[i64], received: &[i64]) -> Vec<u64> {
    let mut counts = vec![0; times.len()];
    for at in received {
        let minute = times
            .iter()
            .rposition(|t| t <= at)
            .expect("within the chart");
        counts[minute] += 1;
    }
    counts
}

fn numbers(value: &Value) -> Vec<i64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

#[test]
fn the_console_charts_traffic_lists_partners_and_certificates_and_hands_out_evidence() {
    let driver = driver("pages.mjs");
    let (http_port, as2_port, admin_port) = (free_port(), free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    certificate_for_ten_days(&keys.dir);
    deployment
        .http_connection("inbound", http_port, "")
        .write("processes/orders.yaml", ORDERS)
        .write(
            "processes/partner.yaml",
            &process(
                "partner",
                "as2-shared-server",
                None,
                &operation(PARTNER, "accept_certificate_exchange: true"),
            ),
        )
        .write("processes/globex.yaml", &globex())
        .write(
            "berth.yaml",
            &format!(
                "admin:\n  address: 127.0.0.1\n  port: {admin_port}\n\
                 certificates:\n  warn_days: 20\n\
                 shared_server:\n  address: 127.0.0.1\n  port: {as2_port}\n"
            ),
        );
    let berth = deployment.start();

    // HTTP: three stored, two failing.
    let http = client();
    for (i, name) in ["a.edi", "b.edi", "", "c.edi", ""].iter().enumerate() {
        let query = if name.is_empty() {
            String::new()
        } else {
            format!("?name={name}")
        };
        let status = http
            .post(format!("http://127.0.0.1:{http_port}/orders{query}"))
            .body(format!("order {i}"))
            .send()
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, if name.is_empty() { 500 } else { 201 }, "{i}");
    }
    // AS2: two processed from PARTNER, one from GLOBEX whose process fails.
    let as2_url = format!("http://127.0.0.1:{as2_port}/as2");
    let cases = [
        as2_case("p1", PARTNER, 0, &keys),
        as2_case("p2", PARTNER, 1, &keys),
        as2_case("g1", "GLOBEX", 0, &keys).set("sign_key", json!(keys.file("soon-both.pem"))),
    ];
    let results = common::send(&as2_url, &cases, deployment.path());
    for id in ["p1", "p2", "g1"] {
        let result = &results[id][0];
        assert_eq!(
            result["http_status"],
            200,
            "{id}: {result}\n{}",
            berth.log()
        );
    }
    // PARTNER sends its next certificate by certificate exchange, due in an hour.
    cem_common::partner_keys(&keys);
    let receiver_port = free_port();
    let _receiver = berth_e2e::receiver::Receiver::start(receiver_port);
    let exchange = json!({
        "url": as2_url,
        "as2_from": PARTNER,
        "as2_to": US,
        "sign_key": keys.file("partner-both.pem"),
        "new_cert": keys.file("partner-new.pem"),
        "usages": ["digitalSignature"],
        "respond_in": 3600,
        "response_url": format!("http://127.0.0.1:{receiver_port}/cem"),
        "request_id": "console@partner.example",
    });
    let answer = cem_common::run_cem("request", &exchange, deployment.path(), "console-cem");
    assert_eq!(answer["http_status"], 200, "{answer}");
    let p1 = &results["p1"][0];
    let mdn_body = openssl::base64::decode_block(p1["answer_b64"].as_str().unwrap()).unwrap();

    let token = std::fs::read_to_string(deployment.path().join("data/admin.token")).unwrap();
    let admin = Admin {
        url: format!("http://127.0.0.1:{admin_port}"),
        token: token.trim().to_string(),
    };
    let p1_id = {
        let list = admin.json("/api/documents?process=partner&property=file_name%3Dp1.edi");
        list["documents"][0]["id"].as_str().unwrap().to_string()
    };

    let out = build_dir()
        .parent()
        .expect("the target folder")
        .join("console-pages");
    let _ = std::fs::remove_dir_all(&out);
    let mut command = node(&driver);
    command.args([&admin.url, &admin.token, &p1_id]).arg(&out);
    let (status, output) = run_with_timeout(command, Duration::from_secs(180));
    assert_eq!(
        status,
        Some(0),
        "the console pages test failed (screenshots in {}):\n{output}\nberth's log:\n{}",
        out.display(),
        berth.log()
    );
    println!("{output}");
    let shown: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("result.json")).unwrap()).unwrap();

    // The charts: each listener's points are its documents, minute by minute, with the failures
    // and the unusual answers where they were.
    let expected: BTreeMap<&str, (u64, u64, u64)> = [
        ("orders", (5, 2, 0)),
        ("partner", (2, 0, 0)),
        ("globex", (1, 1, 1)),
    ]
    .into();
    for range in ["hour", "day"] {
        for (listener, (documents, failed, unusual)) in &expected {
            let chart = &shown[range][listener];
            let times = numbers(&chart["times"]);
            assert_eq!(times.len(), if range == "hour" { 60 } else { 1440 });
            let drawn: Vec<u64> = numbers(&chart["documents"])
                .into_iter()
                .map(|n| n as u64)
                .collect();
            assert_eq!(
                drawn,
                per_minute(&times, &admin.received_seconds(listener)),
                "{range}: {listener}'s points are its documents, by minute"
            );
            let sum = |field: &str| numbers(&chart[field]).iter().sum::<i64>() as u64;
            assert_eq!(
                (sum("documents"), sum("failed"), sum("unusual")),
                (*documents, *failed, *unusual),
                "{range}: {listener}: documents, failed, other answers"
            );
        }
    }
    let summary = shown["hour"]["globex"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("1 failed") && summary.contains("processed/error"),
        "{summary}"
    );
    assert!(
        shown["hour"]["orders"]["last"]
            .as_str()
            .unwrap()
            .starts_with("last document "),
        "{}",
        shown["hour"]["orders"]
    );

    // The partners page: both pairs with their IDs, URLs, security and today's documents.
    let partners = shown["partners"].as_array().unwrap();
    let pair = |process: &str| {
        partners
            .iter()
            .find(|p| p["process"] == process)
            .unwrap_or_else(|| panic!("no row for {process}: {partners:?}"))
    };
    assert_eq!(partners.len(), 2, "{partners:?}");
    let (partner, globex) = (pair("partner"), pair("globex"));
    assert_eq!(
        (partner["from"].as_str(), partner["to"].as_str()),
        (Some(PARTNER), Some(US))
    );
    assert_eq!(
        (globex["from"].as_str(), globex["to"].as_str()),
        (Some("GLOBEX"), Some(US))
    );
    assert!(
        partner["urls"]
            .as_array()
            .unwrap()
            .contains(&json!(as2_url)),
        "{partner}"
    );
    assert_eq!(globex["security"], "signed");
    assert_eq!(
        (partner["today"].as_str(), globex["today"].as_str()),
        (Some("2"), Some("1"))
    );
    let last = globex["last"].as_str().unwrap();
    assert!(
        last.contains("failed") && last.contains("processed/error"),
        "{last}"
    );

    // The certificate made to expire in 10 days: 10 days left, marked as expiring.
    let certificates = shown["certificates"].as_array().unwrap();
    let soon = certificates
        .iter()
        .find(|c| c["process"] == "globex" && c["role"] == "partner-signature")
        .unwrap_or_else(|| panic!("no row for GLOBEX's certificate: {certificates:?}"));
    assert_eq!(soon["days_left"], "10", "{soon}");
    assert_eq!(soon["status"], "expiring", "{soon}");
    assert!(
        soon["subject"]
            .as_str()
            .unwrap()
            .contains("GLOBEX soon expiring"),
        "{soon}"
    );
    let plain = certificates
        .iter()
        .find(|c| c["process"] == "partner" && c["role"] == "partner-signature")
        .expect("PARTNER's certificate");
    assert_eq!(plain["status"], "valid", "{plain}");
    assert_ne!(
        soon["highlighted"], plain["highlighted"],
        "the expiring certificate's row stands out"
    );

    // The certificate PARTNER sent, pending until its respond-by date.
    let exchanged = shown["exchanged"].as_array().unwrap();
    assert_eq!(exchanged.len(), 1, "{exchanged:?}");
    assert_eq!(exchanged[0]["process"], "partner");
    assert_eq!(exchanged[0]["state"], "pending");
    assert_eq!(
        exchanged[0]["fingerprint"],
        cem_common::fingerprint(&keys.dir.join("partner-new.pem")).as_str()
    );
    assert_eq!(
        exchanged[0]["respond_by"],
        answer["respond_by"].as_str().unwrap().replace('T', " ")
    );

    // The evidence downloaded from the document's page.
    let payload = std::fs::read(out.join("payload.bin")).unwrap();
    assert!(
        payload == cases[0].payload,
        "the downloaded payload is the one sent"
    );
    let mdn = std::fs::read(out.join("answer.mdn")).unwrap();
    let head_end = mdn.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        mdn[head_end..] == mdn_body[..],
        "the downloaded MDN is the one answered"
    );

    // The same data through the API; a query it cannot read is refused and logged with why and
    // from where.
    let api_certificates = admin.json("/api/certificates");
    let api_soon = api_certificates["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == "keys/soon.pem")
        .expect("the API lists the certificate");
    assert_eq!(
        (api_soon["days_left"].as_i64(), api_soon["status"].as_str()),
        (Some(10), Some("expiring"))
    );
    let api_partners = admin.json("/api/partners");
    assert_eq!(api_partners["partners"].as_array().unwrap().len(), 2);
    let refused = client()
        .get(format!("{}/api/traffic?hours=99", admin.url))
        .bearer_auth(&admin.token)
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    berth.wait_for_log("bad request refused", Duration::from_secs(10));
    let log = berth.log();
    let logged = log
        .lines()
        .find(|l| l.contains("bad request refused"))
        .unwrap_or_else(|| panic!("the 400 is not logged:\n{log}"));
    assert!(
        logged.contains("hours `99`") && logged.contains("peer") && logged.contains("127.0.0.1:"),
        "{logged}"
    );

    for page in ["overview", "overview-24h", "partners", "document"] {
        for width in ["1280", "390"] {
            let file = out.join(format!("{page}-{width}.png"));
            assert!(file.exists(), "no screenshot {}", file.display());
        }
    }
}
