//! The intake in-process: a real store in a temporary folder, real processes loaded from YAML, and
//! a connector's pending answer that records what it was told.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_connector_sdk::abi::{
    Delivery, Outcome, OutcomeKind, OwnedHeader, Property, Response, Submission,
};
use berth_connector_sdk::abi_stable::sabi_trait::TD_Opaque;
use berth_connector_sdk::abi_stable::std_types::{RResult, RString};
use berth_connector_sdk::module::{FfiPending, FfiPending_TO, PendingBox};
use berth_connector_sdk::prelude::Document as PluginDocument;
use berth_process::{load_process, ProcessDef, Runner};
use berth_store::{DeliveryState, State, Store};
use bytes::Bytes;

use super::{Answer, Arrival, Intake};
use crate::body::Body;

mod several;

/// What the connector was told, kept for the test to read; and, when set, the URL its answers
/// promise an asynchronous delivery to.
#[derive(Clone, Default)]
struct Told(
    Arc<Mutex<Vec<(OutcomeKind, String, String)>>>,
    Arc<Mutex<Option<String>>>,
);

struct Pending(Told);

impl FfiPending for Pending {
    fn complete(&mut self, outcome: &Outcome) -> RResult<Response, RString> {
        let told = (
            outcome.kind,
            outcome.document_id.to_string(),
            outcome
                .error
                .as_ref()
                .map_or("", |e| e.as_str())
                .to_string(),
        );
        self.0 .0.lock().unwrap().push(told);
        let mut answer = match outcome.kind {
            OutcomeKind::ACCEPTED => Response::text(200, "stored"),
            OutcomeKind::DUPLICATE => Response::text(200, "duplicate"),
            _ => Response::from_outcome(outcome),
        };
        if let Some(url) = self.0 .1.lock().unwrap().clone() {
            answer.deliveries.push(Delivery {
                url: url.into(),
                method: "POST".into(),
                headers: vec![OwnedHeader::new("Content-Type", "text/plain")].into(),
                body: b"receipt".to_vec().into(),
                verify_hostname: true,
            });
        }
        RResult::ROk(answer)
    }
}

impl Told {
    fn pending(&self) -> PendingBox {
        FfiPending_TO::from_value(Pending(self.clone()), TD_Opaque)
    }

    fn last(&self) -> (OutcomeKind, String, String) {
        self.0
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the connector was told")
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    intake: Intake,
    store: Store,
    told: Told,
}

impl Fixture {
    async fn new(steps: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        let intake = Intake::new(Runner::new(dir.path()), Some(store.clone()));
        let fixture = Fixture {
            dir,
            intake,
            store,
            told: Told::default(),
        };
        fixture.deploy(steps);
        fixture
    }

    /// (Re)deploy the process `orders` with these steps.
    fn deploy(&self, steps: &str) -> Arc<ProcessDef> {
        let file = self.dir.path().join("orders.yaml");
        let yaml =
            format!("name: orders\nstart:\n  connector: test\n  operation: {{}}\nsteps:\n{steps}");
        std::fs::write(&file, yaml).unwrap();
        let process = Arc::new(load_process(&file).expect("the test process loads"));
        self.intake.deploy([&process]);
        process
    }

