//! Large messages through the real binary: a body of tens of megabytes (generated as it is sent,
//! never stored in git) through every step kind with the delivered bytes checked by hash and
//! berth's memory kept flat, on both store backends; a message refused up front because the
//! disk has no room beside its reserve (413); a receipt that fills the disk (507, nothing kept);
//! and the spool file of a receipt cut off by SIGKILL removed at the next start.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use berth_e2e::large::{hash_of, is_root, memory_kib, receiver, Tmpfs};
use berth_e2e::postgres::PgServer;
use berth_e2e::{free_port, Berth, Deployment};

/// Large enough to dwarf every buffer berth has, small enough for a debug build in CI.
const LARGE: u64 = 96 << 20;

/// A deterministic stream of `len` bytes that do not compress, for a body that no layer can
/// shortcut. Byte `i` depends on `i` alone, so any read sizes give the same stream.
struct Pattern {
    at: u64,
    len: u64,
}

impl Pattern {
    fn new(len: u64) -> Pattern {
        Pattern { at: 0, len }
    }

    /// The SHA-256 of the whole stream, computed by generating it again.
    fn hash(len: u64) -> String {
        hash_of(&mut Pattern::new(len)).1
    }
}

/// splitmix64: a well-mixed word for each 8-byte position.
fn word(n: u64) -> [u8; 8] {
    let mut z = n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).to_le_bytes()
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.len - self.at).unwrap_or(usize::MAX));
        let mut filled = 0;
        while filled < n {
            let offset = (self.at % 8) as usize;
            let take = (8 - offset).min(n - filled);
            buf[filled..filled + take].copy_from_slice(&word(self.at / 8)[offset..offset + take]);
            filled += take;
            self.at += take as u64;
        }
        Ok(n)
    }
}

fn file_hash(path: &Path) -> (u64, String) {
    hash_of(&mut std::fs::File::open(path).expect("open"))
}

/// Every step kind on one large payload: it is routed on a property, written to a file,
/// sent to the loopback receiver and returned as the response body.
fn every_step(receiver_port: u16) -> String {
    format!(
        r#"
name: large
start:
  connector: http-server-legacy
  connection: inbound
  operation:
    path: /large
    max_body_bytes: 1073741824
steps:
  - set_properties:
      kind: "${{http.header.x-kind:-none}}"
  - route:
      property: kind
      cases:
        - equals: bulk
          steps:
            - write_file: {{directory: out, file_name: large.bin}}
  - http_send:
      url: "http://127.0.0.1:{receiver_port}/in"
      timeout_seconds: 300
  - return:
"#
    )
}

fn large_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap()
}

