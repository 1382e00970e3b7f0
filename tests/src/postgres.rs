//! A real PostgreSQL for the tests, from Debian's packages (`scripts/test` installs them):
//! initdb in a temporary directory, the server on a free loopback port, stopped and removed when
//! the handle is dropped (or, for [`PgServer::shared`], when the test binary exits).
//!
//! PostgreSQL refuses to run as root, so as root the server runs as a dedicated user
//! (`berth-pg`, created when missing); as any other user it runs as that user. It listens on
//! 127.0.0.1 only, with its Unix socket in the temporary directory, and keeps `fsync` on: the
//! store's promise is a commit that survives a crash, and the tests should pay what it costs.
//! Host connections need the password (`scram-sha-256`), so that the tests exercise the
//! store's password setting; the socket, used by the harness alone, trusts.

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The user the server runs as when the tests run as root.
const SERVER_USER: &str = "berth-pg";
/// The superuser that initdb creates and the tests connect as.
pub const DB_USER: &str = "berth";

/// A running PostgreSQL in a temporary directory.
pub struct PgServer {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    password: String,
    owner: Option<(u32, u32)>,
    /// The server process while it runs: its pid, and word of its exit.
    running: Mutex<Option<(u32, mpsc::Receiver<()>)>>,
    /// Set by [`PgServer::stop`]: the directory is gone and nothing may start again.
    removed: Mutex<bool>,
}

