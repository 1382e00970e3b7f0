//! The admin API's token: made on first run in the data dir, readable by its owner only. The
//! CLI reads it from there; the console asks the operator for it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

pub const FILE: &str = "admin.token";

/// The token in `data_dir`, created when missing.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<String> {
    let file = data_dir.join(FILE);
    if let Ok(token) = std::fs::read_to_string(&file) {
        let token = token.trim().to_string();
        if !token.is_empty() {
            return Ok(token);
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes).context("cannot draw a random admin token")?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    out.write_all(token.as_bytes())?;
    out.sync_all()?;
    Ok(token)
}

/// Read the token of a running berth (for the CLI).
pub fn read(data_dir: &Path) -> anyhow::Result<String> {
    let file = data_dir.join(FILE);
    let token = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "cannot read the admin token {} (has berth run with this deployment?)",
            file.display()
        )
    })?;
    Ok(token.trim().to_string())
}

/// Compare in time independent of where the first difference is.
pub fn matches(given: &[u8], expected: &str) -> bool {
    let expected = expected.as_bytes();
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
