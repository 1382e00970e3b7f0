//! Certificates a connector hands over with an immediate answer: stored before the answer is
//! given and known to the listeners' set at once; without a store, kept in memory.

use berth_connector_sdk::abi::Response;
use berth_connector_sdk::exchange::ExchangedCertificate;
use berth_process::Runner;
use berth_store::Store;

use super::Intake;

fn certificate(fingerprint: &str, active_from: i64) -> ExchangedCertificate {
    ExchangedCertificate {
        operation: "orders".into(),
        partner: "PARTNER".into(),
        usages: "digitalSignature".into(),
        certificate_der: vec![0x30, 0x00].into(),
        fingerprint: fingerprint.into(),
        active_from,
        request_id: "r1@partner".into(),
        received_at: 0,
    }
}

fn answer_with(certificates: Vec<ExchangedCertificate>) -> Response {
    let mut response = Response::empty(200);
    response.certificates = certificates.into();
    response
}

#[tokio::test]
async fn stored_before_the_answer_and_handed_to_the_listeners_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let intake = Intake::new(Runner::new(dir.path()), Some(store.clone()));
    let mut changes = intake.exchanged().subscribe();
    let answer = intake
        .respond("as2", answer_with(vec![certificate("ab", 2_000_000_000)]))
        .await;
    assert_eq!(answer.status, 200);
    assert!(answer.certificates.is_empty(), "the host took them over");
    let stored = store.partner_certificates().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].fingerprint, "ab");
    assert_eq!(stored[0].active_from, 2_000_000_000);
    assert!(stored[0].received_at > 0);
    assert!(changes.has_changed().unwrap(), "the listeners are told");
    assert_eq!(*changes.borrow_and_update().as_ref(), stored);
}

#[tokio::test]
async fn without_a_store_they_are_kept_in_memory_and_the_same_one_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let intake = Intake::new(Runner::new(dir.path()), None);
    intake
        .respond(
            "as2",
            answer_with(vec![certificate("ab", 10), certificate("cd", 5)]),
        )
        .await;
    intake
        .respond("as2", answer_with(vec![certificate("ab", 20)]))
        .await;
    let known = intake.exchanged().current();
    let seen: Vec<(&str, i64)> = known
        .iter()
        .map(|c| (c.fingerprint.as_str(), c.active_from))
        .collect();
    assert_eq!(seen, [("cd", 5), ("ab", 20)]);
}
