//! The cluster test's two nodes (the same deployment, its own ports each), the slow sink their
//! processes post to, and the checks the test polls.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_e2e::postgres::PgServer;
use berth_e2e::{client, free_port, Deployment};
use serde_json::Value;

use super::common::*;

/// How long the sink holds each request: documents stay unfinished long enough for a kill to
/// catch some of them in flight.
pub const SINK_DELAY: Duration = Duration::from_millis(400);

/// One node's deployment: the same processes and keys as the other's; its own ports.
pub struct Node {
    pub name: &'static str,
    pub deployment: Deployment,
    pub http_port: u16,
    pub as2_port: u16,
    pub admin_port: u16,
}

impl Node {
    pub fn new(name: &'static str, server: &PgServer, db: &str, out: &Path, sink: &str) -> Node {
        let (http_port, as2_port, admin_port) = (free_port(), free_port(), free_port());
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
            .http_connection("inbound", http_port, "")
            .write(
                "processes/inbox.yaml",
                &format!(
                    "name: inbox\nstart:\n  connector: http-server-legacy\n  connection: inbound\n  \
                     operation: {{ path: /in }}\nsteps:\n  \
                     - write_file: {{ directory: {}, file_name: \"${{http.header.x-seq}}.txt\", if_exists: overwrite }}\n  \
                     - http_send: {{ url: \"{sink}/http/${{http.header.x-seq}}\", timeout_seconds: 30 }}\n  \
                     - return: {{ status: 200, body: \"stored\" }}\n",
                    out.join("http").display()
                ),
            )
            .write(
                "processes/partner.yaml",
                &format!(
                    "name: partner\nstart:\n  connector: as2-shared-server\n  operation:\n{}steps:\n  \
                     - write_file: {{ directory: {}, file_name: \"${{file_name}}\", if_exists: overwrite }}\n  \
                     - http_send: {{ url: \"{sink}/as2/${{file_name}}\", timeout_seconds: 30 }}\n",
                    operation(PARTNER, ""),
                    out.join("as2").display()
                ),
            );
        Node {
            name,
            deployment,
            http_port,
            as2_port,
            admin_port,
        }
    }

    pub fn path(&self) -> &Path {
        self.deployment.path()
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> Value {
        let token = std::fs::read_to_string(self.path().join("data/admin.token")).unwrap();
        let response = client()
            .request(
                method,
                format!("http://127.0.0.1:{}{path}", self.admin_port),
            )
            .bearer_auth(token.trim())
            .send()
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        serde_json::from_slice(&response.bytes().unwrap()).unwrap()
    }

    pub fn listener_state(&self, name: &str) -> String {
        let view = self.admin(reqwest::Method::GET, &format!("/api/listeners/{name}"));
        view["state"].as_str().unwrap().to_string()
    }
}

/// A slow HTTP server that the processes' `http_send` steps post to; it records each path.
pub struct Sink {
    pub url: String,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let record = Arc::clone(&record);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 8192];
                    let (head_end, length) = loop {
                        let Ok(n) = stream.read(&mut buffer) else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buffer[..n]);
                        if let Some(end) = find(&request, b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (end + 4, length);
                        }
                    };
                    while request.len() < head_end + length {
                        let Ok(n) = stream.read(&mut buffer) else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buffer[..n]);
                    }
                    std::thread::sleep(SINK_DELAY);
                    let path = String::from_utf8_lossy(&request)
                        .split(' ')
                        .nth(1)
                        .unwrap_or_default()
                        .to_string();
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    record.lock().unwrap().push(path);
                });
            }
        });
        Sink { url, seen }
    }

    pub fn seen(&self) -> BTreeSet<String> {
        self.seen.lock().unwrap().iter().cloned().collect()
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `timeout`.
pub fn eventually(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The values of property `name` of documents in `state`, from PostgreSQL.
pub fn property_values(server: &PgServer, db: &str, name: &str, state: &str) -> BTreeSet<String> {
    server
        .sql(
            db,
            &format!(
                "SELECT p.value FROM properties p JOIN documents d USING (seq)
                 WHERE p.name = '{name}' AND d.state = '{state}'"
            ),
        )
        .lines()
        .map(str::to_string)
        .collect()
}
