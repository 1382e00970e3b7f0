//! The outbox through the real binary: an asynchronous MDN whose receiver is down stays pending
//! across a stop (SIGTERM, or SIGKILL) and is delivered once the receiver is up and berth runs
//! again, on the embedded store and on PostgreSQL; one whose receiver never comes up is given up after its
//! retry window, shown failed and counted in /metrics. pyas2lib sends the messages.

#[path = "../console/browser.rs"]
mod browser;
#[path = "../as2/common.rs"]
mod common;

use std::time::{Duration, Instant};

use berth_e2e::postgres::{write_secret, PgServer};
use berth_e2e::receiver::Receiver;
use berth_e2e::{client, first_listed_id, free_port, Deployment};
use common::*;
use serde_json::{json, Value};

/// Retries every second or two: the test sees several attempts in a few seconds.
const FAST_RETRIES: &str =
    "deliveries:\n  first_retry_seconds: 1\n  max_retry_seconds: 2\n  poll_seconds: 1\n";

struct Setup {
    deployment: Deployment,
    keys: Keys,
    as2_port: u16,
    admin_port: u16,
}

/// A deployment of one AS2 partner on the shared server, with `store` and `deliveries` settings
/// in berth.yaml.
fn setup(store: &str, deliveries: &str) -> Setup {
    let (as2_port, admin_port) = (free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    deployment
        .write(
            "berth.yaml",
            &format!(
                "shared_server:\n  address: 127.0.0.1\n  port: {as2_port}\nadmin:\n  address: \
                 127.0.0.1\n  port: {admin_port}\n{store}{deliveries}"
            ),
        )
        .write(
            "processes/partner.yaml",
            &process(
                "partner",
                "as2-shared-server",
                None,
                &operation(PARTNER, ""),
            ),
        );
    Setup {
        deployment,
        keys,
        as2_port,
        admin_port,
    }
}

impl Setup {
    /// Sends one signed message asking for a signed asynchronous MDN at `mdn_url`; berth's
    /// answer to the POST itself must be 200.
    fn send_async(&self, id: &str, mdn_url: &str) -> Value {
        let case = Case::new(id, PARTNER, 0, &self.keys)
            .set("digest", json!("sha256"))
            .set("mdn", json!("async-signed"));
        let results = send_with(
            &format!("http://127.0.0.1:{}/as2", self.as2_port),
            std::slice::from_ref(&case),
            self.deployment.path(),
            json!({ "mdn_url": mdn_url, "async_wait": 0 }),
        );
        let sent = results[id][0].clone();
        assert_eq!(sent["http_status"], 200, "{sent}");
        sent
    }

    fn show(&self) -> String {
        let listing = self.deployment.berth_documents(&["list"]);
        let id = first_listed_id(&listing).to_string();
        self.deployment.berth_documents(&["show", &id])
    }

    fn token(&self) -> String {
        let file = self.deployment.path().join("data/admin.token");
        std::fs::read_to_string(file).unwrap().trim().to_string()
    }

    /// What the console's document page shows of the document's deliveries, in a real browser
    /// (its screenshot kept as target/deliveries.png, to look at).
    fn console_deliveries(&self, id: &str) -> Value {
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
        let mut node = browser::node(&browser::driver("deliveries.mjs"));
        node.arg(format!("http://127.0.0.1:{}", self.admin_port))
            .arg(self.token())
            .arg(id)
            .arg(&out);
        let (status, output) = browser::run_with_timeout(node, Duration::from_secs(90));
        assert_eq!(status, Some(0), "{output}");
        let last = output.lines().rfind(|l| l.starts_with('[')).unwrap_or("");
        serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {output}"))
    }

    /// The admin API's view of the only document.
    fn document_json(&self) -> Value {
        let token = self.token();
        let base = format!("http://127.0.0.1:{}", self.admin_port);
        let get = |path: &str| -> Value {
            let text = client()
                .get(format!("{base}{path}"))
                .bearer_auth(token.trim())
                .send()
                .unwrap()
                .text()
                .unwrap();
            serde_json::from_str(&text).unwrap()
        };
        let list = get("/api/documents");
        let id = list["documents"][0]["id"].as_str().unwrap().to_string();
        get(&format!("/api/documents/{id}"))
    }

    fn metrics(&self) -> String {
        client()
            .get(format!("http://127.0.0.1:{}/metrics", self.admin_port))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }
}

/// How berth stops while a delivery is pending.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// SIGTERM: it hands its claims back as it stops.
    Term,
    /// SIGKILL: its claims stay in the store; on the embedded store, which one process owns,
    /// the next start voids them.
    Kill,
}

