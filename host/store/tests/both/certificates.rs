//! Certificates partners exchanged at run time: stored durably, replaced when the same one is
//! sent again, listed by operation and respond-by date, read by the read-only view, kept across
//! a restart.

use berth_store::PartnerCertificate;

use crate::fixture::Fixture;

crate::both!(
    stored_listed_and_kept_across_a_restart,
    the_same_certificate_sent_again_replaces_its_row,
);

fn certificate(operation: &str, fingerprint: &str, active_from: i64) -> PartnerCertificate {
    PartnerCertificate {
        operation: operation.into(),
        partner: "PARTNER".into(),
        usages: "digitalSignature".into(),
        certificate_der: vec![0x30, 0x03, 0x02, 0x01, active_from as u8],
        fingerprint: fingerprint.into(),
        active_from,
        request_id: format!("req-{fingerprint}@partner"),
        received_at: 0,
    }
}

async fn stored_listed_and_kept_across_a_restart(f: &Fixture) {
    let store = f.open();
    assert!(store.partner_certificates().await.unwrap().is_empty());
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    store
        .record_partner_certificates(vec![
            certificate("b", "bb", 20),
            certificate("a", "a2", 30),
            certificate("a", "a1", 10),
        ])
        .await
        .unwrap();
    let listed = store.partner_certificates().await.unwrap();
    let order: Vec<(&str, &str)> = listed
        .iter()
        .map(|c| (c.operation.as_str(), c.fingerprint.as_str()))
        .collect();
    assert_eq!(order, [("a", "a1"), ("a", "a2"), ("b", "bb")]);
    assert_eq!(
        listed[0].certificate_der,
        certificate("a", "a1", 10).certificate_der
    );
    assert_eq!(listed[0].request_id, "req-a1@partner");
    assert!(listed.iter().all(|c| c.received_at >= before), "{listed:?}");
    assert_eq!(listed[0].state(10), "active");
    assert_eq!(listed[1].state(10), "pending");
    drop(store);
    assert_eq!(f.reader().partner_certificates().await.unwrap(), listed);
    let store = f.open();
    assert_eq!(store.partner_certificates().await.unwrap(), listed);
}

async fn the_same_certificate_sent_again_replaces_its_row(f: &Fixture) {
    let store = f.open();
    store
        .record_partner_certificates(vec![certificate("a", "a1", 10)])
        .await
        .unwrap();
    let mut again = certificate("a", "a1", 99);
    again.request_id = "second@partner".into();
    store
        .record_partner_certificates(vec![again, certificate("b", "a1", 5)])
        .await
        .unwrap();
    let listed = store.partner_certificates().await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0].active_from, 99);
    assert_eq!(listed[0].request_id, "second@partner");
    assert_eq!(
        listed[1].operation, "b",
        "another operation's row is its own"
    );
}
