//! Certificates that change without an outage: the list forms of an operation's partner
//! certificates, decryption keys and MDN signing keys, their checks, and the choice of the MDN
//! signing key by date. The single forms (`partner_certificate`, `decryption_key`,
//! `mdn_signing_key`) stay as they are; an operation uses one form of each, not both.

use std::time::{SystemTime, UNIX_EPOCH};

use berth_connector_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

use super::settings::As2Operation;
use crate::certs::KeyPair;

/// An MDN signing key and the moment it starts signing.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatedKeyFile {
    /// Private key: PEM (PKCS#1, PKCS#8, encrypted PKCS#8), DER or PKCS#12, relative to the
    /// deployment folder. A PEM or PKCS#12 file may also hold the certificate.
    pub key: String,
    /// The certificate of the key, when the key file does not hold it.
    #[serde(default)]
    pub certificate: Option<String>,
    /// Password of the key file (encrypted PEM, PKCS#12).
    #[serde(default)]
    pub password: Option<Secret>,
    /// When this key starts signing MDNs: an RFC 3339 time (`2027-01-01T00:00:00Z`,
    /// `2027-01-01T09:00:00+02:00`) or a date (`2027-01-01`, midnight UTC). Without it the key
    /// signs from the start. Of the keys whose time has come, the latest signs.
    #[serde(default)]
    pub from: Option<String>,
}

/// Our MDN signing keys by the second (Unix time) each starts signing, earliest first.
#[derive(Debug, Default)]
pub struct MdnSigningKeys(Vec<(i64, KeyPair)>);

impl MdnSigningKeys {
    /// Keys with their start times, in any order; `i64::MIN` for "from the start".
    pub fn new(mut keys: Vec<(i64, KeyPair)>) -> Self {
        keys.sort_by_key(|(from, _)| *from);
        MdnSigningKeys(keys)
    }

    /// The key that signs at `now` (Unix seconds): the latest whose start has come.
    pub fn at(&self, now: i64) -> Option<&KeyPair> {
        self.0
            .iter()
            .rev()
            .find(|(from, _)| *from <= now)
            .map(|(_, key)| key)
    }

    /// The key that signs now. Chosen for every MDN, so the switch needs no restart.
    pub fn current(&self) -> Option<&KeyPair> {
        self.at(unix_now())
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The list-form checks, each with its JSON pointer.
pub fn check(op: &As2Operation) -> Vec<Problem> {
    let mut problems = Vec::new();
    let both = |single: bool, list: bool, name: &str, pointer: &str| {
        (single && list).then(|| {
            problem(
                pointer,
                format!("give either `{name}` or `{name}s`, not both"),
            )
        })
    };
    problems.extend(both(
        op.partner_certificate.is_some(),
        !op.partner_certificates.is_empty(),
        "partner_certificate",
        "/partner_certificates",
    ));
    problems.extend(both(
        op.decryption_key.is_some(),
        !op.decryption_keys.is_empty(),
        "decryption_key",
        "/decryption_keys",
    ));
    problems.extend(both(
        op.mdn_signing_key.is_some(),
        !op.mdn_signing_keys.is_empty(),
        "mdn_signing_key",
        "/mdn_signing_keys",
    ));
    let files = op.partner_certificates.iter();
    problems.extend(repeated(files, "/partner_certificates", ""));
    let keys = op.decryption_keys.iter().map(|k| &k.key);
    problems.extend(repeated(keys, "/decryption_keys", "/key"));
    problems.extend(check_mdn_signing_keys(&op.mdn_signing_keys, unix_now()));
    problems
}

/// The same file twice in a list is a typo for the new one.
fn repeated<'a>(
    files: impl Iterator<Item = &'a String>,
    pointer: &str,
    field: &str,
) -> Vec<Problem> {
    let files: Vec<&String> = files.collect();
    (0..files.len())
        .filter_map(|i| {
            let first = files[..i].iter().position(|f| *f == files[i])?;
            Some(problem(
                &format!("{pointer}/{i}{field}"),
                format!("{} is already entry {first}", files[i]),
            ))
        })
        .collect()
}

fn check_mdn_signing_keys(keys: &[DatedKeyFile], now: i64) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut starts: Vec<(usize, i64)> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let pointer = format!("/mdn_signing_keys/{i}/from");
        let start = match key.from.as_deref().map(parse_instant) {
            None => i64::MIN,
            Some(Ok(start)) => start,
            Some(Err(e)) => {
                problems.push(problem(&pointer, e));
                continue;
            }
        };
        if let Some((first, _)) = starts.iter().find(|(_, s)| *s == start) {
            let what = if start == i64::MIN {
                "a key without `from`".to_string()
            } else {
                "the same `from`".to_string()
            };
            problems.push(problem(
                &pointer,
                format!("{what} as entry {first}: which of the two signs would be a guess"),
            ));
            continue;
        }
        starts.push((i, start));
    }
    if let Some(&(first, start)) = starts.iter().min_by_key(|(_, s)| *s) {
        if problems.is_empty() && start > now {
            problems.push(problem(
                &format!("/mdn_signing_keys/{first}/from"),
                "no key signs yet, so MDNs would go out unsigned: give the current key no \
                 `from`, or a time already passed",
            ));
        }
    }
    problems
}

/// Unix seconds of an RFC 3339 time (`2027-01-01T00:00:00Z`, fractions ignored, offsets
/// `+02:00`) or of a date alone (`2027-01-01`, midnight UTC).
pub fn parse_instant(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a time like 2027-01-01T00:00:00Z or a date 2027-01-01");
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let part = text.get(range).ok_or_else(bad)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        return Err(format!("`{text}`: no such date"));
    }
    let days = days_from_civil(year, month, day);
    if b.len() == 10 {
        return Ok(days * 86_400);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 20 || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!("`{text}`: no such time of day"));
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return Err(bad());
            }
            let digits = |part: &str| -> Result<i64, String> {
                if part.bytes().all(|c| c.is_ascii_digit()) {
                    part.parse().map_err(|_| bad())
                } else {
                    Err(bad())
                }
            };
            let (oh, om) = (digits(&rest[1..3])?, digits(&rest[4..6])?);
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
    };
    Ok(days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[path = "rollover_tests.rs"]
mod tests;
