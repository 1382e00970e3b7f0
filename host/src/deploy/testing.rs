//! Deployment folders for in-process tests: a temporary folder with connections and processes
//! written as an operator would, and the real `http-server-legacy` plugin in its `plugins/`
//! folder, checked by the same code as `berth validate` and `berth run`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use berth_process::Diagnostic;
use tokio::sync::{Mutex, MutexGuard};

use super::{check, Plan};
use crate::plugins::{load_all, plugin_dirs, Registry};
use crate::settings::HostSettings;

const PLUGIN_FILE: &str = "libberth_http_server_legacy.so";

/// The plugin as `cargo build --workspace` built it into the target folder. Missing means the
/// tests ran without that build: a failure, not a skip, so that the behaviour stays protected.
pub fn built_plugin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test binary> -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary runs from target/<profile>/deps");
    let file = profile_dir.join(PLUGIN_FILE);
    assert!(
        file.exists(),
        "{} is missing: run `cargo build --workspace` before `cargo test -p berth-host`",
        file.display()
    );
    file
}

/// The plugins built into the target folder, loaded once for every test of this binary:
/// loading reads and hashes each file, which a debug build does slowly. Every test that loads
/// plugins asks for these first, so nothing else loads while they do (see [`one_at_a_time`]).
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let plugin = built_plugin();
        let folder = plugin.parent().expect("the target folder").to_path_buf();
        let registry = load_all(&[(folder, true)]);
        assert!(
            registry.kind("http-server-legacy").is_some(),
            "{} did not load: {:?}",
            plugin.display(),
            registry.refused
        );
        registry
    })
}

/// For tests that load plugins again the way `berth run` does (a redeploy, a restart): one such
/// test at a time. Loading stages a copy of each file in one temporary folder per process and
/// removes it once mapped, so two loads at once can remove the folder under each other; berth
/// itself never loads twice at once (one redeploy at a time).
pub async fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::const_new(());
    registry();
    TURN.lock().await
}

/// A free TCP port on loopback, released for berth to bind.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("an ephemeral port on loopback")
        .port()
}

/// A deployment folder in a temporary directory, with the plugin in `plugins/`.
pub struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    pub fn new() -> Folder {
        let dir = tempfile::tempdir().expect("a temporary deployment folder");
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        std::os::unix::fs::symlink(built_plugin(), plugins.join(PLUGIN_FILE)).unwrap();
        Folder { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, relative: &str, text: &str) -> &Folder {
        let file = self.dir.path().join(relative);
        std::fs::create_dir_all(file.parent().expect("a file in a folder")).unwrap();
        std::fs::write(file, text).unwrap();
        self
    }

    pub fn remove(&self, relative: &str) -> &Folder {
        std::fs::remove_file(self.dir.path().join(relative)).unwrap();
        self
    }

    /// `connections/{name}.yaml`: an HTTP connection on loopback.
    pub fn http_connection(&self, name: &str, port: u16) -> &Folder {
        self.write(
            &format!("connections/{name}.yaml"),
            &format!(
                "name: {name}\nconnector: http-server-legacy\nsettings:\n  address: 127.0.0.1\n  \
                 port: {port}\n"
            ),
        )
    }

    /// `processes/{name}.yaml`: POST `path` on `connection`, through `steps` (YAML list items).
    pub fn http_process(&self, name: &str, connection: &str, path: &str, steps: &str) -> &Folder {
        self.write(
            &format!("processes/{name}.yaml"),
            &format!(
                "name: {name}\nstart:\n  connector: http-server-legacy\n  connection: \
                 {connection}\n  operation:\n    path: {path}\nsteps:\n{steps}"
            ),
        )
    }

    /// A process that answers 200 with `body`: its version shows in every answer.
    pub fn answering(&self, name: &str, connection: &str, path: &str, body: &str) -> &Folder {
        self.http_process(name, connection, path, &answer_steps(body))
    }

    /// What `berth validate` and `berth run` check, with the plugins built into the target
    /// folder.
    pub fn check(&self) -> Result<(HostSettings, Plan), Vec<Diagnostic>> {
        check(self.path(), registry())
    }

    /// The same check with the plugins loaded afresh from where `berth run` and a redeploy load
    /// them (`plugins/`, then beside the binary), so that what a redeploy plans later compares
    /// with this plan plugin for plugin. Only under [`one_at_a_time`].
    pub fn check_as_run(&self) -> Result<(HostSettings, Plan), Vec<Diagnostic>> {
        check(self.path(), &load_all(&plugin_dirs(self.path())))
    }
}

/// Steps that answer 200 with `body`.
pub fn answer_steps(body: &str) -> String {
    format!("  - return:\n      status: 200\n      body: \"{body}\"\n")
}
