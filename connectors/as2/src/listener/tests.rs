//! The listener's decisions and answers without a host: every outcome the host can report,
//! including the duplicates the host's message store will detect.

use berth_connector_sdk::abi::Header;
use berth_connector_sdk::abi_stable::std_types::{ROption, RString};
use berth_connector_sdk::prelude::*;

use super::settings::As2Operation;
use super::*;

fn operation(from: &str, extra: &str) -> As2Operation {
    let json = format!(r#"{{"as2_from":"{from}","as2_to":"US"{extra}}}"#);
    berth_connector_sdk::settings::parse(&json).unwrap()
}

fn listener(operations: Vec<(String, As2Operation)>) -> As2Listener {
    let context = OpenContext {
        connection_name: None,
        deployment_dir: std::env::temp_dir(),
        log: Logger::discard(),
    };
    open_shared(context, operations).unwrap().1
}

fn with_request<T>(headers: &[(&str, &str)], f: impl FnOnce(&Request<'_>) -> T) -> T {
    let headers: Vec<Header<'_>> = headers
        .iter()
        .map(|(n, v)| Header {
            name: (*n).into(),
            value: v.as_bytes().into(),
        })
        .collect();
    let request = Request {
        method: "POST".into(),
        path: "/as2/acct".into(),
        query: ROption::RNone,
        headers: headers.as_slice().into(),
        body: b"hello"[..].into(),
        body_file: ROption::RNone,
        body_offset: 0,
        body_len: 5,
        payload_file: ROption::RNone,
        remote_addr: "127.0.0.1:5000".into(),
        client_certificate: ROption::RNone,
        secure: false,
    };
    f(&request)
}

const MESSAGE: [(&str, &str); 5] = [
    ("as2-from", "THEM"),
    ("as2-to", "US"),
    ("message-id", "<m1@them>"),
    ("content-type", "text/plain"),
    ("disposition-notification-to", "x@them"),
];

fn outcome(kind: OutcomeKind, stored: Option<Vec<u8>>) -> Outcome {
    Outcome {
        kind,
        document_id: "d1".into(),
        returned: ROption::RNone,
        stored_answer: stored.map(Into::into).into(),
        error: ROption::RSome(RString::from("steps[0] write_file: disk full")),
    }
}

fn submit(listener: &As2Listener) -> (Submission, Pending) {
    match with_request(&MESSAGE, |r| listener.handle(r)) {
        Decision::Submit {
            submission,
            pending,
        } => (submission, pending),
        Decision::Respond(r) => panic!("answered {}: {:?}", r.status, r.body),
    }
}

fn body_text(response: &Response) -> String {
    String::from_utf8_lossy(response.body.as_slice()).into_owned()
}

#[test]
fn a_plain_message_is_submitted_with_its_properties_and_key() {
    let l = listener(vec![("p".into(), operation("THEM", ""))]);
    let (submission, _) = submit(&l);
    assert_eq!(submission.operation.as_str(), "p");
    assert_eq!(
        submission
            .duplicate_key
            .as_ref()
            .into_option()
            .unwrap()
            .as_str(),
        "THEM\u{1f}US\u{1f}<m1@them>"
    );
    let document = &submission.document;
    assert_eq!(document.payload.as_slice(), b"hello");
    let prop = |name: &str| {
        document
            .properties
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.value.to_string())
    };
    assert_eq!(prop(properties::AS2_FROM).as_deref(), Some("THEM"));
    assert_eq!(prop(properties::MESSAGE_ID).as_deref(), Some("<m1@them>"));
    assert_eq!(prop(properties::MIME_TYPE).as_deref(), Some("text/plain"));
    assert_eq!(prop("as2.security").as_deref(), Some("none"));
    assert_eq!(prop("as2.account_id").as_deref(), Some("acct"));
    assert!(prop("as2.mic").unwrap().ends_with(", sha-256"));
}

#[test]
fn every_outcome_gets_its_answer() {
    let l = listener(vec![("p".into(), operation("THEM", ""))]);
    let (_, pending) = submit(&l);
    let accepted = l.complete(pending, &outcome(OutcomeKind::ACCEPTED, None));
    assert_eq!(accepted.status, 200);
    assert!(body_text(&accepted)
        .contains("Disposition: automatic-action/MDN-sent-automatically; processed\r\n"));
    assert!(accepted.headers.iter().any(|h| h.name.as_str() == "Date"));

    let (_, pending) = submit(&l);
    let failed = l.complete(pending, &outcome(OutcomeKind::FAILED, None));
    assert_eq!(failed.status, 200);
    let text = body_text(&failed);
    assert!(
        text.contains("processed/error: unexpected-processing-error"),
        "{text}"
    );
    assert!(
        !text.contains("disk full"),
        "internal errors stay in the log: {text}"
    );

    let (_, pending) = submit(&l);
    let refused = l.complete(pending, &outcome(OutcomeKind::REFUSED, None));
    assert_eq!(refused.status, 503);
}

#[test]
fn a_duplicate_gets_the_recorded_mdn_again_or_a_warning() {
    let l = listener(vec![
        ("p".into(), operation("THEM", "")),
        (
            "q".into(),
            operation("STRICT", r#","reject_duplicates":true"#),
        ),
    ]);
    let (_, pending) = submit(&l);
    let first = l.complete(pending, &outcome(OutcomeKind::ACCEPTED, None));
    let evidence = first.evidence.clone().into_option().unwrap().to_vec();
    let (_, pending) = submit(&l);
    let again = l.complete(pending, &outcome(OutcomeKind::DUPLICATE, Some(evidence)));
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body, "the recorded MDN, byte for byte");
    let message_id = |r: &Response| {
        r.headers
            .iter()
            .find(|h| h.name.as_str() == "Message-ID")
            .map(|h| h.value.to_string())
    };
    assert_eq!(message_id(&again), message_id(&first));

    // Without a recorded answer, or when the pair rejects duplicates: the warning.
    let (_, pending) = submit(&l);
    let unrecorded = l.complete(pending, &outcome(OutcomeKind::DUPLICATE, None));
    assert!(body_text(&unrecorded).contains("processed/warning: duplicate-document"));
    let strict: Vec<(&str, &str)> = MESSAGE
        .iter()
        .map(|&(n, v)| {
            if n == "as2-from" {
                (n, "STRICT")
            } else {
                (n, v)
            }
        })
        .collect();
    let pending = match with_request(&strict, |r| l.handle(r)) {
        Decision::Submit { pending, .. } => pending,
        Decision::Respond(r) => panic!("answered {}", r.status),
    };
    let first_mdn = first.evidence.into_option().unwrap().to_vec();
    let rejected = l.complete(pending, &outcome(OutcomeKind::DUPLICATE, Some(first_mdn)));
    assert!(body_text(&rejected).contains("processed/warning: duplicate-document"));
}

#[test]
fn requests_that_cannot_be_accepted_are_answered_at_once() {
    let l = listener(vec![(
        "p".into(),
        operation("THEM", r#","ip_filter":["10.0.0.0/8"]"#),
    )]);
    let respond = |headers: &[(&str, &str)]| match with_request(headers, |r| l.handle(r)) {
        Decision::Respond(r) => r,
        Decision::Submit { .. } => panic!("submitted"),
    };
    let missing = respond(&MESSAGE[1..]);
    assert_eq!(missing.status, 400);
    assert!(body_text(&missing).contains("AS2-From"));
    let mut unknown = MESSAGE;
    unknown[0] = ("as2-from", "NOBODY");
    let unknown = respond(&unknown);
    assert_eq!(unknown.status, 200);
    assert!(body_text(&unknown).contains("processed/error: unknown-trading-partner"));
    assert_eq!(respond(&MESSAGE).status, 403, "outside the IP filter");
}

#[test]
fn settings_are_checked_with_their_pointers() {
    let op = operation(
        "THEM",
        r#","duplicate_window":99,"require_signed":true,"ip_filter":["x"]"#,
    );
    let problems = settings::check_operation(&op);
    let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        ["/duplicate_window", "/ip_filter/0", "/partner_certificate"]
    );
    let ok = operation("THEM", r#","duplicate_window":1000000"#);
    assert!(settings::check_operation(&ok).is_empty());
}

#[test]
fn a_file_name_received_before_gets_the_duplicate_filename_error() {
    let l = listener(vec![
        (
            "p".into(),
            operation("THEM", r#","refuse_duplicate_file_names":true"#),
        ),
        ("q".into(), operation("FREE", "")),
    ]);
    let mut named = MESSAGE.to_vec();
    named.push(("content-disposition", "attachment; filename=\"a.edi\""));
    let (submission, pending) = match with_request(&named, |r| l.handle(r)) {
        Decision::Submit {
            submission,
            pending,
        } => (submission, pending),
        Decision::Respond(r) => panic!("answered {}", r.status),
    };
    let key = submission.unique_key.as_ref().into_option().unwrap();
    assert_eq!(key.as_str(), "file-name\u{1f}THEM\u{1f}US\u{1f}a.edi");
    let refused = l.complete(pending, &outcome(OutcomeKind::KEY_TAKEN, None));
    assert_eq!(refused.status, 200);
    assert!(body_text(&refused).contains("processed/error: duplicate-filename"));

    // Without the setting, or without a file name, no key.
    let (plain, _) = submit(&l);
    assert!(plain.unique_key.is_none(), "no file name, no key");
    named[0] = ("as2-from", "FREE");
    match with_request(&named, |r| l.handle(r)) {
        Decision::Submit { submission, .. } => assert!(submission.unique_key.is_none()),
        Decision::Respond(r) => panic!("answered {}", r.status),
    }
}
