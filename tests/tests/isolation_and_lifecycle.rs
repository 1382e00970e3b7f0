//! A plugin's panic stays that one request's error, and a stop lets requests in flight finish.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use berth_e2e::{built_plugin, client, free_port, Deployment};

#[test]
fn a_panicking_plugin_fails_one_request_and_the_host_keeps_serving() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment
        .add_plugin(&built_plugin("panicking_test_plugin"), "libpanicking.so")
        .write(
            "connections/p.yaml",
            &format!("name: p\nconnector: panicking\nsettings:\n  port: {port}\n"),
        )
        .write(
            "processes/p.yaml",
            "name: p\nstart:\n  connector: panicking\n  connection: p\n  operation: {}\n",
        );
    let berth = deployment.start();
    let http = client();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    for round in 0..3 {
        let panicked = http.post(url("/panic-handle")).body("x").send().unwrap();
        assert_eq!(panicked.status().as_u16(), 500, "round {round}");
        let fine = http.post(url("/ok")).body("x").send().unwrap();
        assert_eq!(fine.status().as_u16(), 200, "round {round}");
        let late = http.post(url("/panic-complete")).body("x").send().unwrap();
        assert_eq!(late.status().as_u16(), 500, "round {round}");
    }
    let log = berth.log();
    assert!(
        log.contains("plugin panicked in handle: asked to panic in handle"),
        "{log}"
    );
    assert!(log.contains("plugin panicked in complete"), "{log}");
    let status = berth.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

/// A partner's server that takes its time to answer, standing in for a slow downstream system.
fn slow_server(delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer);
                std::thread::sleep(delay);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            });
        }
    });
    port
}

#[test]
fn sigterm_finishes_requests_in_flight_then_exits_zero() {
    let downstream = slow_server(Duration::from_millis(1500));
    let port = free_port();
    let deployment = Deployment::new();
    deployment.http_connection("inbound", port, "").write(
        "processes/forward.yaml",
        &format!(
            "name: forward\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation: {{ path: /forward }}\nsteps:\n  - http_send: {{ url: \"http://127.0.0.1:{downstream}/in\" }}\n  - return: {{ status: 200, body: \"forwarded\" }}\n"
        ),
    );
    let berth = deployment.start();
    let request = std::thread::spawn(move || {
        client()
            .post(format!("http://127.0.0.1:{port}/forward"))
            .body("payload")
            .send()
            .map(|r| (r.status().as_u16(), r.text().unwrap_or_default()))
    });
    // Let the request reach the slow downstream before stopping.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let status = berth.terminate(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    let (code, body) = request
        .join()
        .unwrap()
        .expect("the in-flight request was answered");
    assert_eq!((code, body.as_str()), (200, "forwarded"));
    assert!(started.elapsed() >= Duration::from_millis(500));
    // Once stopped, nothing listens any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
