//! Multiple attachments (RFC 6362) through the real binary, with both AS2 connectors: messages
//! built without berth's code (tests/as2/attachments_message.py: a multipart/related entity
//! written by hand, signed and encrypted by `openssl cms`), each attachment delivered as a
//! document of its own, byte for byte under its own name and MIME type, linked by the message's
//! Message-ID; one signed MDN whose MIC is the one the generator computed over the whole signed
//! entity; a resend answered with that MDN and nothing stored or run again; a message whose
//! one attachment fails answered `processed/error` while the others are delivered; and a large
//! message split into its files in bounded memory.

#[path = "../as2/attachments.rs"]
mod attachments;
#[path = "../as2/common.rs"]
mod common;

use std::time::Duration;

use attachments::*;
use berth_e2e::large::{hash_of, memory_kib};
use berth_e2e::postgres::{write_secret, PgServer};
use berth_e2e::Deployment;
use common::Keys;
use serde_json::json;

#[test]
fn each_attachment_becomes_a_document_answered_by_one_mdn() {
    let (deployment, keys, pairs) = deployment();
    through_both_connectors(&deployment, &keys, &pairs);
}

/// The same on the PostgreSQL store: each attachment's payload goes into its own chunks.
#[test]
fn each_attachment_becomes_a_document_on_postgres() {
    let server = PgServer::shared();
    let db = server.create_database("as2_attachments");
    let store = format!(
        "store:\n  backend: postgres\n  url: {}\n  password_file: secrets/db\n",
        server.url(&db)
    );
    let (deployment, keys, pairs) = deployment_with(&store);
    std::fs::create_dir_all(deployment.path().join("secrets")).unwrap();
    write_secret(
        &deployment.path().join("secrets/db"),
        &format!("{}\n", server.password()),
    );
    through_both_connectors(&deployment, &keys, &pairs);
    let stored = server.sql(
        &db,
        "SELECT count(*) FROM documents WHERE state = 'processed'",
    );
    assert_eq!(stored.trim(), "6");
}

