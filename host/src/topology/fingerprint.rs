//! What identifies a version of a listener group: its process files as they are on disk, its
//! connection's settings and its plugin. A redeploy leaves a group whose fingerprint did not
//! change alone.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use crate::deploy::PlannedListener;

pub fn fingerprint(planned: &PlannedListener) -> u64 {
    let mut hasher = DefaultHasher::new();
    planned.kind.hash(&mut hasher);
    planned.connection.hash(&mut hasher);
    planned.connection_settings.hash(&mut hasher);
    planned.plugin.file.hash(&mut hasher);
    planned.plugin.version.hash(&mut hasher);
    for process in &planned.processes {
        process.file.hash(&mut hasher);
        // The file as it is now; unreadable counts as a change, which only costs a reopen.
        std::fs::read(&process.file)
            .unwrap_or_default()
            .hash(&mut hasher);
    }
    hasher.finish()
}