impl PgServer {
    /// Starts a server of its own, stopped when dropped.
    pub fn start() -> PgServer {
        let bin = bin_dir();
        let owner = server_owner();
        let dir = tempfile::Builder::new()
            .prefix("berth-pg-")
            .tempdir()
            .expect("a temporary directory for PostgreSQL")
            .keep();
        let password = format!("pw-{:x}-{:x}", std::process::id(), nanos());
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, format!("{password}\n")).unwrap();
        if let Some((uid, gid)) = owner {
            for path in [&dir, &pwfile] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
            }
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        // --no-sync: initdb's own files of a throw-away cluster; the server keeps fsync on.
        let output = as_owner(Command::new(bin.join("initdb")), owner)
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-U", DB_USER, "-E", "UTF8", "--locale=C", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // A port taken between the probe and the server's bind makes the server exit: try again.
        for _ in 0..3 {
            let port = crate::free_port();
            if let Some(running) = launch(&bin, &dir, port, owner) {
                return PgServer {
                    dir,
                    bin,
                    port,
                    password,
                    owner,
                    running: Mutex::new(Some(running)),
                    removed: Mutex::new(false),
                };
            }
        }
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        panic!("PostgreSQL did not start:\n{log}");
    }

    /// One server for the whole test binary, started by the first test that asks and stopped
    /// (its directory removed) when the binary exits. Each test takes a database of its own.
    pub fn shared() -> &'static PgServer {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        SHARED.get_or_init(|| {
            extern "C" fn stop_shared() {
                if let Some(server) = SHARED.get() {
                    server.stop();
                }
            }
            // SAFETY: registers a plain function without arguments to run at exit.
            unsafe { libc::atexit(stop_shared) };
            PgServer::start()
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The password of [`DB_USER`], for the host's password setting.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The URL of database `db` on loopback, without the password.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{DB_USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// The `store:` section of a berth.yaml for database `db`, its password written to
    /// `secrets/db` (mode 0600) in the deployment folder `dir`, as an operator would keep it.
    pub fn store_yaml(&self, dir: &Path, db: &str) -> String {
        std::fs::create_dir_all(dir.join("secrets")).unwrap();
        write_secret(&dir.join("secrets/db"), &format!("{}\n", self.password()));
        format!(
            "store:\n  backend: postgres\n  url: {}\n  password_file: secrets/db\n",
            self.url(db)
        )
    }

    /// Creates a fresh database with a unique name starting with `prefix`; returns its name.
    pub fn create_database(&self, prefix: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{}_{}_{}",
            prefix.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.sql("postgres", &format!("CREATE DATABASE \"{name}\""));
        name
    }

    /// Runs SQL in database `db` through psql on the server's socket; returns what psql prints
    /// (unaligned, tuples only). Panics when the statement fails.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-U", DB_USER, "-d", db])
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            output.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Stops the server (fast shutdown, then SIGKILL after 10 s), keeping its data directory
    /// and port for [`PgServer::restart`]: the database going away under a running berth.
    /// Does nothing when it is not running.
    pub fn halt(&self) {
        let Some((pid, exited)) = self.running.lock().map(|mut r| r.take()).unwrap_or(None) else {
            return;
        };
        let pid = pid as libc::pid_t;
        // SAFETY: signals the server process this handle started (still unreaped: the keeper
        // thread waits for it, so the pid cannot have been reused).
        unsafe { libc::kill(pid, libc::SIGINT) };
        if exited.recv_timeout(Duration::from_secs(10)).is_err() {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = exited.recv_timeout(Duration::from_secs(5));
        }
    }

    /// Starts the halted server again on the same data directory and port (panics if the port
    /// was taken meanwhile, or if the server was stopped for good).
    pub fn restart(&self) {
        assert!(
            !*self.removed.lock().unwrap(),
            "the server was stopped for good"
        );
        let mut running = self.running.lock().unwrap();
        assert!(running.is_none(), "the server is running");
        let started = launch(&self.bin, &self.dir, self.port, self.owner);
        *running = Some(started.unwrap_or_else(|| {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            panic!(
                "PostgreSQL did not start again on port {}:\n{log}",
                self.port
            )
        }));
    }

    /// Stops the server and removes its directory. Later calls do nothing.
    pub fn stop(&self) {
        self.halt();
        let mut removed = self.removed.lock().unwrap_or_else(|p| p.into_inner());
        if !*removed {
            *removed = true;
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the server on `port` and waits until it accepts connections; None if it exited
/// (port taken). The child is spawned and reaped by a thread that lives as long as it, so that
/// the parent-death signal (which follows the spawning thread) fires only when the test
/// binary itself dies: a killed test run leaves no server behind.
fn launch(
    bin: &Path,
    dir: &Path,
    port: u16,
    owner: Option<(u32, u32)>,
) -> Option<(u32, mpsc::Receiver<()>)> {
    // Appended to, so that a restart keeps what the server said before.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir.join("server.log"), Some(uid), Some(gid)).unwrap();
    }
    let mut command = as_owner(Command::new(bin.join("postgres")), owner);
    command
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-p", &port.to_string()])
        .arg("-k")
        .arg(dir)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=on"])
        .args(["-c", "max_connections=200", "-c", "shared_buffers=32MB"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    // SAFETY: prctl only, between fork and exec (after the change of user, which clears it).
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
            Ok(())
        });
    }
    let (pid_tx, pid_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("postgres-{port}"))
        .spawn(move || {
            let mut child = command.spawn().expect("start postgres");
            pid_tx.send(child.id()).unwrap();
            let _ = child.wait();
            let _ = exit_tx.send(());
        })
        .unwrap();
    let pid = pid_rx.recv().expect("postgres started");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if exit_rx.try_recv().is_ok() {
            return None;
        }
        let ready = Command::new(bin.join("pg_isready"))
            .arg("-h")
            .arg(dir)
            .args(["-p", &port.to_string(), "-U", DB_USER, "-q"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ready && TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((pid, exit_rx));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("PostgreSQL on port {port} not ready after 30 s");
}

/// The binaries of the newest PostgreSQL installed from Debian's packages.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(
        "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb): \
         `apt-get install -y postgresql` (scripts/test does)",
    )
}

/// The (uid, gid) the server runs as: [`SERVER_USER`], created if missing, when the tests run
/// as root; None (the current user) otherwise.
fn server_owner() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    if lookup(SERVER_USER).is_none() {
        // Another test binary may create it at the same moment: look again rather than
        // trusting useradd's exit status.
        let _ = Command::new("useradd")
            .args(["--system", "--user-group", "--no-create-home"])
            .args(["--shell", "/usr/sbin/nologin", SERVER_USER])
            .stderr(Stdio::null())
            .status();
    }
    Some(lookup(SERVER_USER).unwrap_or_else(|| panic!("cannot create the user {SERVER_USER}")))
}

fn lookup(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, user]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

fn as_owner(mut command: Command, owner: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    // The server's environment would otherwise name root's home and locale.
    command.env_remove("HOME").env("LC_ALL", "C");
    command
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Writes `text` to a new file readable by the host only, e.g. a password file.
pub fn write_secret(path: &Path, text: &str) {
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}