/// Three attachments to each connector, then the same message again.
fn through_both_connectors(
    deployment: &Deployment,
    keys: &Keys,
    pairs: &[(&'static str, String, String)],
) {
    let berth = deployment.start();
    let work = tempfile::tempdir().unwrap();
    let edi = b"ISA*00*          *00*          *ZZ*PARTNER~\r\nST*850*0001~\r\nSE*2*0001~\r\n";
    let xml = b"<?xml version=\"1.0\"?>\n<invoice id=\"7\">\n  <line/>\n</invoice>\n";
    let pdf: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    for (tag, from, url) in pairs {
        let parts = vec![
            part("order.edi", "application/edi-x12", "binary", edi),
            part("invoice.xml", "application/xml", "binary", xml),
            part("scan.pdf", "application/pdf", "base64", &pdf),
        ];
        let message = generate(work.path(), keys, parts);
        let message_id = format!("<attach-{tag}@partner>");
        let mdn = send(url, from, &message_id, &message, keys);
        assert_eq!(mdn.as2_version, "1.2", "{tag}");
        assert!(
            mdn.features.contains("multiple-attachments"),
            "{tag}: {}",
            mdn.features
        );
        assert!(
            mdn.disposition.ends_with("; processed"),
            "{tag}: {}",
            mdn.disposition
        );
        assert_eq!(mdn.mic, format!("{}, sha-256", message.mic), "{tag}");

        let inbox = deployment.path().join("inbox").join(tag);
        let expected: [(&str, &[u8]); 3] =
            [("order.edi", edi), ("invoice.xml", xml), ("scan.pdf", &pdf)];
        for (name, data) in expected {
            let written = std::fs::read(inbox.join(name)).unwrap();
            assert!(written == data, "{tag}: {name} differs from what was sent");
        }
        for (name, len, sha) in &message.parts {
            let mut file = std::fs::File::open(inbox.join(name)).unwrap();
            assert_eq!(hash_of(&mut file), (*len, sha.clone()), "{tag}: {name}");
        }
        berth.wait_for_log(
            &format!("ATTACHMENT|{tag}|scan.pdf|"),
            Duration::from_secs(10),
        );
        let mic = format!("{}, sha-256", message.mic);
        let runs = logged(&berth.log(), tag, &message_id);
        assert_eq!(
            runs,
            [
                (
                    "invoice.xml".into(),
                    "application/xml".into(),
                    "2 of 3".into(),
                    mic.clone()
                ),
                (
                    "order.edi".into(),
                    "application/edi-x12".into(),
                    "1 of 3".into(),
                    mic.clone()
                ),
                (
                    "scan.pdf".into(),
                    "application/pdf".into(),
                    "3 of 3".into(),
                    mic.clone()
                ),
            ],
            "{tag}: the process ran once per attachment, each with its own name and type"
        );
        let processed = |n: &str| ("processed".to_string(), n.to_string());
        let three = [
            processed("invoice.xml"),
            processed("order.edi"),
            processed("scan.pdf"),
        ];
        assert_eq!(documents_of(deployment, &message_id), three, "{tag}");

        // The same message again: the same MDN, nothing stored or run again (the resend itself
        // is listed once, as a duplicate).
        let again = send(url, from, &message_id, &message, keys);
        assert_eq!(
            (&again.disposition, &again.mic),
            (&mdn.disposition, &mdn.mic),
            "{tag}"
        );
        let mut listed = documents_of(deployment, &message_id);
        listed.retain(|(state, _)| state != "duplicate");
        assert_eq!(listed, three, "{tag}: a resend stores no document again");
        assert_eq!(
            logged(&berth.log(), tag, &message_id).len(),
            3,
            "{tag}: not run again"
        );
    }
    drop(berth);
}

#[test]
fn one_failing_attachment_fails_the_message_and_the_others_are_delivered() {
    let (deployment, keys, pairs) = deployment();
    let berth = deployment.start();
    let work = tempfile::tempdir().unwrap();
    for (tag, from, url) in &pairs {
        let inbox = deployment.path().join("inbox").join(tag);
        std::fs::create_dir_all(&inbox).unwrap();
        // The second attachment's name is taken: its `write_file` (if_exists: fail) fails.
        std::fs::write(inbox.join("taken.xml"), b"already here").unwrap();
        let parts = vec![
            part(
                "first.edi",
                "application/edi-x12",
                "binary",
                b"ISA*first~\r\n",
            ),
            part("taken.xml", "application/xml", "binary", b"<taken/>"),
            part("third.txt", "text/plain", "base64", b"the third"),
        ];
        let message = generate(work.path(), &keys, parts);
        let message_id = format!("<failing-{tag}@partner>");
        let mdn = send(url, from, &message_id, &message, &keys);
        assert!(
            mdn.disposition
                .ends_with("; processed/error: unexpected-processing-error"),
            "{tag}: {}",
            mdn.disposition
        );
        assert_eq!(mdn.mic, format!("{}, sha-256", message.mic), "{tag}");
        assert_eq!(
            std::fs::read(inbox.join("first.edi")).unwrap(),
            b"ISA*first~\r\n"
        );
        assert_eq!(
            std::fs::read(inbox.join("third.txt")).unwrap(),
            b"the third"
        );
        assert_eq!(
            std::fs::read(inbox.join("taken.xml")).unwrap(),
            b"already here"
        );
        // Each document keeps its own fate: the failed one can be retried on its own.
        assert_eq!(
            documents_of(&deployment, &message_id),
            [
                ("processed".to_string(), "first.edi".to_string()),
                ("failed".to_string(), "taken.xml".to_string()),
                ("processed".to_string(), "third.txt".to_string()),
            ],
            "{tag}"
        );
        let log = berth.log();
        assert!(
            log.contains("attachment 2 of 3 (document "),
            "{tag}: the failure names the attachment:\n{log}"
        );

        // A multipart entity without its closing delimiter: refused whole, nothing delivered.
        let broken = json!({
            "parts": [part("lost.edi", "application/edi-x12", "binary", b"ISA*lost~")],
            "unterminated": true,
        });
        let message = generate_with(work.path(), &keys, broken);
        let message_id = format!("<broken-{tag}@partner>");
        let mdn = send(url, from, &message_id, &message, &keys);
        assert!(
            mdn.disposition
                .ends_with("; processed/error: unexpected-processing-error"),
            "{tag}: {}",
            mdn.disposition
        );
        assert_eq!(mdn.mic, format!("{}, sha-256", message.mic), "{tag}");
        assert!(!inbox.join("lost.edi").exists(), "{tag}");
        assert!(documents_of(&deployment, &message_id).is_empty(), "{tag}");
        let log = berth.log();
        assert!(
            log.lines().any(|l| l.contains(&message_id)
                && l.contains("the attachments could not be split")
                && l.contains("127.0.0.1:")),
            "{tag}: the refusal is logged with its reason and the peer:\n{log}"
        );
    }
    drop(berth);
}

/// Two attachments of 64 MiB each: streamed from the message into the payload file, split into
/// one file per part, delivered byte for byte, with berth's memory far below their size.
#[test]
fn a_large_message_with_several_attachments_is_split_in_bounded_memory() {
    const PART: u64 = 64 << 20;
    let (deployment, keys, pairs) = deployment();
    let (tag, from, url) = pairs.into_iter().find(|p| p.0 == "L").unwrap();
    let work = tempfile::tempdir().unwrap();
    let parts = vec![
        json!({ "name": "big-1.bin", "type": "application/octet-stream", "cte": "binary", "size": PART }),
        json!({ "name": "big-2.edi", "type": "application/edi-x12", "cte": "binary", "size": PART }),
        part("small.xml", "application/xml", "base64", b"<small/>"),
    ];
    let message = generate(work.path(), &keys, parts);
    let berth = deployment.start();
    let idle = memory_kib(berth.pid()).0 << 10;
    let message_id = "<large-attachments@partner>";
    let mdn = send(&url, &from, message_id, &message, &keys);
    assert!(
        mdn.disposition.ends_with("; processed"),
        "{}",
        mdn.disposition
    );
    assert_eq!(mdn.mic, format!("{}, sha-256", message.mic));
    let inbox = deployment.path().join("inbox").join(tag);
    for (name, len, sha) in &message.parts {
        let mut file = std::fs::File::open(inbox.join(name)).unwrap();
        assert_eq!(hash_of(&mut file), (*len, sha.clone()), "{name}");
    }
    assert_eq!(documents_of(&deployment, message_id).len(), 3);
    let grown = (memory_kib(berth.pid()).0 << 10).saturating_sub(idle);
    let total = 2 * PART;
    eprintln!(
        "peak memory grew by {} MiB (idle peak {} MiB) for {} MiB of attachments",
        grown >> 20,
        idle >> 20,
        total >> 20
    );
    // The target for any size (64 MiB above idle); holding the message whole, or even one
    // attachment with the payload, would take 128 MiB or more.
    assert!(
        grown < 64 << 20,
        "berth's peak memory grew by {} MiB for {} MiB of attachments",
        grown >> 20,
        total >> 20
    );
    let spool = deployment.path().join("data/spool");
    let left = || -> Vec<_> {
        match std::fs::read_dir(&spool) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    };
    assert!(left().is_empty(), "spool files left: {:?}", left());
    // A resend is split again before the host finds it a duplicate: its part files, never
    // taken, go with the request.
    let again = send(&url, &from, message_id, &message, &keys);
    assert_eq!(
        (&again.disposition, &again.mic),
        (&mdn.disposition, &mdn.mic)
    );
    let mut listed = documents_of(&deployment, message_id);
    listed.retain(|(state, _)| state != "duplicate");
    assert_eq!(listed.len(), 3, "a resend stores no document again");
    assert!(left().is_empty(), "spool files left: {:?}", left());
    drop(berth);
}
