//! A submission with several documents (AS2 multiple attachments): each stored and run, one
//! outcome, the message's duplicate key on the first, part files taken over and cleaned up.

use super::*;

const WRITE_ONCE: &str = "  - write_file:\n      directory: inbox\n      file_name: \"${file_name}\"\n      if_exists: fail\n";

fn doc(name: &str, body: &[u8]) -> PluginDocument {
    let properties = vec![
        Property::new("file_name", name),
        Property::new("as2.message_id", "<m@x>"),
    ];
    PluginDocument::with_payload(body.to_vec(), properties)
}

impl Fixture {
    async fn send_several(&self, process: &Arc<ProcessDef>, names: &[&str]) -> Answer {
        let mut docs: Vec<PluginDocument> = names
            .iter()
            .map(|name| doc(name, format!("body of {name}").as_bytes()))
            .collect();
        let first = docs.remove(0);
        let submission = Submission::new("orders", first)
            .with_duplicate_key("pair\u{1f}<m@x>", 0)
            .with_more_documents(docs);
        let body = Body::Memory(Bytes::from_static(b"the whole message"));
        let evidence = |_: bool| Bytes::from_static(b"POST /as2 HTTP/1.1\r\n\r\nthe whole message");
        self.intake
            .receive(Arrival {
                listener: "test listener",
                process,
                submission,
                pending: self.told.pending(),
                blocking: false,
                body: &body,
                payload_file: None,
                evidence: &evidence,
            })
            .await
    }

    async fn listed(&self) -> Vec<berth_store::Summary> {
        let query = berth_store::Query::default();
        self.store.query(&query).await.unwrap()
    }
}

#[tokio::test]
async fn each_document_is_stored_and_run_and_a_resend_stores_nothing() {
    let fixture = Fixture::new(WRITE_ONCE).await;
    let process = fixture.deploy(WRITE_ONCE);
    let names = ["a.edi", "b.xml", "c.pdf"];
    let answer = fixture.send_several(&process, &names).await;
    assert_eq!(status_of(&answer), 200);
    let (kind, first_id, _) = fixture.told.last();
    assert_eq!(kind, OutcomeKind::ACCEPTED);
    assert_eq!(fixture.told.count(), 1, "one outcome for the message");
    for name in names {
        let written = std::fs::read(fixture.dir.path().join("inbox").join(name)).unwrap();
        assert_eq!(written, format!("body of {name}").as_bytes());
    }
    let listed = fixture.listed().await;
    assert_eq!(listed.len(), 3);
    for summary in &listed {
        let stored = fixture.concluded(&summary.id).await;
        assert_eq!(stored.state, State::Processed);
        let answer = stored.answer.expect("the answer is recorded on each");
        assert_eq!(answer.bytes, b"stored\n");
    }
    let status = fixture.intake.status().of("orders");
    let counted = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        (counted(&status.documents), counted(&status.errors)),
        (3, 0)
    );
    let raw = fixture.store.raw(&first_id).await.unwrap();
    assert!(
        raw.is_some(),
        "the message's evidence is kept with its first document"
    );

    let again = fixture.send_several(&process, &names).await;
    assert_eq!(status_of(&again), 200);
    let (kind, original, _) = fixture.told.last();
    assert_eq!(
        (kind, original.as_str()),
        (OutcomeKind::DUPLICATE, &*first_id)
    );
    let listed = fixture.listed().await;
    let kept: Vec<_> = listed
        .iter()
        .filter(|s| s.state != State::Duplicate)
        .collect();
    assert_eq!(kept.len(), 3, "a resend stores no document again");
    assert_eq!(listed.len(), 4, "the resend itself is one duplicate entry");
}

#[tokio::test]
async fn one_failing_document_fails_the_message_and_the_others_still_run() {
    let fixture = Fixture::new(WRITE_ONCE).await;
    let process = fixture.deploy(WRITE_ONCE);
    let inbox = fixture.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("b.xml"), b"already here").unwrap();
    let answer = fixture
        .send_several(&process, &["a.edi", "b.xml", "c.pdf"])
        .await;
    assert_eq!(status_of(&answer), 500);
    let (kind, _, error) = fixture.told.last();
    assert_eq!(kind, OutcomeKind::FAILED);
    assert!(error.starts_with("attachment 2 of 3 (document "), "{error}");
    assert_eq!(
        std::fs::read(inbox.join("c.pdf")).unwrap(),
        b"body of c.pdf"
    );
    let status = fixture.intake.status().of("orders");
    let counted = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        (counted(&status.documents), counted(&status.errors)),
        (2, 1)
    );
    let mut states: Vec<(String, State)> = Vec::new();
    for summary in fixture.listed().await {
        let stored = fixture.concluded(&summary.id).await;
        let name = stored
            .properties
            .iter()
            .find(|(n, _)| n == "file_name")
            .map(|(_, v)| v.clone())
            .unwrap();
        states.push((name, stored.state));
    }
    states.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        states,
        [
            ("a.edi".to_string(), State::Processed),
            ("b.xml".to_string(), State::Failed),
            ("c.pdf".to_string(), State::Processed),
        ]
    );
}

/// Further documents whose payloads the connector wrote to part files beside the payload file:
/// taken over by the store, run, and every file of the request gone with it, the part the
/// connector wrote and did not submit included.
#[tokio::test]
async fn part_files_become_payloads_and_leave_nothing_behind() {
    let fixture = Fixture::new(WRITE_ONCE).await;
    let process = fixture.deploy(WRITE_ONCE);
    let (body, payload_file) = spooled(fixture.dir.path(), b"the wrapped body").await;
    let base = payload_file.path.to_str().unwrap().to_string();
    let part = |n: usize| berth_connector_sdk::more_documents::part_file_of(&base, n);
    std::fs::write(&payload_file.path, b"first").unwrap();
    std::fs::write(part(1), b"second").unwrap();
    std::fs::write(part(2), b"third").unwrap();
    std::fs::write(part(3), b"never submitted").unwrap();
    let named = |name: &str| vec![Property::new("file_name", name)];
    let submission = Submission::new("orders", PluginDocument::from_payload_file(named("1")))
        .with_more_documents(vec![
            PluginDocument::from_part_file(named("2")),
            PluginDocument::from_part_file(named("3")),
        ]);
    let evidence = |_: bool| -> Bytes { unreachable!("a spooled body keeps its own head") };
    let answer = fixture
        .intake
        .receive(Arrival {
            listener: "test listener",
            process: &process,
            submission,
            pending: fixture.told.pending(),
            blocking: false,
            body: &body,
            payload_file: Some(&payload_file),
            evidence: &evidence,
        })
        .await;
    assert_eq!(status_of(&answer), 200);
    let inbox = fixture.dir.path().join("inbox");
    assert_eq!(std::fs::read(inbox.join("1")).unwrap(), b"first");
    assert_eq!(std::fs::read(inbox.join("2")).unwrap(), b"second");
    assert_eq!(std::fs::read(inbox.join("3")).unwrap(), b"third");
    for summary in fixture.listed().await {
        fixture.concluded(&summary.id).await;
    }
    drop((body, payload_file, answer));
    // What the server's clean-up does when the request ends.
    crate::intake::remove_unused_parts(std::path::Path::new(&base));
    let spool = fixture.dir.path().join("spool");
    let left: Vec<_> = std::fs::read_dir(&spool).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
