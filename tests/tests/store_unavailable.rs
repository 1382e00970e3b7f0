//! The store going away: under a bounded HTTP load (and one AS2 sender), the PostgreSQL under a
//! running berth is stopped for several seconds and started again on the same data and port.
//! In between every answer is a 503 with Retry-After, `/ready` says why, and the log says it
//! once; afterwards berth is ready again without a restart, every acknowledged document is in
//! the store, and the outcomes held back during the outage are recorded.

#[path = "../as2/common.rs"]
mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_e2e::postgres::{write_secret, PgServer};
use berth_e2e::{client, free_port, Deployment};
use common::*;
use serde_json::json;

/// One request of the load: its body, when it began and ended, its status and Retry-After.
struct Sent {
    body: String,
    began: Instant,
    ended: Instant,
    status: u16,
    retry_after: bool,
}

fn ready(admin: u16) -> (u16, String) {
    let response = client()
        .get(format!("http://127.0.0.1:{admin}/ready"))
        .send()
        .unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

/// Polls `/ready` until its status is `status` (for up to `within`); its last body.
fn ready_becomes(admin: u16, status: u16, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let (now, body) = ready(admin);
        if now == status {
            return body;
        }
        assert!(Instant::now() < deadline, "/ready stayed {now}: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Senders posting numbered documents until told to stop (at most 2000 each, 120 s).
fn load(
    port: u16,
    senders: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<Sent>>> {
    (0..senders)
        .map(|t| {
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                let http = client();
                let deadline = Instant::now() + Duration::from_secs(120);
                let mut sent = Vec::new();
                for i in 0..2000 {
                    if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                        break;
                    }
                    let body = format!("doc-{t}-{i}");
                    let began = Instant::now();
                    let response = http
                        .post(format!("http://127.0.0.1:{port}/in"))
                        .body(body.clone())
                        .send()
                        .unwrap_or_else(|e| panic!("{body}: berth did not answer: {e}"));
                    sent.push(Sent {
                        body,
                        began,
                        ended: Instant::now(),
                        status: response.status().as_u16(),
                        retry_after: response.headers().contains_key("retry-after"),
                    });
                    std::thread::sleep(Duration::from_millis(5));
                }
                sent
            })
        })
        .collect()
}

#[test]
fn a_database_restart_under_load_gives_503s_in_between_and_loses_nothing() {
    let server = PgServer::start();
    let db = server.create_database("unavailable");
    let (http_port, as2_port, admin) = (free_port(), free_port(), free_port());
    let deployment = Deployment::new();
    let keys = Keys::create(deployment.path());
    std::fs::create_dir_all(deployment.path().join("secrets")).unwrap();
    write_secret(&deployment.path().join("secrets/db"), server.password());
    deployment
        .write(
            "berth.yaml",
            &format!(
                "admin:\n  address: 127.0.0.1\n  port: {admin}\nshared_server:\n  address: 127.0.0.1\n  port: {as2_port}\nstore:\n  backend: postgres\n  url: {}\n  password_file: secrets/db\n",
                server.url(&db)
            ),
        )
        .http_connection("inbound", http_port, "")
        .write(
            "processes/inbox.yaml",
            "name: inbox\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation: { path: /in }\nsteps:\n  - return: { status: 200, body: \"stored\" }\n",
        )
        .write(
            "processes/partner.yaml",
            &process("partner", "as2-shared-server", None, &operation(PARTNER, "")),
        );
    let berth = deployment.start();
    assert_eq!(ready(admin), (200, "ready\n".to_string()));

    let stop = Arc::new(AtomicBool::new(false));
    let senders = load(http_port, 3, &stop);
    std::thread::sleep(Duration::from_millis(1500));

    server.halt();
    let halted = Instant::now();
    let reason = ready_becomes(admin, 503, Duration::from_secs(10));
    assert!(reason.starts_with("store unavailable: "), "{reason}");
    assert_eq!(reason.lines().count(), 1, "{reason}");
    // An AS2 partner is told to come back, not given an MDN.
    let case = Case::new("outage", PARTNER, 0, &keys).set("mdn", json!("signed"));
    let url = format!("http://127.0.0.1:{as2_port}/as2");
    let sent = send(&url, std::slice::from_ref(&case), deployment.path());
    let during = &sent["outage"][0];
    assert_eq!(during["http_status"], 503, "{during}");
    assert!(
        during["response_headers"].get("retry-after").is_some(),
        "{during}"
    );
    let outage_ends = halted + Duration::from_secs(5);
    std::thread::sleep(outage_ends.saturating_duration_since(Instant::now()));
    let restarting = Instant::now();
    server.restart();

    // Ready again by itself: no restart of berth.
    assert_eq!(
        ready_becomes(admin, 200, Duration::from_secs(30)),
        "ready\n"
    );
    berth.wait_for_log("store available again", Duration::from_secs(10));
    let sent = send(&url, std::slice::from_ref(&case), deployment.path());
    assert_eq!(sent["outage"][0]["status"], "processed", "{sent:?}");
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::SeqCst);
    let sent: Vec<Sent> = senders
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();

    // Only 200s and 503s (with Retry-After); between the database stopping and starting, a
    // request that began after the stop never got a 2xx.
    for s in &sent {
        assert!(
            s.status == 200 || s.status == 503,
            "{}: {}",
            s.body,
            s.status
        );
        if s.status == 503 {
            assert!(s.retry_after, "{}: 503 without Retry-After", s.body);
        }
        if s.began > halted && s.ended < restarting {
            assert_eq!(
                s.status, 503,
                "{} answered while the database was down",
                s.body
            );
        }
    }
    let count = |status: u16| sent.iter().filter(|s| s.status == status).count();
    assert!(count(503) > 0, "no request met the outage");
    assert!(
        sent.iter().any(|s| s.status == 200 && s.began > restarting),
        "nothing accepted after the database came back"
    );
    println!(
        "{} requests: {} accepted, {} told to retry",
        sent.len(),
        count(200),
        count(503)
    );

    // Every acknowledged document is in the store, and its outcome is recorded (outcomes the
    // outage held back were written once the database was back).
    let acknowledged: HashSet<&str> = sent
        .iter()
        .filter(|s| s.status == 200)
        .map(|s| s.body.as_str())
        .collect();
    let stored_text = server.sql(
        &db,
        "SELECT convert_from(payload, 'UTF8') FROM documents WHERE process = 'inbox'",
    );
    let stored: HashSet<&str> = stored_text.lines().collect();
    let missing: Vec<&&str> = acknowledged.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.sql(
        &db,
        "SELECT count(*) FROM documents WHERE state = 'received'",
    ) != "0"
    {
        assert!(Instant::now() < deadline, "outcomes never recorded");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The log says each change once, not once per refused request.
    let log = berth.log();
    assert_eq!(log.matches("store unavailable: ").count(), 1, "{log}");
    assert_eq!(log.matches("store available again").count(), 1, "{log}");
    assert!(!log.contains("cannot store a received document"), "{log}");
    assert!(
        !log.contains(server.password()),
        "the password is never logged"
    );
    assert!(berth.terminate(Duration::from_secs(15)).success());
}
