//! The whole check of a deployment folder, shared by `berth run`, `berth validate` and every
//! redeploy: host settings, plugins, connections and processes, without binding anything.

use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_process::{load_deployment_partial, Diagnostic};

use super::{plan, Plan};
use crate::plugins::{self, Registry};
use crate::settings::{self, HostSettings};

/// The deployment folder as an absolute path; an error names what was given.
pub fn deployment_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let absolute = dir
        .canonicalize()
        .with_context(|| format!("deployment folder {}", dir.display()))?;
    anyhow::ensure!(
        absolute.is_dir(),
        "{} is not a folder; give the deployment folder",
        dir.display()
    );
    Ok(absolute)
}

/// The plugins of a deployment: its `plugins/` folder and those built beside the binary.
pub fn load_registry(dir: &Path) -> Registry {
    plugins::load_all(&plugins::plugin_dirs(dir))
}

/// Everything `run` and `validate` check, without binding: diagnostics on failure. Loads the
/// plugins afresh, so that a redeploy picks up new and changed plugin files.
pub fn check_deployment(dir: &Path) -> Result<(HostSettings, Plan), Vec<Diagnostic>> {
    check(dir, &load_registry(dir))
}

/// [`check_deployment`] with plugins already loaded.
pub fn check(dir: &Path, registry: &Registry) -> Result<(HostSettings, Plan), Vec<Diagnostic>> {
    let settings = settings::load(dir).map_err(|d| vec![d])?;
    let (deployment, diagnostics) = load_deployment_partial(dir);
    let plan = plan(deployment, registry, diagnostics)?;
    Ok((settings, plan))
}

/// Print a deployment's problems the way `validate` and `run` do.
pub fn report(dir: &Path, diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        eprintln!("error: {diagnostic}");
    }
    eprintln!(
        "berth: {} problem{} in deployment {}",
        diagnostics.len(),
        if diagnostics.len() == 1 { "" } else { "s" },
        dir.display()
    );
}
