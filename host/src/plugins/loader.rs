//! Discovering plugin files and loading them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi_stable::library::{lib_header_from_path, LibraryError};
use berth_connector_sdk::abi_stable;
use berth_connector_sdk::module::PluginModuleRef;

use super::{Plugin, Refused, Registry};

/// The folders plugins are loaded from, in order of precedence: the deployment's `plugins/`
/// folder, then the folder holding the berth binary (where `cargo build` puts the connectors
/// built beside it).
pub fn plugin_dirs(deployment: &Path) -> Vec<(PathBuf, bool)> {
    let mut dirs = vec![(deployment.join("plugins"), false)];
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        dirs.push((exe_dir, true));
    }
    dirs
}

/// Load every plugin in `dirs`. In a folder marked `builtin_only` (the binary's own folder,
/// which in a build tree also holds unrelated libraries), only `libberth_*` files are tried.
pub fn load_all(dirs: &[(PathBuf, bool)]) -> Registry {
    let mut registry = Registry::default();
    let mut seen = HashSet::new();
    for (dir, builtin_only) in dirs {
        for file in library_files(dir, *builtin_only) {
            let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
            if !seen.insert(canonical) {
                continue;
            }
            match load_one(&file, &registry) {
                Ok(plugin) => {
                    tracing::debug!(file = %file.display(), plugin = %plugin.name, "plugin loaded");
                    registry.plugins.push(Arc::new(plugin));
                }
                Err(reason) => {
                    tracing::warn!(file = %file.display(), %reason, "plugin refused");
                    registry.refused.push(Refused { file, reason });
                }
            }
        }
    }
    registry
}

fn library_files(dir: &Path, builtin_only: bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let is_library = name.ends_with(".so") || name.ends_with(".dylib");
            is_library && (!builtin_only || name.starts_with("libberth_"))
        })
        .collect();
    files.sort();
    files
}

fn load_one(file: &Path, registry: &Registry) -> Result<Plugin, String> {
    let loadable = versioned_copy(file)?;
    let header = lib_header_from_path(&loadable);
    // Once mapped, the copy is not needed on disk: loading the same name again finds the
    // library already loaded, by name.
    let _ = std::fs::remove_file(&loadable);
    if let Some(staging) = loadable.parent() {
        // Succeeds only once the folder is empty, which is the point.
        let _ = std::fs::remove_dir(staging);
    }
    let header = header.map_err(|e| describe_error(&e))?;
    let module = header
        .init_root_module::<PluginModuleRef>()
        .map_err(|e| describe_error(&e))?;
    let plugin = Plugin::from_module(file.to_path_buf(), module)?;
    for kind in &plugin.kinds {
        if let Some((other, _)) = registry.kind(&kind.name) {
            return Err(format!(
                "connector `{}` is already provided by {} (plugin {} {})",
                kind.name,
                other.file.display(),
                other.name,
                other.version
            ));
        }
    }
    Ok(plugin)
}

/// The dynamic loader hands back the library it already loaded for a path, even when the file
/// at that path was replaced: a redeployed plugin would keep running its old code. Loading a
/// copy named after the file's content makes a changed plugin a new library (and an unchanged
/// one the same library again, loaded once). Libraries are never unloaded (abi_stable), so
/// each version stays mapped; the copy is removed from disk as soon as it is loaded.
fn versioned_copy(file: &Path) -> Result<PathBuf, String> {
    use std::hash::{Hash, Hasher};
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read: {e}"))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("berth-plugins-{}", std::process::id()));
    let copy = dir.join(format!("{:016x}-{name}", hasher.finish()));
    if !copy.exists() {
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(&copy, &bytes))
            .map_err(|e| format!("cannot stage a copy for loading in {}: {e}", dir.display()))?;
    }
    Ok(copy)
}

/// One line that tells an operator what to do about a refused file.
fn describe_error(error: &LibraryError) -> String {
    match error {
        LibraryError::OpenError { err, .. } => {
            format!("not a loadable library: {}", first_line(&err.to_string()))
        }
        LibraryError::GetSymbolError { .. } => {
            "not a berth plugin: it exports no berth root module".to_string()
        }
        LibraryError::IncompatibleVersionNumber {
            library_name,
            expected_version,
            actual_version,
        } => format!(
            "built against connector SDK {actual_version}, but this berth needs a version \
             compatible with {expected_version} ({library_name}); rebuild the plugin against \
             berth-connector-sdk {expected_version}"
        ),
        LibraryError::AbiInstability(_) => format!(
            "built against an incompatible connector SDK (the ABI layout differs): rebuild it \
             against berth-connector-sdk {}",
            berth_connector_sdk::VERSION
        ),
        LibraryError::InvalidAbiHeader(_) => {
            "built with an incompatible abi_stable version".to_string()
        }
        other => first_line(&other.to_string()).to_string(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text).trim()
}