/// Sends a large body through every step kind and checks each delivery by hash; returns the
/// berth that took it, still running.
fn through_every_step(
    deployment: &Deployment,
    port: u16,
    receiver: (u16, JoinHandle<(u64, String, bool)>),
) -> Berth {
    let (receiver_port, received) = receiver;
    deployment
        .http_connection("inbound", port, "")
        .write("processes/large.yaml", &every_step(receiver_port));
    let berth = deployment.start();
    let (idle_peak, _) = memory_kib(berth.pid());
    let sent = Pattern::hash(LARGE);
    let response = large_client()
        .post(format!("http://127.0.0.1:{port}/large"))
        .header("x-kind", "bulk")
        .body(reqwest::blocking::Body::sized(Pattern::new(LARGE), LARGE))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{}", berth.log());
    assert_eq!(
        response.headers()["content-length"],
        LARGE.to_string().as_str(),
        "the returned payload keeps its length"
    );
    let mut response = response;
    assert_eq!(hash_of(&mut response), (LARGE, sent.clone()), "return");
    assert_eq!(
        file_hash(&deployment.path().join("out/large.bin")),
        (LARGE, sent.clone()),
        "write_file"
    );
    let (len, hash, sized) = received.join().unwrap();
    assert_eq!((len, hash), (LARGE, sent), "http_send");
    assert!(sized, "http_send gives the length rather than chunking");
    let (peak, _) = memory_kib(berth.pid());
    let grown = (peak.saturating_sub(idle_peak)) << 10;
    assert!(
        grown < LARGE / 3,
        "berth's peak memory grew by {} MiB for a {} MiB body",
        grown >> 20,
        LARGE >> 20
    );
    let spool = deployment.path().join("data/spool");
    assert_eq!(files_in(&spool), Vec::<PathBuf>::new(), "spool files left");
    berth
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_large_body_goes_through_every_step_kind_in_flat_memory() {
    let deployment = Deployment::new();
    let berth = through_every_step(&deployment, free_port(), receiver());
    // Stored once, as the spool file taken over by a link: one payload file of the body's
    // size, and the output file written by `write_file` from it.
    let payloads = files_in(&deployment.path().join("data/payloads"));
    let sizes: Vec<u64> = payloads
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    assert_eq!(sizes, [LARGE], "{payloads:?}");
    drop(berth);
}

#[test]
fn a_large_body_goes_through_every_step_kind_on_postgres() {
    let server = PgServer::shared();
    let db = server.create_database("large");
    let deployment = Deployment::new();
    deployment.write("berth.yaml", &server.store_yaml(deployment.path(), &db));
    let berth = through_every_step(&deployment, free_port(), receiver());
    let stored = server.sql(
        &db,
        "SELECT payload_len, (SELECT COUNT(*) FROM payload_chunks) FROM documents",
    );
    assert_eq!(stored.trim(), format!("{LARGE}|{}", LARGE >> 20));
    drop(berth);
}

#[test]
fn a_message_that_does_not_fit_beside_the_reserve_is_refused_up_front() {
    let port = free_port();
    let deployment = Deployment::new();
    // A reserve larger than any disk: every measured message is refused.
    deployment
        .write(
            "berth.yaml",
            "store:\n  disk_reserve_bytes: 1000000000000000000\n",
        )
        .http_connection("inbound", port, "")
        .write("processes/large.yaml", &every_step(free_port()));
    let berth = deployment.start();
    let len = 8u64 << 20;
    let response = large_client()
        .post(format!("http://127.0.0.1:{port}/large"))
        .body(reqwest::blocking::Body::sized(Pattern::new(len), len))
        .send();
    // The answer comes before the body is read; the client may still be writing it.
    if let Ok(response) = response {
        assert_eq!(response.status().as_u16(), 413);
        let text = response.text().unwrap();
        assert!(
            text.contains("does not fit on this server's disk"),
            "{text}"
        );
    }
    berth.wait_for_log(
        "does not fit on the disk beside its reserve",
        Duration::from_secs(10),
    );
    let log = berth.log();
    let line = log.lines().find(|l| l.contains("does not fit")).unwrap();
    assert!(
        line.contains("peer") && line.contains("127.0.0.1:"),
        "{line}"
    );
    // Small messages are not measured: the reserve is there for them.
    let small = large_client()
        .post(format!("http://127.0.0.1:{port}/large"))
        .body(vec![b'x'; 1000])
        .send()
        .unwrap();
    assert_ne!(small.status().as_u16(), 413);
    assert!(files_in(&deployment.path().join("data/spool")).is_empty());
}

/// Sends a chunked body of `len` bytes by hand, stopping when berth stops reading; returns the
/// status line berth answered with.
fn chunked_upload(port: u16, len: u64) -> String {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    socket
        .write_all(b"POST /large HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        .unwrap();
    let mut body = Pattern::new(len);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = body.read(&mut chunk).unwrap();
        let mut frame = format!("{n:x}\r\n").into_bytes();
        frame.extend_from_slice(&chunk[..n]);
        frame.extend_from_slice(b"\r\n");
        // Berth answers and closes as soon as the disk is full: the rest is not wanted.
        if socket.write_all(&frame).is_err() || n == 0 {
            break;
        }
    }
    let mut status = String::new();
    BufReader::new(socket).read_line(&mut status).unwrap();
    status
}

#[test]
fn a_receipt_that_fills_the_disk_gets_507_and_nothing_is_kept() {
    if !is_root() {
        eprintln!(
            "SKIPPED: mounting a small tmpfs as the store's disk needs root (CI runs as root)"
        );
        return;
    }
    let port = free_port();
    let deployment = Deployment::new();
    let data = deployment.path().join("data");
    let _tmpfs = Tmpfs::mount(&data, "48m");
    // No reserve: the spool runs into the file system's own "no space left".
    deployment
        .write("berth.yaml", "store:\n  disk_reserve_bytes: 0\n")
        .http_connection("inbound", port, "")
        .write("processes/large.yaml", &every_step(free_port()));
    let berth = deployment.start();
    let status = chunked_upload(port, 96 << 20);
    assert!(
        status.starts_with("HTTP/1.1 507"),
        "{status}\n{}",
        berth.log()
    );
    berth.wait_for_log("out of disk space during the body", Duration::from_secs(10));
    assert!(files_in(&data.join("spool")).is_empty(), "half a body kept");
    assert!(
        files_in(&data.join("payloads")).is_empty(),
        "half a payload kept"
    );
    let listed = deployment.berth_documents(&["list"]);
    assert!(listed.contains("\n0 documents"), "nothing stored: {listed}");
    drop(berth);
}

#[test]
fn a_receipt_cut_off_by_a_kill_leaves_no_file_after_the_next_start() {
    let port = free_port();
    let deployment = Deployment::new();
    deployment
        .http_connection("inbound", port, "")
        .write("processes/large.yaml", &every_step(free_port()));
    let berth = deployment.start();
    let spool = deployment.path().join("data/spool");
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!("POST /large HTTP/1.1\r\nhost: x\r\ncontent-length: {LARGE}\r\n\r\n");
    socket.write_all(head.as_bytes()).unwrap();
    let mut body = Pattern::new(LARGE);
    let mut chunk = vec![0u8; 1 << 20];
    let deadline = Instant::now() + Duration::from_secs(60);
    // Half the body, then wait until berth has spooled past its in-memory threshold.
    for _ in 0..(LARGE >> 21) {
        let n = body.read(&mut chunk).unwrap();
        socket.write_all(&chunk[..n]).unwrap();
    }
    let spooled = loop {
        let files = files_in(&spool);
        let size: u64 = files
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .sum();
        if size > 4 << 20 {
            break files;
        }
        assert!(
            Instant::now() < deadline,
            "nothing spooled: {}",
            berth.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    berth.kill();
    drop(socket);
    assert!(
        spooled.iter().all(|f| f.exists()),
        "the kill left the spool file"
    );
    let berth = deployment.start();
    berth.wait_for_log(
        "removed request bodies left by an earlier run",
        Duration::from_secs(10),
    );
    assert!(files_in(&spool).is_empty(), "{:?}", files_in(&spool));
    assert!(files_in(&deployment.path().join("data/payloads")).is_empty());
    let listed = deployment.berth_documents(&["list"]);
    assert!(listed.contains("\n0 documents"), "nothing stored: {listed}");
}
