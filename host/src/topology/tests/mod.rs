//! The topology in-process, the way vector tests its reloads: a deployment folder written by the
//! test, checked with the real `http-server-legacy` plugin, applied to a real [`Topology`] on
//! loopback ports, then changed and applied again while partners are connected.
//!
//! - `reload`: what a redeploy does to each group (swap, rebind, leave alone, undeploy), and
//!   what it does not do when the new deployment is refused.
//! - `restart`: an operator's restart and pause.
//! - `intake`: each apply tells the intake which processes run now.

mod intake;
mod reload;
mod restart;

use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use berth_process::Runner;
use berth_store::Store;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::Topology;
use crate::deploy::testing::Folder;
use crate::deploy::Plan;
use crate::intake::Intake;
use crate::server::Mount;
use crate::settings::HostSettings;

const KIND: &str = "http-server-legacy";

/// No answer on loopback takes this long unless something is broken.
const PATIENCE: Duration = Duration::from_secs(10);

/// A deployment running in-process, composed as `berth run` composes it.
struct Live {
    folder: Folder,
    topology: Arc<Topology>,
    intake: Intake,
}

impl Live {
    /// Check the folder with the plugins built into the target folder and apply it.
    async fn start(folder: Folder) -> Live {
        let checked = folder.check();
        Live::start_with(folder, checked).await
    }

    /// Check the folder with the plugins loaded as a redeploy loads them, so that an operator's
    /// restart or a redeploy compares plugin for plugin (see `Folder::check_as_run`).
    async fn start_as_run(folder: Folder) -> Live {
        let checked = folder.check_as_run();
        Live::start_with(folder, checked).await
    }

    async fn start_with(
        folder: Folder,
        checked: Result<(HostSettings, Plan), Vec<berth_process::Diagnostic>>,
    ) -> Live {
        let (settings, plan) = checked.unwrap_or_else(|d| panic!("the deployment: {d:#?}"));
        let dir = folder.path().to_path_buf();
        let store = Store::open(&dir.join("data")).expect("the store in the deployment folder");
        let intake = Intake::new(Runner::new(&dir), Some(store));
        let topology = Topology::new(dir, settings, intake.clone());
        topology.apply(plan, None).await;
        assert_eq!(topology.bound().await.1, 0, "every listener is bound");
        Live {
            folder,
            topology,
            intake,
        }
    }

    /// Check the folder as it is now and apply it, as a redeploy does.
    async fn apply(&self) {
        let (_, plan) = self
            .folder
            .check()
            .unwrap_or_else(|d| panic!("the changed deployment: {d:#?}"));
        self.topology.apply(plan, None).await;
    }

    /// The version of a connection's listener that answers its next request.
    async fn mount(&self, connection: &str) -> Arc<Mount> {
        let running = self.topology.running.lock().await;
        let key = (connection.to_string(), KIND.to_string());
        running
            .groups
            .get(&key)
            .unwrap_or_else(|| panic!("connection `{connection}` runs"))
            .slot
            .get()
    }
}

/// The listening socket on `127.0.0.1:port`, by its inode: the same number means the very same
/// socket, never closed in between. Read from Linux's table of TCP sockets.
fn listening_socket(port: u16) -> Option<u64> {
    const LISTEN: &str = "0A";
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp (Linux)");
    let local = format!("{:08X}:{port:04X}", u32::from_le_bytes([127, 0, 0, 1]));
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let listening = fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&LISTEN);
        listening.then(|| fields.get(9)?.parse().ok()).flatten()
    })
}

/// A partner's HTTP/1.1 connection, kept alive between requests.
struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    async fn connect(port: u16) -> io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        Ok(Client {
            stream: BufReader::new(stream),
        })
    }

    async fn post(&mut self, path: &str, body: &str) -> (u16, String) {
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        self.send(request.as_bytes()).await;
        self.response().await
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.unwrap();
    }

    /// The next response (an interim `100 Continue` included): status and body.
    async fn response(&mut self) -> (u16, String) {
        tokio::time::timeout(PATIENCE, self.read_response())
            .await
            .expect("an answer in time")
            .expect("a well-formed answer")
    }

    async fn read_response(&mut self) -> io::Result<(u16, String)> {
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("not a status line: {line:?}")))?;
        let mut length = 0;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().map_err(io::Error::other)?;
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// One request on a connection of its own; an error when nothing listens.
async fn post(port: u16, path: &str, body: &str) -> io::Result<(u16, String)> {
    let mut client = Client::connect(port).await?;
    Ok(client.post(path, body).await)
}

/// A partner that keeps opening connections to a port, from its own thread, until told to stop
/// (bounded in attempts and time), counting the connections that were refused.
struct Knocking {
    stop: Arc<AtomicBool>,
    connected: Arc<AtomicU32>,
    thread: JoinHandle<Vec<io::Error>>,
}

impl Knocking {
    const MOST: u32 = 5_000;

    fn start(port: u16) -> Knocking {
        let stop = Arc::new(AtomicBool::new(false));
        let connected = Arc::new(AtomicU32::new(0));
        let (until, count) = (Arc::clone(&stop), Arc::clone(&connected));
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + PATIENCE;
            let mut refused = Vec::new();
            for _ in 0..Knocking::MOST {
                if until.load(Ordering::Acquire) || Instant::now() > deadline {
                    break;
                }
                match std::net::TcpStream::connect(("127.0.0.1", port)) {
                    Ok(stream) => {
                        let _ = stream.shutdown(Shutdown::Both);
                        count.fetch_add(1, Ordering::AcqRel);
                    }
                    Err(error) => refused.push(error),
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            refused
        });
        Knocking {
            stop,
            connected,
            thread,
        }
    }

    /// Wait until `more` connections beyond those counted so far went through.
    async fn connects(&self, more: u32) {
        let target = self.connected.load(Ordering::Acquire) + more;
        let deadline = Instant::now() + PATIENCE;
        while self.connected.load(Ordering::Acquire) < target {
            assert!(
                Instant::now() < deadline && !self.thread.is_finished(),
                "the partner stopped getting through"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Stop; the connections refused while knocking.
    fn stop(self) -> Vec<io::Error> {
        self.stop.store(true, Ordering::Release);
        self.thread.join().expect("the knocking thread")
    }
}
