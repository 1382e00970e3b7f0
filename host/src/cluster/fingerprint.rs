//! The deployment's fingerprint: a hash of each file that decides what a node does (berth.yaml,
//! processes, connections, plugins, certificates), so that nodes meant to run the same
//! deployment can tell which files differ between them.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// The folders of a deployment whose every file counts.
const FOLDERS: &[&str] = &["processes", "connections", "plugins", "certificates"];

/// Hashes the deployment's files, again only for those whose size or time changed since the
/// last time (plugins are megabytes; the heartbeat asks every few seconds).
pub struct Fingerprint {
    dir: PathBuf,
    /// Files the deployment names outside its folders (certificates and keys of connections),
    /// relative to the deployment folder or absolute.
    extra: Vec<String>,
    known: Mutex<HashMap<PathBuf, (u64, SystemTime, String)>>,
}

impl Fingerprint {
    pub fn new(dir: &Path, extra: Vec<String>) -> Fingerprint {
        Fingerprint {
            dir: dir.to_path_buf(),
            extra,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// (path relative to the deployment folder, SHA-256 in hex), sorted by path. A file that
    /// cannot be read counts with the hash `unreadable`, so that it shows as a difference.
    pub fn files(&self) -> Vec<(String, String)> {
        let mut paths: Vec<PathBuf> = vec![self.dir.join("berth.yaml")];
        for folder in FOLDERS {
            walk(&self.dir.join(folder), &mut paths);
        }
        paths.extend(self.extra.iter().map(|f| self.dir.join(f)));
        let mut files: Vec<(String, String)> = paths
            .into_iter()
            .filter(|p| p.is_file())
            .map(|path| {
                let name = path
                    .strip_prefix(&self.dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                let hash = self.hash(&path);
                (name, hash)
            })
            .collect();
        files.sort();
        files.dedup();
        files
    }

    fn hash(&self, path: &Path) -> String {
        let stamp = std::fs::metadata(path)
            .ok()
            .and_then(|m| Some((m.len(), m.modified().ok()?)));
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some((len, time)), Some((l, t, hash))) = (stamp, known.get(path)) {
            if len == *l && time == *t {
                return hash.clone();
            }
        }
        let hash = sha256(path).unwrap_or_else(|| "unreadable".to_string());
        if let Some((len, time)) = stamp {
            known.insert(path.to_path_buf(), (len, time, hash.clone()));
        }
        hash
    }
}

/// One hash for a whole list of files, for listings: equal lists, equal fingerprints.
pub fn summary(files: &[(String, String)]) -> String {
    let mut hasher = openssl::sha::Sha256::new();
    for (name, hash) in files {
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(hash.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finish()[..8])
}

/// The files whose hash differs between two lists, or that only one has.
pub fn differing(mine: &[(String, String)], theirs: &[(String, String)]) -> Vec<String> {
    let a: HashMap<&str, &str> = mine.iter().map(|(n, h)| (n.as_str(), h.as_str())).collect();
    let b: HashMap<&str, &str> = theirs
        .iter()
        .map(|(n, h)| (n.as_str(), h.as_str()))
        .collect();
    let mut names: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|name| a.get(*name) != b.get(*name))
        .map(|name| name.to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn walk(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Editors' and the OS's hidden files are no part of a deployment.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, into);
        } else {
            into.push(path);
        }
    }
}

fn sha256(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = openssl::sha::Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Some(hex(&hasher.finish()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_the_deployment_and_what_differs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("processes")).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("berth.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join("processes/p.yaml"), "name: p\n").unwrap();
        std::fs::write(dir.path().join("processes/.p.yaml.swp"), "x").unwrap();
        std::fs::write(dir.path().join("data/store.sqlite"), "x").unwrap();
        std::fs::write(dir.path().join("partner.pem"), "cert").unwrap();
        let fingerprint = Fingerprint::new(dir.path(), vec!["partner.pem".into()]);
        let before = fingerprint.files();
        let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["berth.yaml", "partner.pem", "processes/p.yaml"]);
        assert_eq!(before[0].1.len(), 64);

        std::fs::write(dir.path().join("processes/p.yaml"), "name: changed\n").unwrap();
        std::fs::write(dir.path().join("processes/q.yaml"), "name: q\n").unwrap();
        let after = fingerprint.files();
        assert_eq!(
            differing(&before, &after),
            ["processes/p.yaml", "processes/q.yaml"]
        );
        assert_ne!(summary(&before), summary(&after));
        assert!(differing(&after, &after).is_empty());
    }
}
