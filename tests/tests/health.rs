//! Health for load balancers through the real binary: `/health` and `/ready` on the admin
//! server without its token, `/ready` turning 503 "draining" at once on SIGTERM while the
//! listeners keep serving for `limits.drain_seconds`, and no drain wait when no load balancer
//! ever asked `/ready`.

use std::time::{Duration, Instant};

use berth_e2e::{client, free_port, Berth, Deployment};

fn deployment(drain_seconds: u64) -> (Deployment, u16, u16) {
    let (admin, http) = (free_port(), free_port());
    let deployment = Deployment::new();
    deployment
        .write(
            "berth.yaml",
            &format!(
                "admin:\n  address: 127.0.0.1\n  port: {admin}\nlimits:\n  drain_seconds: {drain_seconds}\n"
            ),
        )
        .http_connection("inbound", http, "")
        .write(
            "processes/inbox.yaml",
            "name: inbox\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation: { path: /in }\nsteps:\n  - return: { status: 200, body: \"stored\" }\n",
        );
    (deployment, admin, http)
}

/// (status, body) of a GET, with no token.
fn get(port: u16, path: &str) -> (u16, String) {
    let response = client()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

fn post(port: u16) -> u16 {
    client()
        .post(format!("http://127.0.0.1:{port}/in"))
        .body("x")
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn ready_turns_503_draining_on_sigterm_while_listeners_serve_on() {
    let (deployment, admin, http) = deployment(3);
    let mut berth = deployment.start();
    assert_eq!(get(admin, "/health"), (200, "alive\n".to_string()));
    assert_eq!(get(admin, "/ready"), (200, "ready\n".to_string()));
    // The API itself still wants its token.
    assert_eq!(get(admin, "/api/status").0, 401);

    berth.signal(libc::SIGTERM);
    let signalled = Instant::now();
    berth.wait_for_log("draining", Duration::from_secs(5));
    assert_eq!(get(admin, "/ready"), (503, "draining\n".to_string()));
    assert_eq!(get(admin, "/health").0, 200);
    // Partners sent here before the load balancer noticed are still served.
    assert_eq!(post(http), 200);
    assert!(!berth.has_exited(), "berth stopped during the drain");
    let status = berth.exit_within(Duration::from_secs(10));
    assert!(status.success());
    let took = signalled.elapsed();
    assert!(took >= Duration::from_secs(3), "stopped after {took:?}");
}

#[test]
fn with_no_load_balancer_watching_a_stop_does_not_wait() {
    let (deployment, admin, http) = deployment(30);
    let berth: Berth = deployment.start();
    assert_eq!(get(admin, "/health").0, 200);
    assert_eq!(post(http), 200);
    let signalled = Instant::now();
    assert!(berth.terminate(Duration::from_secs(10)).success());
    assert!(signalled.elapsed() < Duration::from_secs(5));
}
