use super::*;
use crate::settings::parse;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WithFiles {
    tls: Option<TlsFiles>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WithPort {
    tls: Option<TlsPort>,
}

#[test]
fn files_read_every_field() {
    let parsed = parse::<WithFiles>(r#"{"tls":{"pkcs12":"a.p12","password":"pw"}}"#).unwrap();
    let files = parsed.tls.unwrap();
    assert_eq!(files.pkcs12.as_deref(), Some("a.p12"));
    assert_eq!(files.password.unwrap().expose(), "pw");
    let parsed =
        parse::<WithFiles>(r#"{"tls":{"certificate":"c.pem","private_key":"k.pem"}}"#).unwrap();
    let files = parsed.tls.unwrap();
    assert_eq!(files.certificate.as_deref(), Some("c.pem"));
    assert_eq!(files.private_key.as_deref(), Some("k.pem"));
}

#[test]
fn a_port_section_reads_the_port_and_the_files() {
    let json = r#"{"tls":{"port":8443,"certificate":"c.pem","private_key":"k.pem"}}"#;
    let tls = parse::<WithPort>(json).unwrap().tls.unwrap();
    assert_eq!(tls.port, 8443);
    assert_eq!(tls.files.certificate.as_deref(), Some("c.pem"));
    assert!(tls.check("/tls", 8080).is_empty());
}

#[test]
fn unknown_fields_are_refused_at_the_field() {
    let err = parse::<WithFiles>(r#"{"tls":{"certificate":"c","bogus":1}}"#).unwrap_err();
    assert_eq!(err.pointer.as_str(), "/tls/bogus");
    assert_eq!(
        err.message.as_str(),
        "unknown field `bogus`, expected one of `certificate`, `private_key`, `pkcs12`, `password`"
    );
    let err = parse::<WithPort>(r#"{"tls":{"port":1,"bogus":1}}"#).unwrap_err();
    assert_eq!(err.pointer.as_str(), "/tls/bogus");
    assert_eq!(
        err.message.as_str(),
        "unknown field `bogus`, expected one of `port`, `certificate`, `private_key`, `pkcs12`, \
         `password`"
    );
    // A port belongs to the sections that have one.
    let err = parse::<WithFiles>(r#"{"tls":{"port":1}}"#).unwrap_err();
    assert_eq!(err.pointer.as_str(), "/tls/port");
    assert!(
        err.message.starts_with("unknown field `port`"),
        "{}",
        err.message
    );
}

#[test]
fn wrong_types_and_a_missing_port_are_reported_where_they_are() {
    let err = parse::<WithPort>(r#"{"tls":{"port":"x"}}"#).unwrap_err();
    assert_eq!(err.pointer.as_str(), "/tls/port");
    assert!(err.message.contains("expected u16"), "{}", err.message);
    let err = parse::<WithPort>(r#"{"tls":{"certificate":1,"port":1}}"#).unwrap_err();
    assert_eq!(err.pointer.as_str(), "/tls/certificate");
    let err = parse::<WithPort>(r#"{"tls":{"certificate":"c"}}"#).unwrap_err();
    assert_eq!(err.pointer.as_str(), "/tls");
    assert_eq!(err.message.as_str(), "missing field `port`");
}

#[test]
fn debug_never_prints_the_password() {
    let json = r#"{"tls":{"port":8443,"pkcs12":"server.p12","password":"s3cret"}}"#;
    let tls = parse::<WithPort>(json).unwrap().tls.unwrap();
    for printed in [
        format!("{tls:?}"),
        format!("{:?}", tls.files),
        format!("{:?}", tls.files.resolve_in(Path::new("/d")).unwrap()),
    ] {
        assert!(printed.contains("server.p12"), "{printed}");
        assert!(!printed.contains("s3cret"), "{printed}");
    }
}

#[test]
fn files_resolve_against_the_folder() {
    let pem = TlsFiles {
        certificate: Some("c.pem".into()),
        private_key: Some("k.pem".into()),
        ..TlsFiles::default()
    };
    assert_eq!(
        pem.resolve_in(Path::new("/d")).unwrap(),
        Tls::Pem {
            certificate_file: "/d/c.pem".into(),
            private_key_file: "/d/k.pem".into(),
        }
    );
    let p12 = TlsFiles {
        pkcs12: Some("a.p12".into()),
        password: Some("pw".into()),
        ..TlsFiles::default()
    };
    assert_eq!(
        p12.resolve_in(Path::new("/d")).unwrap(),
        Tls::Pkcs12 {
            file: "/d/a.p12".into(),
            password: "pw".into(),
        }
    );
    assert!(TlsFiles::default().resolve_in(Path::new("/d")).is_err());
}

#[test]
fn port_checks() {
    let tls = |port| TlsPort {
        port,
        files: TlsFiles {
            pkcs12: Some("a.p12".into()),
            ..TlsFiles::default()
        },
    };
    assert_eq!(tls(0).check("/tls", 80)[0].pointer.as_str(), "/tls/port");
    let same = tls(80).check("/tls", 80);
    assert_eq!(
        same[0].message.as_str(),
        "the HTTPS port must differ from the HTTP port"
    );
}

#[test]
fn schemas_refuse_unknown_fields_and_require_the_port() {
    let files = serde_json::to_value(schemars::schema_for!(TlsFiles)).unwrap();
    assert_eq!(files["additionalProperties"], false, "{files}");
    assert!(files["properties"]["port"].is_null(), "{files}");
    assert!(files["required"].is_null(), "{files}");
    let port = serde_json::to_value(schemars::schema_for!(TlsPort)).unwrap();
    assert_eq!(port["additionalProperties"], false, "{port}");
    assert_eq!(port["required"], serde_json::json!(["port"]), "{port}");
    assert_eq!(port["properties"]["port"]["type"], "integer", "{port}");
    assert!(
        port["properties"]["password"]["type"]
            .to_string()
            .contains("string"),
        "{port}"
    );
}

#[test]
fn tls_files_report_their_certificate_for_the_host_to_check() {
    let pem = TlsFiles {
        certificate: Some("c.pem".into()),
        private_key: Some("k.pem".into()),
        ..TlsFiles::default()
    };
    let found = pem.certificate_use(Path::new("/d"), "/tls").unwrap();
    assert_eq!(found.role.as_str(), "tls");
    assert_eq!(found.file.as_str(), "c.pem");
    assert_eq!(found.pointer.as_str(), "/tls/certificate");
    assert_eq!(found.key, crate::certs::KeyCheck::BY_HOST);
    assert!(matches!(
        found.tls.as_ref().into_option(),
        Some(Tls::Pem { certificate_file, .. }) if certificate_file.as_str() == "/d/c.pem"
    ));
    let p12 = TlsFiles {
        pkcs12: Some("s.p12".into()),
        ..TlsFiles::default()
    };
    let found = p12.certificate_use(Path::new("/d"), "/tls").unwrap();
    assert_eq!(found.pointer.as_str(), "/tls/pkcs12");
    let half = TlsFiles {
        certificate: Some("c.pem".into()),
        ..TlsFiles::default()
    };
    let found = half.certificate_use(Path::new("/d"), "/tls").unwrap();
    assert!(found.error.is_some(), "a certificate without its key");
    assert!(TlsFiles::default()
        .certificate_use(Path::new("/d"), "/tls")
        .is_none());
}
