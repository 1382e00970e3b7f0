//! The shared web server's own settings: authentication (basic, client certificate) applied
//! before any connector sees a request, PKCS#12 for its HTTPS port, and its base URL.

use std::time::Duration;

use berth_e2e::{client, free_port, tls, Deployment};

const AS2_PROCESS: &str = "name: shared\nstart:\n  connector: as2-shared-server\n  operation:\n    as2_from: PARTNER\n    as2_to: BERTH\nsteps:\n  - write_file: { directory: inbox, file_name: \"${message_id}\" }\n";

/// A plain AS2 message without a receipt request: the smallest thing the connector accepts.
fn send_plain_as2(
    request: reqwest::blocking::RequestBuilder,
    id: &str,
) -> reqwest::blocking::Response {
    request
        .header("as2-version", "1.2")
        .header("as2-from", "PARTNER")
        .header("as2-to", "BERTH")
        .header("message-id", format!("<{id}@partner>"))
        .header("content-type", "application/edi-x12")
        .body("ISA*00*~")
        .send()
        .unwrap()
}

#[test]
fn basic_authentication_guards_every_shared_route() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment
        .write(
            "berth.yaml",
            &format!(
                "shared_server:\n  address: 127.0.0.1\n  port: {port}\n  base_url: https://as2.example.com\n  authentication: basic\n  basic_auth: {{ user: gateway, password: open-sesame }}\n"
            ),
        )
        .write("processes/shared.yaml", AS2_PROCESS);
    let berth = deployment.start();
    assert!(
        berth.log().contains("https://as2.example.com"),
        "{}",
        berth.log()
    );
    let url = format!("http://127.0.0.1:{port}/as2");
    let http = client();

    let anonymous = send_plain_as2(http.post(&url), "a1");
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let wrong = send_plain_as2(http.post(&url).basic_auth("gateway", Some("guess")), "a2");
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(!deployment.path().join("inbox").exists());

    let right = send_plain_as2(
        http.post(&url).basic_auth("gateway", Some("open-sesame")),
        "a3",
    );
    assert_eq!(right.status().as_u16(), 200, "{}", berth.log());
    assert_eq!(
        std::fs::read_dir(deployment.path().join("inbox"))
            .unwrap()
            .count(),
        1
    );
    assert!(
        !berth.log().contains("open-sesame"),
        "the password reached the log"
    );
}

#[test]
fn client_certificates_are_required_on_https_and_the_plain_port_refuses() {
    let (port, tls_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    let certs = deployment.path().join("certs");
    tls::write_self_signed_pkcs12(&certs, "server.p12", "pw");
    let identity = tls::write_ca_and_client(&certs, "partners-ca.pem");
    deployment
        .write(
            "berth.yaml",
            &format!(
                "shared_server:\n  address: 127.0.0.1\n  port: {port}\n  tls: {{ port: {tls_port}, pkcs12: certs/server.p12, password: pw }}\n  authentication: client_certificate\n  client_ca: certs/partners-ca.pem\n"
            ),
        )
        .write("processes/shared.yaml", AS2_PROCESS);
    let _berth = deployment.start();

    let plain = send_plain_as2(client().post(format!("http://127.0.0.1:{port}/as2")), "c1");
    assert_eq!(plain.status().as_u16(), 403);

    let https = format!("https://127.0.0.1:{tls_port}/as2");
    let without_certificate = client()
        .post(&https)
        .header("content-type", "text/plain")
        .body("x")
        .send();
    assert!(without_certificate.is_err(), "{without_certificate:?}");

    let with_certificate = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .danger_accept_invalid_certs(true)
        .identity(reqwest::Identity::from_pkcs12_der(&identity, "client").unwrap())
        .build()
        .unwrap();
    let accepted = send_plain_as2(with_certificate.post(&https), "c2");
    assert_eq!(accepted.status().as_u16(), 200);
    assert_eq!(
        std::fs::read_dir(deployment.path().join("inbox"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn a_shared_server_half_configured_for_client_certificates_is_refused() {
    let deployment = Deployment::new();
    deployment
        .write(
            "berth.yaml",
            "shared_server:\n  port: 9090\n  authentication: client_certificate\n",
        )
        .write("processes/shared.yaml", AS2_PROCESS);
    let output = deployment.berth(&["validate"]);
    let text = berth_e2e::output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("berth.yaml"), "{text}");
    assert!(text.contains("needs `tls` and `client_ca`"), "{text}");
}

#[test]
fn a_half_written_shared_tls_section_is_refused_at_its_field() {
    let deployment = Deployment::new();
    deployment
        .write(
            "berth.yaml",
            "shared_server:\n  port: 9090\n  tls:\n    port: 9443\n    certificate: certs/server.pem\n",
        )
        .write("processes/shared.yaml", AS2_PROCESS);
    let output = deployment.berth(&["validate"]);
    let text = berth_e2e::output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("berth.yaml:3"), "{text}");
    assert!(text.contains("shared_server.tls.private_key"), "{text}");
}