/// The MDN's receiver is down while berth tries; berth stops with the delivery pending and
/// starts again once the receiver is up: the MDN arrives, and the attempts are on record.
fn delivered_after_a_restart(setup: Setup, stop: Stop) {
    let started = Instant::now();
    let mdn_port = free_port();
    let mdn_url = format!("http://127.0.0.1:{mdn_port}/mdn");
    let berth = setup.deployment.start();
    let sent = setup.send_async("outbox-1", &mdn_url);
    // Refused at least twice (the first try, and a retry a second later).
    let deadline = Instant::now() + Duration::from_secs(20);
    while berth
        .log()
        .matches("delivery failed; trying again later")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "{}", berth.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    match stop {
        Stop::Term => assert!(berth.terminate(Duration::from_secs(20)).success()),
        Stop::Kill => berth.kill(),
    }

    let shown = setup.show();
    assert!(shown.contains("deliveries\n"), "{shown}");
    assert!(
        shown.contains(&format!("POST {mdn_url}  pending")),
        "{shown}"
    );
    let attempts = shown
        .lines()
        .filter(|l| l.contains("onnection refused"))
        .count();
    assert!(attempts >= 2, "{shown}");

    let receiver = Receiver::start(mdn_port);
    let berth = setup.deployment.start();
    let received = receiver.wait_for(1, Duration::from_secs(20));
    let mdn = String::from_utf8_lossy(&received[0].body).to_string();
    let message_id = sent["message_id"].as_str().unwrap();
    assert!(mdn.contains(message_id), "the MDN names the message: {mdn}");
    assert!(mdn.contains("processed"), "{mdn}");
    assert!(received[0].request_line.starts_with("POST /mdn "));
    berth.wait_for_log("delivered", Duration::from_secs(10));

    let shown = setup.show();
    println!("{shown}");
    let line = shown
        .lines()
        .find(|l| l.contains(&format!("POST {mdn_url}")))
        .unwrap();
    assert!(line.contains("delivered after"), "{shown}");
    assert!(shown.trim_end().ends_with("200 OK"), "{shown}");
    let detail = setup.document_json();
    let delivery = &detail["deliveries"][0];
    assert_eq!(delivery["state"], "delivered", "{detail}");
    assert_eq!(delivery["url"], mdn_url.as_str());
    let attempts = delivery["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 3, "{detail}");
    assert_eq!(attempts.last().unwrap()["result"], "200 OK", "{detail}");
    assert!(delivery["next_attempt_at"].is_null(), "{detail}");
    let shown = setup.console_deliveries(detail["id"].as_str().unwrap());
    assert_eq!(shown[0]["state"], "delivered", "{shown}");
    assert!(
        shown[0]["text"].as_str().unwrap().contains(&mdn_url),
        "{shown}"
    );
    let lines = shown[0]["attempts"].as_array().unwrap();
    assert_eq!(lines.len(), attempts.len(), "{shown}");
    assert!(
        lines.last().unwrap().as_str().unwrap().ends_with("200 OK"),
        "{shown}"
    );
    assert!(setup
        .metrics()
        .contains("berth_deliveries_total{outcome=\"delivered\"} 1\n"));
    berth.terminate(Duration::from_secs(20));
    assert_eq!(receiver.received().len(), 1, "delivered once");
    println!("done in {:?}", started.elapsed());
}

#[test]
fn a_pending_mdn_survives_a_restart_and_is_delivered() {
    delivered_after_a_restart(setup("", FAST_RETRIES), Stop::Term);
}

#[test]
fn a_pending_mdn_survives_a_kill_and_is_delivered() {
    delivered_after_a_restart(setup("", FAST_RETRIES), Stop::Kill);
}

#[test]
fn a_pending_mdn_survives_a_restart_on_postgres() {
    let server = PgServer::start();
    let db = server.create_database("outbox");
    let setup = setup(
        &format!(
            "store:\n  backend: postgres\n  url: {}\n  password_file: secrets/db\n",
            server.url(&db)
        ),
        FAST_RETRIES,
    );
    let secrets = setup.deployment.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    write_secret(&secrets.join("db"), &format!("{}\n", server.password()));
    delivered_after_a_restart(setup, Stop::Term);
    // Nothing of the store in the deployment folder: the outbox is in PostgreSQL.
    let attempts = server.sql(&db, "SELECT COUNT(*) FROM delivery_attempts");
    assert!(attempts.parse::<u32>().unwrap() >= 3, "{attempts}");
}

#[test]
fn a_delivery_past_its_window_is_failed_and_counted() {
    let setup = setup("", &format!("{FAST_RETRIES}  give_up_after_seconds: 3\n"));
    let mdn_url = format!("http://127.0.0.1:{}/mdn", free_port());
    let berth = setup.deployment.start();
    setup.send_async("outbox-late", &mdn_url);
    berth.wait_for_log("delivery given up", Duration::from_secs(20));
    let metrics = setup.metrics();
    assert!(
        metrics.contains("berth_deliveries_total{outcome=\"failed\"} 1\n"),
        "{metrics}"
    );
    let detail = setup.document_json();
    let delivery = &detail["deliveries"][0];
    assert_eq!(delivery["state"], "failed", "{detail}");
    let attempts = delivery["attempts"].as_array().unwrap().len();
    // The first try, retries after 1 and 2 seconds, the last one at the window's end.
    assert!((2..=5).contains(&attempts), "{detail}");
    berth.terminate(Duration::from_secs(20));
    let shown = setup.show();
    assert!(
        shown.contains(&format!("POST {mdn_url}  failed after {attempts} attempts")),
        "{shown}"
    );
}
