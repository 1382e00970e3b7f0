//! `berth cert`: keys and certificates an operator can hand to partners, and a look into any
//! certificate file a partner sends.

use std::process::Command;

use berth_e2e::{berth_binary, output_text};
use openssl::hash::MessageDigest;
use openssl::x509::X509;

fn berth(args: &[&str]) -> std::process::Output {
    Command::new(berth_binary()).args(args).output().unwrap()
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn a_new_certificate_shows_the_same_from_pem_and_pkcs12() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let made = berth(&[
        "cert",
        "new",
        "acme",
        "--out",
        out,
        "--common-name",
        "ACME-AS2",
        "--bits",
        "3072",
        "--pkcs12-password",
        "pw",
    ]);
    assert!(made.status.success(), "{}", output_text(&made));

    let pem = std::fs::read(dir.path().join("acme.cert.pem")).unwrap();
    let certificate = X509::from_pem(&pem).unwrap();
    let sha256 = colon_hex(&certificate.digest(MessageDigest::sha256()).unwrap());
    let key_mode = std::os::unix::fs::MetadataExt::mode(
        &std::fs::metadata(dir.path().join("acme.key.pem")).unwrap(),
    );
    assert_eq!(
        key_mode & 0o777,
        0o600,
        "the private key is readable by others"
    );

    for (file, password) in [("acme.cert.pem", None), ("acme.p12", Some("pw"))] {
        let path = dir.path().join(file);
        let mut args = vec!["cert", "show", path.to_str().unwrap()];
        if let Some(password) = password {
            args.extend(["--password", password]);
        }
        let shown = berth(&args);
        let text = output_text(&shown);
        assert!(shown.status.success(), "{text}");
        assert!(text.contains("subject:    CN=ACME-AS2"), "{text}");
        assert!(text.contains("issuer:     CN=ACME-AS2"), "{text}");
        assert!(text.contains("RSA 3072 bits"), "{text}");
        assert!(text.contains(&sha256), "{text}");
    }
}

#[test]
fn bad_requests_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let small = berth(&["cert", "new", "weak", "--out", out, "--bits", "1024"]);
    assert!(!small.status.success());
    assert!(output_text(&small).contains("2048 to 4096"));

    assert!(berth(&["cert", "new", "once", "--out", out])
        .status
        .success());
    let again = berth(&["cert", "new", "once", "--out", out]);
    assert!(!again.status.success());
    assert!(
        output_text(&again).contains("never overwrites"),
        "{}",
        output_text(&again)
    );

    let wrong_password = berth(&[
        "cert",
        "new",
        "p12",
        "--out",
        out,
        "--pkcs12-password",
        "right",
    ]);
    assert!(wrong_password.status.success());
    let p12 = dir.path().join("p12.p12");
    let shown = berth(&["cert", "show", p12.to_str().unwrap(), "--password", "wrong"]);
    assert!(!shown.status.success());

    let not_a_cert = dir.path().join("notes.txt");
    std::fs::write(&not_a_cert, "hello").unwrap();
    let shown = berth(&["cert", "show", not_a_cert.to_str().unwrap()]);
    assert!(!shown.status.success());
    assert!(
        output_text(&shown).contains("holds no certificate"),
        "{}",
        output_text(&shown)
    );
}
