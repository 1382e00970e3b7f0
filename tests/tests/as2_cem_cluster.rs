//! Certificate exchange across a cluster: two berth nodes on one PostgreSQL, through the real
//! binary. Node a receives the partner's CEM request; node b, which never saw it, lists the
//! pending certificate within seconds and, from the respond-by date, verifies the partner's
//! messages signed with the new key, neither node restarted.

#[path = "../as2/cem_common.rs"]
mod cem_common;
#[path = "../as2/common.rs"]
mod common;

use std::time::{Duration, Instant};

use berth_e2e::postgres::PgServer;
use berth_e2e::receiver::Receiver;
use berth_e2e::{copy_keys, free_port, Deployment};
use cem_common::*;
use common::*;
use serde_json::json;

struct Node {
    deployment: Deployment,
    as2_port: u16,
    admin_port: u16,
}

fn node(name: &str, server: &PgServer, db: &str) -> Node {
    let (as2_port, admin_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    let store = server.store_yaml(deployment.path(), db);
    deployment
        .write(
            "berth.yaml",
            &format!(
                "shared_server:\n  address: 127.0.0.1\n  port: {as2_port}\n\
                 admin:\n  port: {admin_port}\n\
                 {store}\
                 cluster:\n  node: {name}\n  heartbeat_seconds: 1\n  timeout_seconds: 3\n",
            ),
        )
        .write(
            "processes/partner.yaml",
            &process("partner", "as2-shared-server", None, &cem_operation()),
        );
    Node {
        deployment,
        as2_port,
        admin_port,
    }
}

#[test]
fn a_certificate_one_node_receives_verifies_on_the_other() {
    let server = PgServer::start();
    let db = server.create_database("cem");
    let (a, b) = (node("a", &server, &db), node("b", &server, &db));
    let keys = Keys::create(a.deployment.path());
    partner_keys(&keys);
    copy_keys(a.deployment.path(), b.deployment.path());
    let node_a = a.deployment.start();
    let node_b = b.deployment.start();
    let receiver_port = free_port();
    let receiver = Receiver::start(receiver_port);
    let spec = json!({
        "url": format!("http://127.0.0.1:{}/as2", a.as2_port),
        "as2_from": PARTNER,
        "as2_to": US,
        "sign_key": keys.file("partner-both.pem"),
        "new_cert": keys.file("partner-new.pem"),
        "usages": ["digitalSignature"],
        "respond_in": RESPOND_IN,
        "response_url": format!("http://127.0.0.1:{receiver_port}/cem"),
        "request_id": "cluster-1@partner.example",
    });
    let sent_at = Instant::now();
    let answer = run_cem("request", &spec, a.deployment.path(), "cluster-cem");
    assert_eq!(answer["http_status"], 200, "{answer}");
    assert!(
        answer["disposition"]
            .as_str()
            .unwrap()
            .ends_with("processed"),
        "{answer}"
    );
    receiver.wait_for(1, Duration::from_secs(30));

    // Node b learns of it from the shared store, without a restart.
    let print = fingerprint(&keys.dir.join("partner-new.pem"));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let api = admin_get(&b.deployment, b.admin_port, "/api/certificates");
        let exchanged = api["exchanged"].as_array().unwrap();
        if exchanged.iter().any(|c| c["fingerprint"] == print.as_str()) {
            assert_eq!(exchanged[0]["state"], "pending", "{api}");
            break;
        }
        assert!(Instant::now() < deadline, "node b never listed it: {api}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let url_b = format!("http://127.0.0.1:{}/as2", b.as2_port);
    let work = b.deployment.path();
    let before = message(&url_b, &keys, work, "b-new-before", "partner-new-both.pem");
    assert!(
        sent_at.elapsed() < Duration::from_secs(RESPOND_IN - 2),
        "the check before the respond-by date came too late to prove anything"
    );
    assert_authentication_failed(&before, "node b, new key before its date");

    let wait = Duration::from_secs(RESPOND_IN + 1).saturating_sub(sent_at.elapsed());
    std::thread::sleep(wait);
    let after = message(&url_b, &keys, work, "b-new-after", "partner-new-both.pem");
    assert_accepted(&after, "node b, new key from its date");
    node_a.terminate(Duration::from_secs(10));
    node_b.terminate(Duration::from_secs(10));
}
