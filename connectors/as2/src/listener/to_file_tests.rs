//! A spooled body with the host's payload file: the same decisions as the in-memory path, the
//! payload in the file instead of the document, and nothing left in the file on a refusal.

use std::path::Path;

use berth_connector_sdk::abi::{Header, PayloadFrom};
use berth_connector_sdk::abi_stable::std_types::ROption;
use berth_connector_sdk::prelude::*;

use super::settings::As2Operation;
use super::*;

fn listener() -> As2Listener {
    let json = r#"{"as2_from":"THEM","as2_to":"US"}"#;
    let operation: As2Operation = berth_connector_sdk::settings::parse(json).unwrap();
    let context = OpenContext {
        connection_name: None,
        deployment_dir: std::env::temp_dir(),
        log: Logger::discard(),
    };
    open_shared(context, vec![("p".into(), operation)])
        .unwrap()
        .1
}

/// Handles `body` as the host offers it: in memory (`spool` `None`), or spooled to a file
/// with the payload file `payload_file` offered beside it.
fn handle(content_type: &str, body: &[u8], spool: Option<(&Path, &Path)>) -> Decision<Pending> {
    let pairs = [
        ("as2-from", "THEM"),
        ("as2-to", "US"),
        ("message-id", "<m1@them>"),
        ("content-type", content_type),
        ("content-disposition", "attachment; filename=\"orders.edi\""),
        ("disposition-notification-to", "x@them"),
    ];
    let headers: Vec<Header<'_>> = pairs
        .iter()
        .map(|(n, v)| Header {
            name: (*n).into(),
            value: v.as_bytes().into(),
        })
        .collect();
    let spool_names = spool.map(|(body_file, payload_file)| {
        std::fs::write(body_file, body).unwrap();
        let name = |p: &Path| p.to_str().unwrap().to_string();
        (name(body_file), name(payload_file))
    });
    let request = Request {
        method: "POST".into(),
        path: "/as2".into(),
        query: ROption::RNone,
        headers: headers.as_slice().into(),
        body: if spool.is_some() { &[][..] } else { body }.into(),
        body_file: spool_names.as_ref().map(|n| n.0.as_str().into()).into(),
        body_offset: 0,
        body_len: body.len() as u64,
        payload_file: spool_names.as_ref().map(|n| n.1.as_str().into()).into(),
        remote_addr: "127.0.0.1:5000".into(),
        client_certificate: ROption::RNone,
        secure: false,
    };
    listener().handle(&request)
}

fn submission(decision: Decision<Pending>) -> Submission {
    match decision {
        Decision::Submit { submission, .. } => submission,
        Decision::Respond(r) => panic!("answered {}: {:?}", r.status, r.body),
    }
}

fn response(decision: Decision<Pending>) -> Response {
    match decision {
        Decision::Respond(r) => r,
        Decision::Submit { .. } => panic!("submitted"),
    }
}

/// The MDN's disposition line (the rest differs by the MDN's own Message-ID and date).
fn disposition(response: &Response) -> String {
    let body = String::from_utf8_lossy(response.body.as_slice()).into_owned();
    let line = body.lines().find(|l| l.starts_with("Disposition:"));
    line.unwrap_or_else(|| panic!("no disposition in {body}"))
        .to_string()
}

#[test]
fn a_spooled_message_is_unwrapped_into_the_payload_file_with_the_same_properties() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, payload) = (dir.path().join("body"), dir.path().join("body.payload"));
    std::fs::write(&payload, b"").unwrap();
    let body = b"UNB+UNOA:2+THEM+US'\r\nUNZ+1'\r\n";
    let in_memory = submission(handle("application/edifact", body, None));
    let to_file = submission(handle(
        "application/edifact",
        body,
        Some((&spool, &payload)),
    ));
    assert_eq!(to_file.document.payload_from, PayloadFrom::PAYLOAD_FILE);
    assert!(to_file.document.payload.is_empty());
    assert_eq!(std::fs::read(&payload).unwrap(), body);
    assert_eq!(in_memory.document.payload_from, PayloadFrom::BYTES);
    assert_eq!(in_memory.document.payload.as_slice(), body);
    let props = |s: &Submission| {
        let p = s.document.properties.iter();
        p.map(|p| (p.name.to_string(), p.value.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(props(&to_file), props(&in_memory));
    assert!(props(&to_file).iter().any(|p| p.0 == "as2.mic"));
    assert_eq!(to_file.duplicate_key, in_memory.duplicate_key);
}

#[test]
fn a_refused_spooled_message_gets_the_same_mdn_and_leaves_the_payload_file_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, payload) = (dir.path().join("body"), dir.path().join("body.payload"));
    std::fs::write(&payload, b"").unwrap();
    // The signed content reaches the file before the (garbage) signature is checked.
    let content_type = "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"b\"";
    let body = b"--b\r\nContent-Type: text/plain\r\n\r\nthe signed content, long enough to be written\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n";
    let in_memory = response(handle(content_type, body, None));
    let to_file = response(handle(content_type, body, Some((&spool, &payload))));
    assert_eq!(to_file.status, in_memory.status);
    assert!(
        disposition(&to_file).contains("error"),
        "{}",
        disposition(&to_file)
    );
    assert_eq!(disposition(&to_file), disposition(&in_memory));
    assert_eq!(std::fs::metadata(&payload).unwrap().len(), 0);
}

#[test]
fn a_payload_file_that_cannot_be_written_is_answered_503_for_a_later_resend() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("body");
    // Every write to /dev/full fails as a full disk does.
    let full = Path::new("/dev/full");
    let answer = response(handle("text/plain", b"hello", Some((&spool, full))));
    assert_eq!(answer.status, 503);
}
