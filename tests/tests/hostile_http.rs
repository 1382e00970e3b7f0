//! Hostile and broken HTTP from a partner: each case gets a clear answer (or a closed
//! connection), berth logs it, and keeps serving everyone else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use berth_e2e::{client, free_port, Berth, Deployment};

const LIMITS: &str = "limits:\n  max_connections: 3\n  header_read_timeout_seconds: 1\n  body_read_timeout_seconds: 1\n  max_header_bytes: 16384\n  max_headers: 20\n";

fn start() -> (Deployment, Berth, u16) {
    let port = free_port();
    let deployment = Deployment::new();
    deployment
        .write("berth.yaml", LIMITS)
        .http_connection("inbound", port, "")
        .write(
            "processes/echo.yaml",
            "name: echo\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  operation: { path: /echo }\nsteps:\n  - write_file: { directory: got, file_name: \"${http.query.name:-doc}\" }\n  - return: { status: 200 }\n",
        );
    let berth = deployment.start();
    (deployment, berth, port)
}

/// Send raw bytes and read whatever comes back until the server closes or 5 s pass.
fn raw_exchange(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn still_serving(port: u16) {
    let response = client()
        .post(format!("http://127.0.0.1:{port}/echo"))
        .body("still here")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().unwrap(), "still here");
}

#[test]
fn oversized_and_overcrowded_heads_get_431() {
    let (_deployment, _berth, port) = start();
    let big = format!(
        "POST /echo HTTP/1.1\r\nhost: x\r\nx-big: {}\r\ncontent-length: 0\r\n\r\n",
        "a".repeat(20_000)
    );
    assert!(raw_exchange(port, big.as_bytes()).starts_with("HTTP/1.1 431"));
    let mut many = String::from("POST /echo HTTP/1.1\r\nhost: x\r\n");
    for i in 0..40 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("content-length: 0\r\n\r\n");
    assert!(raw_exchange(port, many.as_bytes()).starts_with("HTTP/1.1 431"));
    still_serving(port);
}

#[test]
fn a_client_that_never_finishes_its_head_is_cut_off() {
    let (_deployment, _berth, port) = start();
    let started = Instant::now();
    let answer = raw_exchange(port, b"POST /echo HTTP/1.1\r\nhost: x\r\n");
    // hyper answers 408 or simply closes; either way the slot is freed within the timeout.
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    still_serving(port);
}

/// Slowloris: a head dripped a byte every 200 ms never completes, and must not hold its
/// connection past the header timeout (1 s here) just because bytes keep coming.
#[test]
fn a_head_dripped_byte_by_byte_is_cut_off() {
    let (_deployment, _berth, port) = start();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let started = Instant::now();
    let head = b"POST /echo HTTP/1.1\r\nhost: x\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut cut = false;
    for byte in head.iter() {
        if stream.write_all(&[*byte]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if started.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    if !cut {
        // The server may have closed without the write noticing yet: a read says.
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let mut rest = Vec::new();
        cut = stream.read_to_end(&mut rest).is_ok();
    }
    assert!(cut, "a dripped head kept its connection");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cut only after {:?}",
        started.elapsed()
    );
    still_serving(port);
}

#[test]
fn a_body_that_never_arrives_gets_408() {
    let (_deployment, berth, port) = start();
    let answer = raw_exchange(
        port,
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly a part",
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    berth.wait_for_log("body read timed out", Duration::from_secs(5));
    still_serving(port);
}

#[test]
fn a_truncated_body_is_not_taken_as_a_document() {
    let (deployment, _berth, port) = start();
    {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .write_all(
                b"POST /echo?name=cut HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nhalf",
            )
            .unwrap();
        // Dropped here: the peer goes away mid-body.
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(!deployment.path().join("got/cut").exists());
    still_serving(port);
}

#[test]
fn a_header_that_is_not_utf8_is_accepted_without_becoming_a_property() {
    let (deployment, _berth, port) = start();
    let request = b"POST /echo?name=latin1 HTTP/1.1\r\nhost: x\r\nx-name: caf\xe9\r\ncontent-length: 3\r\n\r\nabc";
    let answer = read_one_answer(port, request);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        std::fs::read(deployment.path().join("got/latin1")).unwrap(),
        b"abc"
    );
}

/// Send a request and read the first chunk of the answer, without waiting for the close.
fn read_one_answer(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut buffer = [0u8; 4096];
    let n = stream.read(&mut buffer).unwrap_or(0);
    String::from_utf8_lossy(&buffer[..n]).into_owned()
}

#[test]
fn connections_beyond_the_limit_wait_instead_of_collapsing_the_server() {
    let (_deployment, _berth, port) = start();
    // Take every connection slot with clients that send nothing.
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // A real partner still gets through once the idle ones are cut at the header timeout.
    let started = Instant::now();
    still_serving(port);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "served without waiting: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    drop(idle);
}
