//! Certificate Exchange Messaging through the real binary and both AS2 connectors, with a
//! partner built without berth's code (tests/as2/cem.py: `cryptography` makes and signs the
//! request, pyas2lib verifies our response's signature): the request gets a processed MDN that
//! announces `CEM`; the CEM response reaches the partner's ResponseURL, signed by us, accepting
//! the certificate for the request's id; `berth certs` and `/api/certificates` show the pending
//! certificate with its respond-by date; until that date a message signed with the new key is
//! refused and the old key still works, from it the new key works without a restart, and after
//! a restart the certificate is still there and still verifies. An expired certificate is
//! rejected in the CEM response and recorded nowhere.

#[path = "../as2/cem_common.rs"]
mod cem_common;
#[path = "../as2/common.rs"]
mod common;

use std::time::{Duration, Instant};

use berth_e2e::receiver::Receiver;
use berth_e2e::tls::write_self_signed;
use berth_e2e::{free_port, output_text, Berth, Deployment};
use cem_common::*;
use common::*;
use serde_json::json;

struct Setup<'a> {
    deployment: &'a Deployment,
    keys: &'a Keys,
    url: String,
    admin: u16,
    prefix: &'a str,
}

fn exercise(setup: &Setup<'_>, mut berth: Berth) {
    let (deployment, keys, url) = (setup.deployment, setup.keys, setup.url.as_str());
    let work = deployment.path();
    let prefix = setup.prefix;
    let receiver_port = free_port();
    let receiver = Receiver::start(receiver_port);
    let response_url = format!("http://127.0.0.1:{receiver_port}/cem");
    let request_id = format!("{prefix}-request-1@partner.example");
    let spec = json!({
        "url": url,
        "as2_from": PARTNER,
        "as2_to": US,
        "sign_key": keys.file("partner-both.pem"),
        "new_cert": keys.file("partner-new.pem"),
        "usages": ["digitalSignature"],
        "respond_in": RESPOND_IN,
        "response_url": response_url,
        "request_id": request_id,
    });
    let sent_at = Instant::now();
    let answer = run_cem("request", &spec, work, &format!("{prefix}-cem"));
    assert_eq!(answer["http_status"], 200, "{answer}");
    assert_eq!(
        answer["disposition"]
            .as_str()
            .unwrap()
            .split(';')
            .nth(1)
            .map(str::trim),
        Some("processed"),
        "{answer}"
    );
    assert_eq!(answer["mic"], answer["expected_mic"], "{answer}");
    assert_eq!(
        answer["original_message_id"], answer["message_id"],
        "{answer}"
    );
    assert_eq!(answer["mdn_signed"], true, "{answer}");
    assert!(
        answer["features"]
            .as_str()
            .unwrap()
            .split(", ")
            .any(|f| f == "CEM"),
        "{answer}"
    );
    let respond_by = answer["respond_by"].as_str().unwrap().to_string();

    // The response reaches the ResponseURL, signed by us, accepting the certificate.
    let received = receiver.wait_for(1, Duration::from_secs(30));
    assert_eq!(received[0].request_line, "POST /cem HTTP/1.1");
    let response = response_of(&received[0], keys, work, &format!("{prefix}-response"));
    assert_eq!(response["signature_ok"], true, "{response}");
    assert_eq!(response["as2_from"], US, "{response}");
    assert_eq!(response["as2_to"], PARTNER, "{response}");
    assert_eq!(response["content_type"], "multipart/signed", "{response}");
    assert_eq!(
        response["entity_type"],
        "application/ediint-cert-exchange+xml"
    );
    assert_eq!(response["root"], "EDIINTCertificateExchangeResponse");
    assert_eq!(response["request_id"], request_id.as_str(), "{response}");
    assert_eq!(response["trust"][0]["status"], "Accepted", "{response}");

    // Shown as pending with its respond-by date, by the command line and the API.
    let new_print = fingerprint(&keys.dir.join("partner-new.pem"));
    let certs = output_text(&deployment.berth(&["certs"]));
    let line = certs
        .lines()
        .find(|l| l.contains(&new_print))
        .unwrap_or_else(|| panic!("no exchanged certificate in:\n{certs}"));
    assert!(line.starts_with("PENDING"), "{certs}");
    assert!(
        line.contains(&respond_by) && line.contains(&request_id),
        "{certs}"
    );
    let api = admin_get(deployment, setup.admin, "/api/certificates");
    let exchanged = api["exchanged"].as_array().unwrap();
    assert_eq!(exchanged.len(), 1, "{api}");
    assert_eq!(exchanged[0]["fingerprint"], new_print.as_str(), "{api}");
    assert_eq!(exchanged[0]["state"], "pending", "{api}");
    assert_eq!(exchanged[0]["respond_by"], respond_by.as_str(), "{api}");
    assert_eq!(exchanged[0]["partner"], PARTNER, "{api}");

    // Before the respond-by date: the old key works, the new one is refused.
    let before_new = message(
        url,
        keys,
        work,
        &format!("{prefix}-new-before"),
        "partner-new-both.pem",
    );
    let before_old = message(
        url,
        keys,
        work,
        &format!("{prefix}-old-before"),
        "partner-both.pem",
    );
    assert!(
        sent_at.elapsed() < Duration::from_secs(RESPOND_IN - 2),
        "the checks before the respond-by date took too long to prove anything"
    );
    assert_authentication_failed(&before_new, "new key before its date");
    assert_accepted(&before_old, "old key before the new one's date");

    // A request with an expired certificate: rejected in the response, recorded nowhere.
    let rejected_id = format!("{prefix}-request-2@partner.example");
    let mut bad = spec.clone();
    bad["new_cert"] = json!(keys.file("partner-expired.pem"));
    bad["request_id"] = json!(rejected_id);
    let answer = run_cem("request", &bad, work, &format!("{prefix}-cem-bad"));
    assert_eq!(answer["http_status"], 200, "{answer}");
    let received = receiver.wait_for(2, Duration::from_secs(30));
    let response = response_of(&received[1], keys, work, &format!("{prefix}-response-bad"));
    assert_eq!(response["signature_ok"], true, "{response}");
    assert_eq!(response["request_id"], rejected_id.as_str(), "{response}");
    assert_eq!(response["trust"][0]["status"], "Rejected", "{response}");
    assert!(
        response["trust"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{response}"
    );
    let api = admin_get(deployment, setup.admin, "/api/certificates");
    assert_eq!(api["exchanged"].as_array().unwrap().len(), 1, "{api}");

    // From the respond-by date the new key verifies, without a restart (the old one too).
    let wait = Duration::from_secs(RESPOND_IN + 1).saturating_sub(sent_at.elapsed());
    std::thread::sleep(wait);
    let after_new = message(
        url,
        keys,
        work,
        &format!("{prefix}-new-after"),
        "partner-new-both.pem",
    );
    assert_accepted(&after_new, "new key from its date");
    let api = admin_get(deployment, setup.admin, "/api/certificates");
    assert_eq!(api["exchanged"][0]["state"], "active", "{api}");

    let log = berth.log();
    assert!(
        log.contains("rejected: certificate has expired"),
        "the rejection is logged with its reason: {log}"
    );

    // After a restart: still stored, still verifying.
    berth.terminate(Duration::from_secs(10));
    berth = deployment.start();
    let certs = output_text(&deployment.berth(&["certs"]));
    let line = certs.lines().find(|l| l.contains(&new_print));
    assert!(line.is_some_and(|l| l.starts_with("ACTIVE")), "{certs}");
    let restarted = message(
        url,
        keys,
        work,
        &format!("{prefix}-new-restarted"),
        "partner-new-both.pem",
    );
    assert_accepted(&restarted, "new key after a restart");
    berth.terminate(Duration::from_secs(10));
}

#[test]
fn the_shared_server_takes_a_partners_certificate_by_certificate_exchange() {
    let (port, admin) = (free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    partner_keys(&keys);
    deployment.write(
        "berth.yaml",
        &format!(
            "shared_server:\n  address: 127.0.0.1\n  port: {port}\nadmin:\n  address: \
             127.0.0.1\n  port: {admin}\n"
        ),
    );
    deployment.write(
        "processes/partner.yaml",
        &process("partner", "as2-shared-server", None, &cem_operation()),
    );
    let berth = deployment.start();
    let setup = Setup {
        deployment: &deployment,
        keys: &keys,
        url: format!("http://127.0.0.1:{port}/as2"),
        admin,
        prefix: "shared",
    };
    exercise(&setup, berth);
}

#[test]
fn the_legacy_server_takes_a_partners_certificate_by_certificate_exchange() {
    let (port, tls_port, admin) = (free_port(), free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    partner_keys(&keys);
    write_self_signed(&keys.dir, "tls.pem", "tls.key");
    deployment.write(
        "berth.yaml",
        &format!("admin:\n  address: 127.0.0.1\n  port: {admin}\n"),
    );
    deployment.write(
        "connections/as2-in.yaml",
        &format!(
            "name: as2-in\nconnector: as2-server-legacy\nsettings:\n  address: 127.0.0.1\n  \
             port: {port}\n  tls: {{ port: {tls_port}, certificate: keys/tls.pem, \
             private_key: keys/tls.key }}\n"
        ),
    );
    deployment.write(
        "processes/partner.yaml",
        &process(
            "partner",
            "as2-server-legacy",
            Some("as2-in"),
            &cem_operation(),
        ),
    );
    let berth = deployment.start();
    let setup = Setup {
        deployment: &deployment,
        keys: &keys,
        url: format!("https://127.0.0.1:{tls_port}/as2"),
        admin,
        prefix: "legacy",
    };
    exercise(&setup, berth);
}

#[test]
fn without_the_setting_a_certificate_exchange_request_is_an_ordinary_message() {
    let port = free_port();
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    partner_keys(&keys);
    deployment.write(
        "berth.yaml",
        &format!("shared_server:\n  address: 127.0.0.1\n  port: {port}\n"),
    );
    deployment.write(
        "processes/partner.yaml",
        &process(
            "partner",
            "as2-shared-server",
            None,
            &operation(PARTNER, ""),
        ),
    );
    let berth = deployment.start();
    let receiver_port = free_port();
    let receiver = Receiver::start(receiver_port);
    let spec = json!({
        "url": format!("http://127.0.0.1:{port}/as2"),
        "as2_from": PARTNER,
        "as2_to": US,
        "sign_key": keys.file("partner-both.pem"),
        "new_cert": keys.file("partner-new.pem"),
        "usages": ["digitalSignature"],
        "respond_in": 5,
        "response_url": format!("http://127.0.0.1:{receiver_port}/cem"),
        "request_id": "off@partner.example",
    });
    let answer = run_cem("request", &spec, deployment.path(), "off-cem");
    assert_eq!(answer["http_status"], 200, "{answer}");
    assert!(
        answer["disposition"]
            .as_str()
            .unwrap()
            .ends_with("processed"),
        "{answer}"
    );
    assert!(
        !answer["features"].as_str().unwrap().contains("CEM"),
        "{answer}"
    );
    // Its parts are attachments like any others (RFC 6362), each a document.
    let log = berth.log();
    assert!(
        log.contains("AS2-RECEIVED|certificate-exchange.xml|")
            && log.contains("AS2-RECEIVED|certificate.p7c|"),
        "delivered as documents: {log}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(receiver.received().is_empty(), "no CEM response is sent");
    berth.terminate(Duration::from_secs(10));
}
