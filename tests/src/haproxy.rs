//! A real load balancer for the tests: Debian's `haproxy` (`scripts/test` installs it) on
//! loopback, in the foreground, with its configuration in a temporary directory; stopped when
//! the handle is dropped.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One server behind a frontend: the port it serves and how haproxy checks it.
pub struct Backend {
    pub name: String,
    pub port: u16,
    /// `Some(path)`: an HTTP check `GET path` on `check_port` (e.g. `/ready` on the admin
    /// port); `None`: a TCP connect to `check_port`.
    pub http_check: Option<String>,
    pub check_port: u16,
}

/// A running haproxy.
pub struct Haproxy {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    /// Starts haproxy with one HTTP frontend per `(port, backends)`, round robin over the
    /// backends, checked every 300 ms (down after two failed checks). A connection that fails
    /// to a server is retried on another one (`option redispatch`); a request a server took
    /// and never answered is not (the client gets a 502), as with any proxy that cannot know
    /// whether the server acted on it.
    pub fn start(frontends: &[(u16, Vec<Backend>)]) -> Haproxy {
        let dir = tempfile::Builder::new()
            .prefix("berth-haproxy-")
            .tempdir()
            .unwrap();
        let mut config = String::from(
            "global\n  maxconn 512\n\ndefaults\n  mode http\n  timeout connect 2s\n  \
             timeout client 60s\n  timeout server 60s\n  retries 3\n  option redispatch\n\n",
        );
        for (i, (port, backends)) in frontends.iter().enumerate() {
            config.push_str(&format!(
                "frontend in{i}\n  bind 127.0.0.1:{port}\n  default_backend nodes{i}\n\n\
                 backend nodes{i}\n  balance roundrobin\n  default-server inter 300ms fall 2 rise 2\n"
            ));
            if let Some(path) = backends.iter().find_map(|b| b.http_check.clone()) {
                config.push_str(&format!("  option httpchk GET {path}\n"));
            }
            for b in backends {
                config.push_str(&format!(
                    "  server {} 127.0.0.1:{} check port {}\n",
                    b.name, b.port, b.check_port
                ));
            }
            config.push('\n');
        }
        let file = dir.path().join("haproxy.cfg");
        std::fs::write(&file, &config).unwrap();
        let child = Command::new(binary())
            .arg("-db") // foreground, logs to stderr
            .arg("-f")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy (scripts/test installs Debian's haproxy)");
        let proxy = Haproxy { child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        for (port, _) in frontends {
            while TcpStream::connect(("127.0.0.1", *port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "haproxy did not listen on {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        proxy
    }
}

fn binary() -> PathBuf {
    ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("haproxy"))
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
