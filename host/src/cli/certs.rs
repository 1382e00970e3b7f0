//! `berth certs`: every certificate and key a deployment uses, soonest expiry first, from the
//! files alone (no running berth needed): plugins and settings load as for `berth validate`.

use std::path::Path;
use std::process::ExitCode;

use berth_process::load_deployment_partial;

use crate::deploy::certs::{collect, unix_now, CertificateRecord, KeyState};
use crate::deploy::{deployment_dir, load_registry};

pub fn run(dir: &Path) -> anyhow::Result<ExitCode> {
    let dir = deployment_dir(dir)?;
    let registry = load_registry(&dir);
    // The deployment's other problems are `berth validate`'s to report; what can be read is
    // listed, so that an operator sees the certificates even of a deployment that is broken.
    let (deployment, _) = load_deployment_partial(&dir);
    let (records, _) = collect(&deployment, &registry);
    let now = unix_now();
    if records.is_empty() {
        println!("no certificates in {}", dir.display());
    } else {
        print!("{}", table(&records, now));
    }
    exchanged(&dir, now);
    Ok(ExitCode::SUCCESS)
}

/// The certificates partners sent by certificate exchange, from the message store (read
/// beside a running berth). Nothing when the store is off or has none; a store that cannot be
/// read is said, without failing the listing of the files.
fn exchanged(dir: &Path, now: i64) {
    let Ok(settings) = crate::settings::load(dir) else {
        return;
    };
    if !settings.store.enabled {
        return;
    }
    let read = || -> anyhow::Result<Vec<berth_store::PartnerCertificate>> {
        let reader = crate::store::open_reader(dir, &settings.store)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(runtime.block_on(reader.partner_certificates())?)
    };
    match read() {
        Ok(stored) if stored.is_empty() => {}
        Ok(stored) => {
            let described: Vec<_> = stored
                .iter()
                .map(|c| crate::cert::exchanged::describe(c, now))
                .collect();
            println!("\ncertificates partners sent by certificate exchange:");
            print!("{}", crate::cert::exchanged::table(&described, now));
        }
        Err(error) => {
            let not_yet = error
                .downcast_ref::<berth_store::StoreError>()
                .is_some_and(|e| matches!(e, berth_store::StoreError::NotFound(_)));
            if !not_yet {
                println!("\ncertificates partners sent by certificate exchange: cannot read the message store: {error:#}");
            }
        }
    }
}

/// The listing, one line per certificate, columns aligned.
pub fn table(records: &[CertificateRecord], now: i64) -> String {
    let mut rows = vec![[
        "DAYS LEFT",
        "PROCESS",
        "ROLE",
        "SUBJECT",
        "FILE",
        "KEY",
        "SHA-256",
    ]
    .map(String::from)];
    for record in records {
        let key = match (&record.key_file, record.key) {
            (Some(file), KeyState::Mismatch) => format!("{file} (DOES NOT MATCH)"),
            (Some(file), _) => file.clone(),
            (None, _) => "-".to_string(),
        };
        let (days, subject, fingerprint) = match (&record.details, record.days_left(now)) {
            (Ok(details), Some(days)) => (
                if days < 0 {
                    format!("EXPIRED {days}")
                } else {
                    days.to_string()
                },
                details.subject.clone(),
                details.fingerprint.clone(),
            ),
            (Err(error), _) => ("UNREADABLE".into(), error.clone(), "-".into()),
            (Ok(_), None) => unreachable!("days are known when details are"),
        };
        rows.push([
            days,
            record.process.clone(),
            record.role.clone(),
            subject,
            record.file.clone(),
            key,
            fingerprint,
        ]);
    }
    crate::cli::aligned(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::certs::{Details, DAY};

    fn record(
        subject: &str,
        end: Result<i64, &str>,
        key: Option<(&str, KeyState)>,
    ) -> CertificateRecord {
        CertificateRecord {
            process: "in".into(),
            role: "decryption".into(),
            file: format!("{subject}.pem"),
            key_file: key.map(|(f, _)| f.to_string()),
            key: key.map_or(KeyState::NoKey, |(_, k)| k),
            details: end
                .map(|not_after| Details {
                    subject: format!("CN={subject}"),
                    fingerprint: "AB:CD".into(),
                    not_after,
                })
                .map_err(String::from),
        }
    }

    #[test]
    fn expired_mismatched_and_unreadable_ones_are_marked() {
        let now = 1_000_000_000;
        let text = table(
            &[
                record("old", Ok(now - 3 * DAY), None),
                record(
                    "new",
                    Ok(now + 10 * DAY),
                    Some(("k.pem", KeyState::Mismatch)),
                ),
                record("lost", Err("cannot read lost.pem"), None),
            ],
            now,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("DAYS LEFT"), "{text}");
        assert!(lines[1].starts_with("EXPIRED -3 "), "{text}");
        assert!(
            lines[1].contains("CN=old") && lines[1].contains("AB:CD"),
            "{text}"
        );
        assert!(lines[2].starts_with("10 "), "{text}");
        assert!(lines[2].contains("k.pem (DOES NOT MATCH)"), "{text}");
        assert!(
            lines[3].starts_with("UNREADABLE") && lines[3].contains("cannot read"),
            "{text}"
        );
    }
}
