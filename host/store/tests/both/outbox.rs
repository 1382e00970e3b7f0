//! The outbox: deliveries committed with the answer that promises them, claimed with a lease,
//! attempted, retried, delivered or given up, and kept across a restart.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_store::{
    Answer, Attempt, AttemptOutcome, DeliveryState, Finish, Imported, NewDelivery, Payload, State,
    StoreError,
};

use crate::common::doc;
use crate::fixture::{Fixture, Kind};

crate::both!(
    committed_with_the_answer,
    claimed_attempted_and_finished,
    a_claim_runs_out_or_is_released,
    pending_deliveries_survive_a_restart,
    enqueued_without_an_outcome,
    claimers_never_share_a_delivery,
    purged_with_their_document,
    copied_with_their_document,
);

const LEASE: Duration = Duration::from_secs(60);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn mdn(url: &str) -> NewDelivery {
    NewDelivery {
        listener: "as2-in".into(),
        method: "POST".into(),
        url: url.into(),
        headers: vec![
            (
                "Content-Type".into(),
                "multipart/report; report-type=disposition-notification".into(),
            ),
            ("AS2-From".into(), "US".into()),
        ],
        body: b"the MDN".to_vec(),
        verify_hostname: true,
    }
}

fn answer() -> Option<Answer> {
    Some(Answer {
        summary: "processed".into(),
        bytes: b"the MDN as evidence".to_vec(),
    })
}

fn attempt(result: &str) -> Attempt {
    Attempt {
        at: now(),
        result: result.into(),
    }
}