    async fn send(&self, process: &Arc<ProcessDef>, body: &str, key: Option<&str>) -> Answer {
        let properties = vec![Property::new("file_name", "order.txt")];
        let mut submission = Submission::new(
            "orders",
            PluginDocument::with_payload(body.as_bytes().to_vec(), properties),
        );
        submission.duplicate_key = key.map(RString::from).into();
        let body = Body::Memory(Bytes::from(body.to_string()));
        let evidence = |_: bool| Bytes::from_static(b"POST /orders HTTP/1.1\r\n\r\n");
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

    /// The stored document once its outcome and answer are recorded (written after the answer).
    async fn concluded(&self, id: &str) -> berth_store::StoredDocument {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stored = self
                .store
                .get(id)
                .await
                .unwrap()
                .expect("the document is stored");
            if stored.answer.is_some() || Instant::now() > deadline {
                return stored;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn status_of(answer: &Answer) -> u16 {
    match answer {
        Answer::Connector { response, .. } => response.status,
        Answer::Paused => 503,
        Answer::ConnectorFailed => 500,
        Answer::Refused(_) => 503,
    }
}

const WRITE: &str = "  - write_file:\n      directory: inbox\n      file_name: \"${file_name}\"\n";

#[tokio::test]
async fn an_accepted_document_is_stored_run_and_its_answer_recorded() {
    let fixture = Fixture::new(WRITE).await;
    let process = fixture.deploy(WRITE);
    let answer = fixture.send(&process, "order 1", None).await;
    assert_eq!(status_of(&answer), 200);
    let (kind, id, _) = fixture.told.last();
    assert_eq!(kind, OutcomeKind::ACCEPTED);
    let written = std::fs::read(fixture.dir.path().join("inbox/order.txt")).unwrap();
    assert_eq!(written, b"order 1");
    let stored = fixture.concluded(&id).await;
    assert_eq!(stored.state, State::Processed);
    let answer = stored.answer.expect("the answer is recorded");
    assert_eq!(answer.summary, "200");
    assert_eq!(answer.bytes, b"stored\n");
    let status = fixture.intake.status().of("orders");
    assert_eq!(
        status.documents.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn a_paused_listener_stores_nothing_and_does_not_ask_the_connector() {
    let fixture = Fixture::new(WRITE).await;
    let process = fixture.deploy(WRITE);
    let status = fixture.intake.status().of("orders");
    status.up();
    status.pause().unwrap();
    let answer = fixture.send(&process, "order 1", None).await;
    assert!(matches!(answer, Answer::Paused));
    assert_eq!(fixture.told.count(), 0);
    let listed = fixture
        .store
        .query(&berth_store::Query::default())
        .await
        .unwrap();
    assert!(listed.is_empty(), "nothing stored while paused");
}

#[tokio::test]
async fn a_resend_gets_the_stored_answer_and_does_not_run_again() {
    let fixture = Fixture::new(WRITE).await;
    let process = fixture.deploy(WRITE);
    fixture.send(&process, "order 1", Some("A|B|m1")).await;
    let (_, original, _) = fixture.told.last();
    fixture.concluded(&original).await;
    std::fs::remove_file(fixture.dir.path().join("inbox/order.txt")).unwrap();
    fixture.send(&process, "order 1", Some("A|B|m1")).await;
    let (kind, id, _) = fixture.told.last();
    assert_eq!(kind, OutcomeKind::DUPLICATE);
    assert_eq!(id, original, "the duplicate names the original");
    assert!(
        !fixture.dir.path().join("inbox/order.txt").exists(),
        "a duplicate's steps do not run"
    );
}

#[tokio::test]
async fn a_unique_key_received_before_is_refused_and_not_run() {
    let fixture = Fixture::new(WRITE).await;
    let process = fixture.deploy(WRITE);
    let send = |body: &'static str, message: &'static str| {
        let properties = vec![Property::new("file_name", "order.txt")];
        let submission = Submission::new(
            "orders",
            PluginDocument::with_payload(body.as_bytes().to_vec(), properties),
        )
        .with_duplicate_key(message, 0)
        .with_unique_key("A|B|order.txt");
        let body = Body::Memory(Bytes::from(body));
        let evidence = |_: bool| Bytes::from_static(b"POST /orders HTTP/1.1\r\n\r\n");
        let fixture = &fixture;
        let process = &process;
        async move {
            fixture
                .intake
                .receive(Arrival {
                    listener: "test listener",
                    process,
                    submission,
                    pending: fixture.told.pending(),
                    blocking: false,
                    body: &body,
                    payload_file: None,
                    evidence: &evidence,
                })
                .await
        }
    };
    send("order 1", "A|B|m1").await;
    let (kind, original, _) = fixture.told.last();
    assert_eq!(kind, OutcomeKind::ACCEPTED);
    std::fs::remove_file(fixture.dir.path().join("inbox/order.txt")).unwrap();
    send("order 2", "A|B|m2").await;
    let (kind, holder, _) = fixture.told.last();
    assert_eq!(kind, OutcomeKind::KEY_TAKEN);
    assert_eq!(holder, original, "the refusal names the holder");
    assert!(
        !fixture.dir.path().join("inbox/order.txt").exists(),
        "a refused document's steps do not run"
    );
    let listed = fixture
        .store
        .query(&berth_store::Query::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "nothing stored for the refused one");
}

#[tokio::test]
async fn a_failed_document_is_recorded_and_a_retry_runs_the_live_process() {
    let fixture = Fixture::new(WRITE).await;
    // A file where the folder should be: write_file fails.
    std::fs::write(fixture.dir.path().join("inbox"), b"in the way").unwrap();
    let process = fixture.deploy(WRITE);
    let answer = fixture.send(&process, "order 1", None).await;
    assert_eq!(status_of(&answer), 500);
    let (kind, id, error) = fixture.told.last();
    assert_eq!(kind, OutcomeKind::FAILED);
    assert!(
        error.contains("write_file: cannot create folder"),
        "{error}"
    );
    let stored = fixture.concluded(&id).await;
    assert_eq!(stored.state, State::Failed);
    assert_eq!(stored.error.as_deref(), Some(error.as_str()));

    // Redeployed to another folder: the retry runs the new version.
    fixture
        .deploy("  - write_file:\n      directory: retried\n      file_name: \"${file_name}\"\n");
    let report = fixture
        .intake
        .retry(std::slice::from_ref(&id), false)
        .await
        .unwrap();
    assert_eq!(report, format!("{id}: processed\n1 processed, 0 failed\n"));
    assert_eq!(
        std::fs::read(fixture.dir.path().join("retried/order.txt")).unwrap(),
        b"order 1"
    );
    assert_eq!(
        fixture.store.get(&id).await.unwrap().unwrap().state,
        State::Processed
    );
}

#[tokio::test]
async fn unfinished_documents_run_again_and_an_undeployed_process_fails_them() {
    let fixture = Fixture::new(WRITE).await;
    let process = fixture.deploy(WRITE);
    let mut ids = Vec::new();
    for (name, body) in [("orders", "order 1"), ("gone", "order 2")] {
        let id = crate::ids::new_document_id();
        let new = berth_store::NewDocument {
            id: id.clone(),
            process: name.to_string(),
            payload: Bytes::from(body).into(),
            properties: vec![("file_name".into(), format!("{name}.txt"))],
            raw: None,
            duplicate_key: None,
            duplicate_window: 0,
            unique_key: None,
        };
        fixture.store.receive(new).await.unwrap();
        ids.push(id);
    }
    drop(process);
    fixture.intake.recover().await;
    let recovered = fixture.store.get(&ids[0]).await.unwrap().unwrap();
    assert_eq!(recovered.state, State::Processed);
    assert_eq!(
        std::fs::read(fixture.dir.path().join("inbox/orders.txt")).unwrap(),
        b"order 1"
    );
    let orphan = fixture.store.get(&ids[1]).await.unwrap().unwrap();
    assert_eq!(orphan.state, State::Failed);
    assert_eq!(
        orphan.error.as_deref(),
        Some("process `gone` is not deployed")
    );
}

#[tokio::test]
async fn a_promised_delivery_is_committed_with_the_outcome_before_the_answer() {
    let fixture = Fixture::new(WRITE).await;
    let process = fixture.deploy(WRITE);
    *fixture.told.1.lock().unwrap() = Some("http://127.0.0.1:9/mdn".into());
    let answer = fixture.send(&process, "order 1", Some("A|B|m1")).await;
    let Answer::Connector { response, .. } = answer else {
        panic!("the connector answers");
    };
    assert!(response.deliveries.is_empty(), "the host took them over");
    // Already committed when the answer is given (no worker runs here: nothing sends it).
    let (_, id, _) = fixture.told.last();
    let stored = fixture.store.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.state, State::Processed);
    assert_eq!(stored.answer.unwrap().summary, "200");
    let deliveries = fixture.store.deliveries(&id).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert_eq!(delivery.request.url, "http://127.0.0.1:9/mdn");
    assert_eq!(delivery.request.listener, "test listener");
    assert_eq!(delivery.request.body, b"receipt");
    assert_eq!(
        delivery.request.headers,
        [("Content-Type".to_string(), "text/plain".to_string())]
    );

    // A resend's replayed answer promises a delivery too: kept under the resend's record.
    fixture.send(&process, "order 1", Some("A|B|m1")).await;
    let resends = fixture
        .store
        .query(&berth_store::Query {
            state: Some(State::Duplicate),
            ..berth_store::Query::default()
        })
        .await
        .unwrap();
    assert_eq!(resends.len(), 1);
    assert_eq!(
        fixture
            .store
            .deliveries(&resends[0].id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(fixture.store.deliveries(&id).await.unwrap().len(), 1);
}

/// A spooled request in `dir`: its body file and the payload file offered beside it.
async fn spooled(dir: &std::path::Path, body: &[u8]) -> (Body, Arc<crate::body::SpoolFile>) {
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let path = spool.join(format!("{}-0.request", std::process::id()));
    std::fs::write(&path, body).unwrap();
    let file = crate::body::SpoolFile {
        path: path.clone(),
        len: body.len() as u64,
        head: Bytes::from_static(b"POST /as2 HTTP/1.1\r\n\r\n"),
    };
    let payload_file = crate::body::SpoolFile::create_beside(&path).await.unwrap();
    (Body::Spooled(Arc::new(file)), Arc::new(payload_file))
}

/// A connector that unwraps a spooled body writes the payload into the file the host offered:
/// the store takes that file over, the steps read it, the evidence is the head and the body,
/// and both files go with the request.
#[tokio::test]
async fn a_payload_the_connector_wrote_to_the_offered_file_is_stored_and_run() {
    let fixture = Fixture::new(WRITE).await;
    let process = fixture.deploy(WRITE);
    let (body, payload_file) = spooled(fixture.dir.path(), b"the wrapped body").await;
    let unwrapped: Vec<u8> = (0..(1u32 << 20) + 7).map(|i| (i % 251) as u8).collect();
    // What the connector's `handle` does with `Request::payload_file`.
    std::fs::write(&payload_file.path, &unwrapped).unwrap();
    let properties = vec![Property::new("file_name", "order.txt")];
    let submission = Submission::new("orders", PluginDocument::from_payload_file(properties));
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
    let (kind, id, _) = fixture.told.last();
    assert_eq!(kind, OutcomeKind::ACCEPTED);
    let written = std::fs::read(fixture.dir.path().join("inbox/order.txt")).unwrap();
    assert!(written == unwrapped, "write_file got the payload file");
    let stored = fixture.concluded(&id).await;
    assert!(stored.payload.load().await.unwrap() == unwrapped);
    let raw = fixture.store.raw(&id).await.unwrap().unwrap();
    assert_eq!(
        &raw.load().await.unwrap()[..],
        b"POST /as2 HTTP/1.1\r\n\r\nthe wrapped body"
    );
    let spool = fixture.dir.path().join("spool");
    drop((body, payload_file, answer));
    let left: Vec<_> = std::fs::read_dir(&spool).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A connector that names the payload file when none was offered (the body was in memory) gets
/// its document refused, not an empty payload.
#[tokio::test]
async fn a_payload_file_that_was_not_offered_refuses_the_document() {
    let fixture = Fixture::new(WRITE).await;
    let process = fixture.deploy(WRITE);
    let submission = Submission::new("orders", PluginDocument::from_payload_file(Vec::new()));
    let body = Body::Memory(Bytes::from_static(b"x"));
    let evidence = |_: bool| Bytes::new();
    let answer = fixture
        .intake
        .receive(Arrival {
            listener: "test listener",
            process: &process,
            submission,
            pending: fixture.told.pending(),
            blocking: false,
            body: &body,
            payload_file: None,
            evidence: &evidence,
        })
        .await;
    assert_eq!(status_of(&answer), 503);
    assert_eq!(fixture.told.last().0, OutcomeKind::REFUSED);
    let listed = fixture
        .store
        .query(&berth_store::Query::default())
        .await
        .unwrap();
    assert!(listed.is_empty(), "nothing stored");
}
