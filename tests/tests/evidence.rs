//! A document's evidence through the real binary: the payload, the request as received and the
//! answer sent, downloaded through `berth documents export` and the admin API, byte for byte
//! what the partner sent and was answered. A payload above the store's in-database limit comes
//! back streamed from its file.

#[path = "../as2/common.rs"]
mod common;

use std::process::Command;

use berth_e2e::{berth_binary, client, free_port, output_text, Deployment};
use common::{operation, process, Case, Keys, PARTNER};
use serde_json::{json, Value};

struct Admin {
    port: u16,
    token: String,
}

impl Admin {
    fn of(deployment: &Deployment, port: u16) -> Admin {
        let token = std::fs::read_to_string(deployment.path().join("data/admin.token")).unwrap();
        Admin {
            port,
            token: token.trim().to_string(),
        }
    }

    fn get(&self, path: &str) -> reqwest::blocking::Response {
        client()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .bearer_auth(&self.token)
            .send()
            .unwrap()
    }

    fn json(&self, path: &str) -> Value {
        let response = self.get(path);
        assert_eq!(response.status().as_u16(), 200, "{path}");
        serde_json::from_str(&response.text().unwrap()).unwrap()
    }

    /// A download: its bytes and its Content-Disposition.
    fn download(&self, id: &str, part: &str) -> (Vec<u8>, String) {
        let response = self.get(&format!("/api/documents/{id}/{part}"));
        assert_eq!(response.status().as_u16(), 200, "{id} {part}");
        let disposition = response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        (response.bytes().unwrap().to_vec(), disposition)
    }
}

/// `berth documents export ID ARGS` to standard output, and once more to a file with `-o`;
/// both must be the same bytes.
fn export(deployment: &Deployment, id: &str, args: &[&str]) -> Vec<u8> {
    let run = |extra: &[&str]| {
        let output = Command::new(berth_binary())
            .args(["documents", "export", id])
            .args(args)
            .args(extra)
            .arg("--dir")
            .arg(deployment.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", output_text(&output));
        output.stdout
    };
    let stdout = run(&[]);
    let file = deployment.path().join("exported");
    let _ = std::fs::remove_file(&file);
    assert!(run(&["-o", file.to_str().unwrap()]).is_empty());
    assert_eq!(
        std::fs::read(&file).unwrap(),
        stdout,
        "-o writes what stdout does"
    );
    stdout
}

fn with_admin(deployment: &Deployment, extra: &str) -> u16 {
    let admin = free_port();
    deployment.write(
        "berth.yaml",
        &format!("admin:\n  address: 127.0.0.1\n  port: {admin}\n{extra}"),
    );
    admin
}

#[test]
fn an_http_documents_payload_request_and_answer_come_back_byte_for_byte() {
    let port = free_port();
    let deployment = Deployment::new();
    let admin_port = with_admin(&deployment, "");
    deployment
        .http_connection("inbound", port, "")
        .write(
            "processes/orders.yaml",
            "name: orders\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  \
             operation: { path: /orders }\nsteps:\n  - return: { status: 201, body: \"stored ${file_name}\" }\n",
        );
    let _berth = deployment.start();
    // Larger than what the store keeps in its database (256 KiB): stored as a file and
    // streamed back from it.
    let payload: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(7919) >> 3) as u8)
        .collect();
    let response = client()
        .post(format!("http://127.0.0.1:{port}/orders"))
        .header("content-disposition", "attachment; filename=\"po 1.bin\"")
        .header("x-evidence", "kept")
        .body(payload.clone())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let answered = response.bytes().unwrap().to_vec();
    assert_eq!(answered, b"stored po 1.bin");

    let admin = Admin::of(&deployment, admin_port);
    let list = admin.json("/api/documents?process=orders");
    let id = list["documents"][0]["id"].as_str().unwrap().to_string();

    let (bytes, disposition) = admin.download(&id, "payload");
    assert!(
        bytes == payload,
        "the API's payload differs from the one sent"
    );
    assert!(
        disposition.contains("filename=\"po 1.bin\""),
        "{disposition}"
    );
    assert!(export(&deployment, &id, &[]) == payload);
    assert!(export(&deployment, &id, &["--payload"]) == payload);

    let (raw, disposition) = admin.download(&id, "raw");
    assert!(
        disposition.contains(&format!("filename=\"{id}.raw\"")),
        "{disposition}"
    );
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("POST /orders HTTP/1.1\r\n"), "{text}");
    assert!(text.contains("x-evidence: kept\r\n"), "{text}");
    assert_eq!(export(&deployment, &id, &["--raw"]), raw);

    let (answer, disposition) = admin.download(&id, "answer");
    assert!(
        disposition.contains(&format!("filename=\"{id}.txt\"")),
        "{disposition}"
    );
    assert_eq!(answer, answered);
    assert_eq!(export(&deployment, &id, &["--answer"]), answered);

    // Refusals say why.
    assert_eq!(
        admin.get("/api/documents/nope/payload").status().as_u16(),
        404
    );
    assert_eq!(
        admin
            .get(&format!("/api/documents/{id}/other"))
            .status()
            .as_u16(),
        404
    );
    let output = Command::new(berth_binary())
        .args(["documents", "export", "nope", "--dir"])
        .arg(deployment.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output_text(&output).contains("no document nope"));
}

