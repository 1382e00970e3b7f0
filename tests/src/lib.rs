//! The harness of berth's end-to-end tests: a deployment folder written by the test, the real
//! `berth` binary started on it, and helpers to talk to it as a partner would.
//!
//! The binary and the plugins come from the cargo target folder this test was built into; run
//! `cargo build --workspace` first (the project's test command does).

pub mod cpu;
pub mod haproxy;
pub mod large;
pub mod postgres;
pub mod receiver;
pub mod tls;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The cargo target folder holding `berth` and the plugins (e.g. `target/debug`).
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable is in target/<profile>/deps")
        .to_path_buf();
    assert!(
        dir.join("berth").exists(),
        "{} has no berth binary: run `cargo build --workspace` before the tests",
        dir.display()
    );
    dir
}

pub fn berth_binary() -> PathBuf {
    build_dir().join("berth")
}

/// A plugin library built in this workspace, by crate name (`panicking_test_plugin`).
pub fn built_plugin(lib_name: &str) -> PathBuf {
    let file = build_dir().join(format!("lib{lib_name}.so"));
    assert!(file.exists(), "{} not built", file.display());
    file
}

/// A free TCP port on loopback. The port is released before berth binds it; tests bind to
/// 127.0.0.1 only, where another process grabbing it in between is unlikely.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("local address")
        .port()
}

/// A deployment folder in a temporary directory.
pub struct Deployment {
    dir: tempfile::TempDir,
}

impl Default for Deployment {
    fn default() -> Self {
        Self::new()
    }
}

impl Deployment {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary deployment folder"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file relative to the deployment folder, creating folders.
    pub fn write(&self, relative: &str, text: &str) -> &Self {
        let file = self.path().join(relative);
        std::fs::create_dir_all(file.parent().expect("file has a parent")).expect("mkdir");
        std::fs::write(&file, text).expect("write deployment file");
        self
    }

    /// Copy a file into the deployment's `plugins/` folder.
    pub fn add_plugin(&self, file: &Path, name: &str) -> &Self {
        let plugins = self.path().join("plugins");
        std::fs::create_dir_all(&plugins).expect("mkdir plugins");
        std::fs::copy(file, plugins.join(name)).expect("copy plugin");
        self
    }

    /// A legacy HTTP connection on 127.0.0.1 with extra YAML settings lines.
    pub fn http_connection(&self, name: &str, port: u16, extra: &str) -> &Self {
        let mut text = format!(
            "name: {name}\nconnector: http-server-legacy\nsettings:\n  address: 127.0.0.1\n  port: {port}\n"
        );
        for line in extra.lines() {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        self.write(&format!("connections/{name}.yaml"), &text)
    }

    /// Run a berth subcommand on this deployment to completion.
    pub fn berth(&self, args: &[&str]) -> Output {
        Command::new(berth_binary())
            .args(args)
            .arg(self.path())
            .env("BERTH_LOG", "info")
            .output()
            .expect("run berth")
    }

    /// `berth documents ARGS --dir DIR`, with the store its berth.yaml names (a
    /// `BERTH_STORE_URL` in the test's environment would point it elsewhere).
    pub fn documents_command(&self, args: &[&str]) -> Output {
        Command::new(berth_binary())
            .arg("documents")
            .args(args)
            .arg("--dir")
            .arg(self.path())
            .env_remove("BERTH_STORE_URL")
            .output()
            .expect("run berth documents")
    }

    /// `berth documents ARGS`, which must succeed: its output.
    pub fn berth_documents(&self, args: &[&str]) -> String {
        let output = self.documents_command(args);
        let text = output_text(&output);
        assert!(output.status.success(), "{args:?}: {text}");
        text
    }

    /// `berth documents ARGS`, which must fail: its output.
    pub fn berth_documents_fails(&self, args: &[&str]) -> String {
        let output = self.documents_command(args);
        let text = output_text(&output);
        assert!(!output.status.success(), "{args:?} succeeded: {text}");
        text
    }

    /// Start `berth run` and wait until it is ready (or has exited).
    pub fn start(&self) -> Berth {
        Berth::start(self.path(), &[])
    }

    /// Start `berth [OPTIONS] run` with global options such as `--log-format json`.
    pub fn start_with(&self, options: &[&str]) -> Berth {
        Berth::start(self.path(), options)
    }
}

/// A running `berth run`. Stopped with SIGKILL when dropped, if still running.
pub struct Berth {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Berth {
    pub fn start(dir: &Path, options: &[&str]) -> Berth {
        let mut child = Command::new(berth_binary())
            .args(options)
            .arg("run")
            .arg(dir)
            .env("BERTH_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start berth");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let berth = Berth { child, log };
        berth.wait_for_log("berth is ready", Duration::from_secs(30));
        berth
    }

    /// The process id, e.g. to read its memory use from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything berth has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Wait until the log contains `text`; panics with the log after `timeout`.
    pub fn wait_for_log(&self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log().contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("berth never logged {text:?}; its log:\n{}", self.log());
    }

    /// Send SIGTERM and wait for the exit.
    pub fn terminate(self, timeout: Duration) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.exit_within(timeout)
    }

    /// Send a signal (e.g. SIGTERM) and return at once: berth may still be draining.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid, not yet reaped (we hold the Child).
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
    }

    /// Whether berth has exited (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().expect("wait for berth").is_some()
    }

    /// Wait for the exit, for at most `timeout` (panics with the log after it).
    pub fn exit_within(mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for berth") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "berth did not stop within {timeout:?}; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Wait for berth to exit by itself (e.g. after a deploy error).
    pub fn wait_exit(mut self) -> (ExitStatus, String) {
        let status = self.child.wait().expect("wait for berth");
        std::thread::sleep(Duration::from_millis(50));
        (status, self.log())
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies the `keys` folder of deployment `from` into deployment `to`, so that two nodes of a
/// cluster test hold the same keys and certificates.
pub fn copy_keys(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("keys")).unwrap();
    for entry in std::fs::read_dir(from.join("keys")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join("keys").join(entry.file_name())).unwrap();
    }
}

/// A blocking HTTP client for tests: no proxies, short timeouts, accepts the self-signed
/// certificates tests generate.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .danger_accept_invalid_certs(true)
        .build()
        .expect("HTTP client")
}

/// stdout and stderr of a finished command, as text.
/// The id of the first document a `berth documents list` printed (the line after the header).
pub fn first_listed_id(listing: &str) -> &str {
    listing
        .lines()
        .nth(1)
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("no document listed: {listing}"))
}

pub fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