async fn committed_with_the_answer(f: &Fixture) {
    let store = f.open();
    store.receive(doc("a", "as2")).await.unwrap();
    let before = now();
    store
        .conclude_with("a", Finish::Processed, answer(), vec![mdn("http://p/mdn")])
        .await
        .unwrap();
    let got = store.get("a").await.unwrap().unwrap();
    assert_eq!(got.state, State::Processed);
    let deliveries = store.deliveries("a").await.unwrap();
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(d.document_id.as_deref(), Some("a"));
    assert_eq!(d.request, mdn("http://p/mdn"));
    assert_eq!(d.state, DeliveryState::Pending);
    assert!(d.attempts.is_empty());
    assert!(d.created_at >= before && d.next_attempt_at == d.created_at);
    // The read-only view beside the host sees them too.
    assert_eq!(f.reader().deliveries("a").await.unwrap(), deliveries);

    // A refused conclusion writes no delivery either.
    assert!(matches!(
        store
            .conclude_with(
                "a",
                Finish::Processed,
                answer(),
                vec![mdn("http://p/again")]
            )
            .await,
        Err(StoreError::WrongState { .. })
    ));
    assert!(matches!(
        store
            .conclude_with("nope", Finish::Processed, answer(), vec![mdn("http://p/x")])
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.deliveries("a").await.unwrap().len(), 1);
    assert!(store.deliveries("nope").await.unwrap().is_empty());
}

async fn claimed_attempted_and_finished(f: &Fixture) {
    let store = f.open();
    for id in ["a", "b"] {
        store.receive(doc(id, "as2")).await.unwrap();
        let url = format!("http://p/{id}");
        store
            .conclude_with(id, Finish::Processed, answer(), vec![mdn(&url)])
            .await
            .unwrap();
    }
    assert!(store.next_delivery_due().await.unwrap().unwrap() <= now());
    let claimed = store.claim_deliveries("node-1", LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].document_id.as_deref(), Some("a"));
    // Claimed: nobody else gets them, and the next one is due when the lease ends.
    assert!(store
        .claim_deliveries("node-2", LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store.next_delivery_due().await.unwrap().unwrap() > now() + 50_000);

    // a: refused once, retried later; b: given up at once.
    let later = now() + 3_600_000;
    let (a, b) = (claimed[0].id, claimed[1].id);
    store
        .record_attempt(
            a,
            "node-1",
            attempt("503 Service Unavailable"),
            AttemptOutcome::RetryAt(later),
        )
        .await
        .unwrap();
    store
        .record_attempt(
            b,
            "node-1",
            attempt("connection refused"),
            AttemptOutcome::GiveUp,
        )
        .await
        .unwrap();
    let got = &store.deliveries("a").await.unwrap()[0];
    assert_eq!(
        (got.state, got.next_attempt_at),
        (DeliveryState::Pending, later)
    );
    assert_eq!(got.attempts.len(), 1);
    assert_eq!(got.attempts[0].result, "503 Service Unavailable");
    let got = &store.deliveries("b").await.unwrap()[0];
    assert_eq!(got.state, DeliveryState::Failed);
    assert_eq!(got.attempts[0].result, "connection refused");
    // Not due yet; a failed one never again.
    assert!(store
        .claim_deliveries("node-2", LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_delivery_due().await.unwrap(), Some(later));

    // A claimer whose claim has ended records an attempt: kept, but the state stays.
    store
        .record_attempt(
            a,
            "node-1",
            attempt("not mine any more"),
            AttemptOutcome::RetryAt(0),
        )
        .await
        .unwrap();
    let got = &store.deliveries("a").await.unwrap()[0];
    assert_eq!(
        (got.next_attempt_at, got.attempts.len()),
        (later, 2),
        "an attempt recorded by a claimer that no longer holds it changes nothing but the record"
    );
    assert!(store
        .claim_deliveries("node-2", LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    // The retry time holds across a restart.
    drop(store);
    let store = f.open();
    assert_eq!(store.next_delivery_due().await.unwrap(), Some(later));
}

async fn a_claim_runs_out_or_is_released(f: &Fixture) {
    let store = f.open();
    store.enqueue(None, vec![mdn("http://p/1")]).await.unwrap();
    // A lease that has already run out: another claimer takes the delivery (a dead node's).
    let first = store
        .claim_deliveries("dead", Duration::ZERO, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = store.claim_deliveries("live", LEASE, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    // The dead node's late record keeps the attempt, but does not end the live one's claim.
    store
        .record_attempt(
            first[0].id,
            "dead",
            attempt("timed out"),
            AttemptOutcome::GiveUp,
        )
        .await
        .unwrap();
    assert!(store
        .claim_deliveries("other", LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    // Released by its claimer (a stopping node): the next claimer gets it at once.
    store.release_deliveries("live").await.unwrap();
    let third = store.claim_deliveries("other", LEASE, 10).await.unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].state, DeliveryState::Pending);
    assert_eq!(third[0].attempts.len(), 1);
    store
        .record_attempt(
            third[0].id,
            "other",
            attempt("200 OK"),
            AttemptOutcome::Delivered,
        )
        .await
        .unwrap();
    assert_eq!(store.next_delivery_due().await.unwrap(), None);
}

async fn pending_deliveries_survive_a_restart(f: &Fixture) {
    let store = f.open();
    store.receive(doc("a", "as2")).await.unwrap();
    store
        .conclude_with("a", Finish::Processed, answer(), vec![mdn("http://p/a")])
        .await
        .unwrap();
    // Claimed when the process stopped without releasing it.
    let claimed = store.claim_deliveries("gone", LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    drop(store);
    let store = f.open();
    let got = &store.deliveries("a").await.unwrap()[0];
    assert_eq!(got.state, DeliveryState::Pending);
    let again = store.claim_deliveries("next", LEASE, 10).await.unwrap();
    match f.kind {
        // One process owns an embedded store: the claims of the one before are void at open.
        crate::fixture::Kind::Sqlite => assert_eq!(again.len(), 1),
        // Another node may still hold it: it waits for the lease.
        crate::fixture::Kind::Postgres => {
            assert!(again.is_empty());
            store.release_deliveries("gone").await.unwrap();
            assert_eq!(
                store
                    .claim_deliveries("next", LEASE, 10)
                    .await
                    .unwrap()
                    .len(),
                1
            );
        }
    }
}

async fn enqueued_without_an_outcome(f: &Fixture) {
    let store = f.open();
    store.receive(doc("resend", "as2")).await.unwrap();
    store
        .enqueue(Some("resend"), vec![mdn("http://p/r")])
        .await
        .unwrap();
    assert_eq!(store.deliveries("resend").await.unwrap().len(), 1);
    // The document stays as it was.
    assert_eq!(store.get("resend").await.unwrap().unwrap().history.len(), 1);
    assert!(matches!(
        store
            .enqueue(Some("missing"), vec![mdn("http://p/m")])
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .enqueue(None, vec![mdn("http://p/none")])
        .await
        .unwrap();
    store.enqueue(None, vec![]).await.unwrap();
    let claimed = store.claim_deliveries("n", LEASE, 10).await.unwrap();
    let urls: HashSet<&str> = claimed.iter().map(|d| d.request.url.as_str()).collect();
    assert_eq!(urls, HashSet::from(["http://p/r", "http://p/none"]));
}

async fn claimers_never_share_a_delivery(f: &Fixture) {
    const COUNT: usize = 40;
    let store = f.open();
    let batch: Vec<NewDelivery> = (0..COUNT).map(|i| mdn(&format!("http://p/{i}"))).collect();
    store.enqueue(None, batch).await.unwrap();
    // Four claimers at once: on PostgreSQL each with a store of its own (its own connections),
    // as nodes would be; the embedded store has one owner, whose tasks claim side by side.
    let claimers: Vec<_> = (0..4)
        .map(|n| {
            let store = match f.kind {
                crate::fixture::Kind::Sqlite => store.clone(),
                crate::fixture::Kind::Postgres => f.open(),
            };
            tokio::spawn(async move {
                let mut mine = Vec::new();
                for _ in 0..COUNT {
                    let claimed = store
                        .claim_deliveries(&format!("node-{n}"), LEASE, 3)
                        .await
                        .unwrap();
                    if claimed.is_empty() {
                        break;
                    }
                    mine.extend(claimed.into_iter().map(|d| d.id));
                }
                mine
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for claimer in claimers {
        for id in claimer.await.unwrap() {
            assert!(seen.insert(id), "delivery {id} claimed twice");
        }
    }
    assert_eq!(seen.len(), COUNT);
}

async fn purged_with_their_document(f: &Fixture) {
    let store = f.open();
    store.receive(doc("old", "as2")).await.unwrap();
    store
        .conclude_with(
            "old",
            Finish::Processed,
            answer(),
            vec![mdn("http://p/old")],
        )
        .await
        .unwrap();
    let claimed = store.claim_deliveries("n", LEASE, 10).await.unwrap();
    store
        .record_attempt(
            claimed[0].id,
            "n",
            attempt("200 OK"),
            AttemptOutcome::Delivered,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(store.purge(Duration::ZERO, false).await.unwrap(), 1);
    assert!(store.deliveries("old").await.unwrap().is_empty());
    // A document received anew under the purged id starts with no deliveries.
    store.receive(doc("old", "as2")).await.unwrap();
    assert!(store.deliveries("old").await.unwrap().is_empty());
}

/// `berth store copy` takes a document's deliveries along, as they were (state, times,
/// attempts), into the other backend; a pending one is claimable there, claims are not copied.
async fn copied_with_their_document(f: &Fixture) {
    let source = f.open();
    for id in ["waiting", "done"] {
        source.receive(doc(id, "as2")).await.unwrap();
        let url = format!("http://p/{id}");
        source
            .conclude_with(id, Finish::Processed, answer(), vec![mdn(&url)])
            .await
            .unwrap();
    }
    let claimed = source.claim_deliveries("n", LEASE, 10).await.unwrap();
    let (waiting, done) = (claimed[0].id, claimed[1].id);
    let refused = attempt("503 Service Unavailable");
    source
        .record_attempt(waiting, "n", refused, AttemptOutcome::RetryAt(1))
        .await
        .unwrap();
    source
        .record_attempt(done, "n", attempt("200 OK"), AttemptOutcome::Delivered)
        .await
        .unwrap();
    // Claimed again in the source when the copy is made: the claim stays behind.
    assert_eq!(
        source.claim_deliveries("n", LEASE, 10).await.unwrap().len(),
        1
    );

    let other = Fixture::new(match f.kind {
        Kind::Sqlite => Kind::Postgres,
        Kind::Postgres => Kind::Sqlite,
    });
    let target = other.open();
    for id in ["waiting", "done"] {
        let document = source.get(id).await.unwrap().unwrap();
        let payload = Payload::Bytes(document.payload.bytes().unwrap());
        let keys = source.duplicate_keys(id).await.unwrap().unwrap();
        let deliveries = source.deliveries(id).await.unwrap();
        let imported = Imported::new(document, payload, None, keys).with_deliveries(deliveries);
        target.import(imported).await.unwrap();
        let strip = |mut ds: Vec<berth_store::Delivery>| {
            ds.iter_mut().for_each(|d| d.id = 0);
            ds
        };
        assert_eq!(
            strip(target.deliveries(id).await.unwrap()),
            strip(source.deliveries(id).await.unwrap()),
            "{id}"
        );
    }
    let claimable = target.claim_deliveries("m", LEASE, 10).await.unwrap();
    assert_eq!(claimable.len(), 1);
    assert_eq!(claimable[0].document_id.as_deref(), Some("waiting"));
    assert_eq!(claimable[0].attempts.len(), 1);
    assert_eq!(
        target.deliveries("done").await.unwrap()[0].state,
        DeliveryState::Delivered
    );
}
