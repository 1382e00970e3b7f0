use super::*;
use crate::testutil::keypair;

fn operation(extra: &str) -> As2Operation {
    let json = format!(r#"{{"as2_from":"THEM","as2_to":"US"{extra}}}"#);
    berth_connector_sdk::settings::parse(&json).unwrap()
}

fn pointers(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(|p| p.pointer.to_string()).collect()
}

#[test]
fn times_and_dates_parse_to_unix_seconds() {
    assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Ok(0));
    assert_eq!(parse_instant("2027-01-01T00:00:00Z"), Ok(1_798_761_600));
    assert_eq!(parse_instant("2027-01-01"), Ok(1_798_761_600));
    assert_eq!(parse_instant("2027-01-01t00:00:00.123z"), Ok(1_798_761_600));
    assert_eq!(
        parse_instant("2027-01-01T02:00:00+02:00"),
        Ok(1_798_761_600)
    );
    assert_eq!(
        parse_instant("2026-12-31T22:30:00-01:30"),
        Ok(1_798_761_600)
    );
    assert_eq!(parse_instant("2024-02-29T12:00:00Z"), Ok(1_709_208_000));
    for bad in [
        "",
        "2027",
        "2027-1-01",
        "2027-13-01",
        "2027-02-29",
        "2027-01-01T24:00:00Z",
        "2027-01-01T00:00:00",
        "2027-01-01T00:00:00+2:00",
        "2027-01-01T00:00:00+02:0x",
        "2027-01-01T00:00:00.Z",
        "+027-01-01",
        "2027-01-01é00:00:00Z",
    ] {
        assert!(parse_instant(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_latest_key_whose_time_has_come_signs() {
    let (a, b, c) = (keypair("a"), keypair("b"), keypair("c"));
    let keys = MdnSigningKeys::new(vec![(200, c), (i64::MIN, a), (100, b)]);
    let subject = |now| {
        keys.at(now)
            .map(|k| crate::cms::subject_text(&k.certificate))
    };
    assert_eq!(subject(0).as_deref(), Some("CN=a"));
    assert_eq!(subject(99).as_deref(), Some("CN=a"));
    assert_eq!(subject(100).as_deref(), Some("CN=b"));
    assert_eq!(subject(5_000).as_deref(), Some("CN=c"));
    let later = MdnSigningKeys::new(vec![(100, keypair("d"))]);
    assert!(later.at(99).is_none());
    assert!(MdnSigningKeys::default().current().is_none());
}

#[test]
fn list_forms_are_checked_with_their_pointers() {
    let both = operation(
        r#","partner_certificate":"a.pem","partner_certificates":["b.pem","c.pem","b.pem"],
           "decryption_key":{"key":"k"},"decryption_keys":[{"key":"k1"},{"key":"k1"}],
           "mdn_signing_key":{"key":"m"},"mdn_signing_keys":[{"key":"m1"}]"#,
    );
    assert_eq!(
        pointers(&check(&both)),
        [
            "/partner_certificates",
            "/decryption_keys",
            "/mdn_signing_keys",
            "/partner_certificates/2",
            "/decryption_keys/1/key",
        ]
    );
    let dates = operation(
        r#","mdn_signing_keys":[{"key":"a"},{"key":"b","from":"2027-02-30"},
           {"key":"c","from":"2030-01-01"},{"key":"d","from":"2030-01-01T00:00:00Z"},
           {"key":"e"}]"#,
    );
    let problems = check(&dates);
    assert_eq!(
        pointers(&problems),
        [
            "/mdn_signing_keys/1/from",
            "/mdn_signing_keys/3/from",
            "/mdn_signing_keys/4/from"
        ]
    );
    assert!(problems[0].message.contains("no such date"), "{problems:?}");
    assert!(problems[1].message.contains("entry 2"), "{problems:?}");
    assert!(
        problems[2].message.contains("without `from`"),
        "{problems:?}"
    );
    let not_yet = operation(
        r#","mdn_signing_keys":[{"key":"b","from":"2999-01-01"},{"key":"a","from":"2998-01-01"}]"#,
    );
    let problems = check(&not_yet);
    assert_eq!(pointers(&problems), ["/mdn_signing_keys/1/from"]);
    assert!(problems[0].message.contains("unsigned"), "{problems:?}");
    let fine = operation(
        r#","partner_certificates":["old.pem","new.pem"],
           "decryption_keys":[{"key":"new.key"},{"key":"old.key"}],
           "mdn_signing_keys":[{"key":"old.key"},{"key":"new.key","from":"2999-01-01"}]"#,
    );
    assert!(check(&fine).is_empty(), "{:?}", check(&fine));
    // The list forms satisfy require_signed and require_encrypted.
    let required = operation(
        r#","require_signed":true,"require_encrypted":true,
           "partner_certificates":["p.pem"],"decryption_keys":[{"key":"k"}]"#,
    );
    assert!(super::super::settings::check_operation(&required).is_empty());
}

#[test]
fn list_settings_print_without_their_secrets() {
    let op = operation(
        r#","decryption_keys":[{"key":"one.p12","password":"secret-one"}],
           "mdn_signing_keys":[{"key":"two.p12","password":"secret-two","from":"2027-01-01"}]"#,
    );
    let printed = format!("{op:?}");
    assert!(
        printed.contains("two.p12") && printed.contains("2027-01-01"),
        "{printed}"
    );
    assert!(!printed.contains("secret-"), "{printed}");
}