#[test]
fn an_as2_messages_mdn_and_raw_message_come_back_byte_for_byte() {
    let port = free_port();
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    let admin_port = with_admin(
        &deployment,
        &format!("shared_server:\n  address: 127.0.0.1\n  port: {port}\n"),
    );
    deployment.write(
        "processes/partner.yaml",
        &process(
            "partner",
            "as2-shared-server",
            None,
            &operation(PARTNER, ""),
        ),
    );
    let _berth = deployment.start();
    let case = Case::new("evidence", PARTNER, 0, &keys)
        .set("digest", json!("sha256"))
        .set("enc_alg", json!("aes_256_cbc"))
        .set("mdn", json!("signed"))
        .set("keep_bytes", json!(true));
    let results = common::send(
        &format!("http://127.0.0.1:{port}/as2"),
        std::slice::from_ref(&case),
        deployment.path(),
    );
    let result = &results["evidence"][0];
    assert_eq!(result["status"], "processed", "{result}");
    let unbase64 =
        |field: &str| openssl::base64::decode_block(result[field].as_str().unwrap()).unwrap();
    let (sent, mdn_body) = (unbase64("sent_b64"), unbase64("answer_b64"));

    let admin = Admin::of(&deployment, admin_port);
    let list = admin.json("/api/documents?process=partner");
    let id = list["documents"][0]["id"].as_str().unwrap().to_string();

    let (payload, disposition) = admin.download(&id, "payload");
    assert_eq!(payload, case.payload, "the decrypted payload");
    assert!(
        disposition.contains(&format!("filename=\"{}\"", case.file_name())),
        "{disposition}"
    );
    assert_eq!(export(&deployment, &id, &[]), case.payload);

    // The raw message: request line and headers as received, then the body exactly as sent
    // (signed and encrypted).
    let (raw, _) = admin.download(&id, "raw");
    assert!(raw.starts_with(b"POST /as2 HTTP/1.1\r\n"));
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        raw[head_end..] == sent[..],
        "the raw body differs from what pyas2lib sent"
    );
    assert_eq!(export(&deployment, &id, &["--raw"]), raw);

    // The MDN: its headers as sent, then the body pyas2lib received and verified.
    let (mdn, disposition) = admin.download(&id, "answer");
    assert!(
        disposition.contains(&format!("filename=\"{id}.mdn\"")),
        "{disposition}"
    );
    let head_end = mdn.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        mdn[head_end..] == mdn_body[..],
        "the MDN differs from the one answered"
    );
    let head = String::from_utf8(mdn[..head_end].to_vec()).unwrap();
    let content_type = result["response_headers"]["content-type"].as_str().unwrap();
    assert!(
        head.contains(&format!("Content-Type: {content_type}\r\n")),
        "{head}"
    );
    assert_eq!(export(&deployment, &id, &["--answer"]), mdn);
}
