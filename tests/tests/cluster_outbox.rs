//! The outbox of a cluster, through the real binary: an asynchronous MDN that node a is in the
//! middle of sending when it is killed with SIGKILL is delivered by node b once a's claim runs
//! out, exactly once, and `berth documents show` through node b shows the attempts and the
//! delivery. Two nodes on one real PostgreSQL; pyas2lib sends the message.

#[path = "../as2/common.rs"]
mod common;

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use berth_e2e::postgres::PgServer;
use berth_e2e::receiver::Receiver;
use berth_e2e::{copy_keys, first_listed_id, free_port, Deployment};
use common::*;
use serde_json::json;

/// Attempts give up after a second; retries come a second or two later. A claim lasts an
/// attempt's timeout plus a fixed margin of 30 s (`outbound::policy`), so a dead node's claim
/// runs out about 31 s after its attempt began.
const DELIVERIES: &str = "deliveries:\n  first_retry_seconds: 1\n  max_retry_seconds: 2\n  \
                          poll_seconds: 1\n  timeout_seconds: 1\n";

/// The longest node b may take, from the kill, to deliver: the claim's 31 s and some slack.
const TAKE_OVER_WITHIN: Duration = Duration::from_secs(60);

/// One node's deployment: the AS2 partner on the shared server, the store on PostgreSQL.
fn node(name: &str, server: &PgServer, db: &str) -> (Deployment, u16) {
    let as2_port = free_port();
    let deployment = Deployment::new();
    let store = server.store_yaml(deployment.path(), db);
    deployment
        .write(
            "berth.yaml",
            &format!(
                "shared_server:\n  address: 127.0.0.1\n  port: {as2_port}\n\
                 admin:\n  address: 127.0.0.1\n  port: {}\n\
                 {store}\
                 cluster:\n  node: {name}\n  heartbeat_seconds: 1\n  timeout_seconds: 3\n\
                 {DELIVERIES}",
                free_port(),
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
    (deployment, as2_port)
}

/// A partner's MDN server that accepts connections and never answers: each attempt on it
/// runs until its timeout, so a node killed while one is under way dies holding its claim.
struct Stalled {
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Stalled {
    fn start(port: u16) -> Stalled {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopping) = (Arc::clone(&accepted), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        held.push(stream);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Stalled {
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Closes the port and every connection held, so that a real receiver can take the port.
    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "{what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_mdn_pending_on_a_killed_node_is_delivered_by_the_other() {
    let started = Instant::now();
    let server = PgServer::start();
    let db = server.create_database("cluster_outbox");
    let (a, a_as2) = node("a", &server, &db);
    let (b, _) = node("b", &server, &db);
    let keys = Keys::create(a.path());
    copy_keys(a.path(), b.path());
    let mdn_port = free_port();
    let mdn_url = format!("http://127.0.0.1:{mdn_port}/mdn");
    let stalled = Stalled::start(mdn_port);

    let node_a = a.start();
    let case = Case::new("pending-on-a", PARTNER, 0, &keys)
        .set("digest", json!("sha256"))
        .set("mdn", json!("async-signed"));
    let results = send_with(
        &format!("http://127.0.0.1:{a_as2}/as2"),
        std::slice::from_ref(&case),
        a.path(),
        json!({ "mdn_url": mdn_url, "async_wait": 0 }),
    );
    let sent = results["pending-on-a"][0].clone();
    assert_eq!(sent["http_status"], 200, "{sent}");
    // The first attempt timed out and was recorded; node a is killed as soon as its second
    // attempt has connected, so it dies holding the claim of a delivery under way.
    node_a.wait_for_log(
        "delivery failed; trying again later",
        Duration::from_secs(20),
    );
    wait_until(
        Duration::from_secs(20),
        "a second attempt by node a",
        || stalled.accepted() >= 2,
    );
    node_a.kill();
    let killed = Instant::now();
    let claimed_by = server.sql(&db, "SELECT claimed_by FROM deliveries");
    assert!(
        claimed_by.starts_with("a/"),
        "the dead node holds the claim: {claimed_by:?}"
    );
    stalled.stop();

    let receiver = Receiver::start(mdn_port);
    let node_b = b.start();
    let received = receiver.wait_for(1, TAKE_OVER_WITHIN);
    let took = killed.elapsed();
    println!("delivered by node b {took:?} after the kill");
    // Not before node a's claim ran out (31 s from its attempt, which began just before the
    // kill): a live node's claim is respected, so no delivery goes out from two nodes at once.
    assert!(took >= Duration::from_secs(25), "taken over after {took:?}");
    let mdn = String::from_utf8_lossy(&received[0].body).to_string();
    let message_id = sent["message_id"].as_str().unwrap();
    assert!(mdn.contains(message_id), "the MDN names the message: {mdn}");
    assert!(mdn.contains("processed"), "{mdn}");
    assert!(received[0].request_line.starts_with("POST /mdn "));
    node_b.wait_for_log("delivered", Duration::from_secs(10));

    // A few more polls of node b: nothing is sent again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(receiver.received().len(), 1, "delivered once");
    let listing = b.berth_documents(&["list"]);
    let id = first_listed_id(&listing).to_string();
    let shown = b.berth_documents(&["show", &id]);
    println!("{shown}");
    let line = shown
        .lines()
        .find(|l| l.contains(&format!("POST {mdn_url}")))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(line.contains("delivered after"), "{shown}");
    assert!(
        shown.lines().any(|l| l.ends_with("timed out")),
        "node a's recorded attempt: {shown}"
    );
    assert_eq!(
        shown.lines().filter(|l| l.ends_with("200 OK")).count(),
        1,
        "{shown}"
    );
    assert!(shown.trim_end().ends_with("200 OK"), "{shown}");
    let state = server.sql(&db, "SELECT state, claimed_by IS NULL FROM deliveries");
    assert_eq!(state.trim(), "delivered|t", "{state}");
    node_b.terminate(Duration::from_secs(20));
    println!("done in {:?}", started.elapsed());
}
