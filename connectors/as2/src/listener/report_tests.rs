use super::*;
use crate::testutil::keypair;

fn operation(extra: &str) -> As2Operation {
    let json = format!(r#"{{"as2_from":"THEM","as2_to":"US"{extra}}}"#);
    berth_connector_sdk::settings::parse(&json).unwrap()
}

fn write_pem(dir: &Path, name: &str, pem: &[u8]) {
    std::fs::write(dir.join(name), pem).unwrap();
}

#[test]
fn every_role_is_reported_with_its_pointer_and_key_check() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, other, theirs) = (keypair("ours"), keypair("other"), keypair("theirs"));
    write_pem(
        dir.path(),
        "theirs.pem",
        &theirs.certificate.to_pem().unwrap(),
    );
    write_pem(dir.path(), "ours.crt", &ours.certificate.to_pem().unwrap());
    let key_pem = ours.private_key.private_key_to_pem_pkcs8().unwrap();
    write_pem(dir.path(), "ours.key", &key_pem);
    let other_key = other.private_key.private_key_to_pem_pkcs8().unwrap();
    write_pem(dir.path(), "other.key", &other_key);
    let op = operation(
        r#","partner_certificates":["theirs.pem","missing.pem"],
           "decryption_key":{"key":"ours.key","certificate":"ours.crt"},
           "mdn_signing_keys":[{"key":"other.key","certificate":"ours.crt"}]"#,
    );
    let uses = operation_certificates(dir.path(), &op);
    let summary: Vec<(&str, &str, &str, KeyCheck)> = uses
        .iter()
        .map(|u| (u.role.as_str(), u.file.as_str(), u.pointer.as_str(), u.key))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "partner-signature",
                "theirs.pem",
                "/partner_certificates/0",
                KeyCheck::NO_KEY
            ),
            (
                "partner-signature",
                "missing.pem",
                "/partner_certificates/1",
                KeyCheck::NO_KEY
            ),
            (
                "decryption",
                "ours.crt",
                "/decryption_key/key",
                KeyCheck::MATCHES
            ),
            (
                "mdn-signing",
                "ours.crt",
                "/mdn_signing_keys/0/key",
                KeyCheck::MISMATCH
            ),
        ]
    );
    assert_eq!(
        uses[0].certificates[0].as_slice(),
        theirs.certificate.to_der().unwrap().as_slice()
    );
    assert!(uses[1].error.is_some(), "a missing file says why");
    assert_eq!(
        uses[3].key_file.as_ref().map(|f| f.as_str()).into_option(),
        Some("other.key")
    );
}

#[test]
fn the_legacy_connections_https_certificate_is_left_to_the_host() {
    let connection: LegacyConnection = berth_connector_sdk::settings::parse(
        r#"{"port": 8080, "tls": {"port": 8443, "certificate": "c.pem", "private_key": "k.pem"}}"#,
    )
    .unwrap();
    let uses = connection_certificates(Path::new("/d"), &connection);
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0].role.as_str(), "tls");
    assert_eq!(uses[0].key, KeyCheck::BY_HOST);
    assert!(uses[0].tls.is_some());
    let plain: LegacyConnection =
        berth_connector_sdk::settings::parse(r#"{"port": 8080}"#).unwrap();
    assert!(connection_certificates(Path::new("/d"), &plain).is_empty());
}
