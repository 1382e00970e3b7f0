//! What the browser tests share: a check that node, chromium and playwright-core are installed
//! (missing tools fail the test: a browser test that skipped itself would pass on a machine
//! where it never ran), and running a driver script with a time limit.
//! Included with `#[path]` by tests/tests/console*.rs.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The driver script `name` in tests/console, after checking that what it needs is installed.
pub fn driver(name: &str) -> PathBuf {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
    let setup = "run scripts/test, which installs it (or scripts/console-setup alone)";
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is not installed: {setup}"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is not installed: {setup}"
    );
    assert!(
        folder.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed in {}: {setup}",
        folder.display()
    );
    folder.join(name)
}

/// A `node SCRIPT` command that reaches loopback directly, whatever the proxy settings.
pub fn node(script: &Path) -> Command {
    let mut command = Command::new("node");
    command
        .arg(script)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    command
}

/// Run a command to its end, or kill it after `timeout`; its status and output.
pub fn run_with_timeout(mut command: Command, timeout: Duration) -> (Option<i32>, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = format!(
        "{}{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    (status, text)
}
