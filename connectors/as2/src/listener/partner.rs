//! The partner table: every operation's settings with its keys loaded, keyed by the pair of AS2
//! identifiers that picks it (AS2-From, AS2-To), exactly as the messages carry them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use berth_connector_sdk::auth::BasicAuth;
use berth_connector_sdk::secret::Secret;
use berth_connector_sdk::OpenContext;

use super::ipfilter::IpFilter;
use super::rollover::{parse_instant, DatedKeyFile, MdnSigningKeys};
use super::settings::{As2Operation, KeyFile};
use crate::certs::{load_certificates, load_private_key, KeyPair};
use crate::receive::{MdnOptions, PartnerSettings};
use crate::unwrap::Limits;
use openssl::x509::X509;

/// One operation, ready to receive.
pub struct Partner {
    /// The process documents of this pair go to.
    pub process: String,
    pub settings: PartnerSettings,
    pub limits: Limits,
    /// Our MDN signing keys by start time; one key without a date when configured singly.
    pub mdn_signing_keys: MdnSigningKeys,
    pub mdn_options: MdnOptions,
    pub basic_auth: Option<BasicAuth>,
    pub ip_filter: IpFilter,
    pub reject_duplicates: bool,
    /// How many of the latest messages the host's duplicate check covers.
    pub duplicate_window: u32,
    /// Refuse a file name already received from this pair.
    pub refuse_duplicate_file_names: bool,
    pub verify_hostname_for_async_mdn: bool,
    pub max_message_bytes: u64,
    pub archive_directory: Option<PathBuf>,
    /// AS2 Restart is on for this pair: its MDNs announce it (see `ediint::RESTART`).
    pub restart: bool,
    /// Certificate exchange requests are read (see `super::exchange`).
    pub accept_certificate_exchange: bool,
    /// Signing certificates the partner sent by certificate exchange, each with the second
    /// (Unix time) from which it verifies: replaced whenever the host hands over the stored
    /// set, consulted for every message.
    pub exchanged: RwLock<Vec<(i64, X509)>>,
}

impl Partner {
    /// The settings a message is checked with at `now`: the configured partner certificates
    /// and the exchanged ones whose respond-by date has come. Borrowed when there are none.
    pub fn settings_at(&self, now: i64) -> Cow<'_, PartnerSettings> {
        let exchanged = self.exchanged.read().unwrap_or_else(|p| p.into_inner());
        let active: Vec<X509> = exchanged
            .iter()
            .filter(|(from, _)| *from <= now)
            .map(|(_, cert)| cert.clone())
            .collect();
        if active.is_empty() {
            return Cow::Borrowed(&self.settings);
        }
        let mut settings = self.settings.clone();
        settings.partner_certificates.extend(active);
        Cow::Owned(settings)
    }
}

/// Partners by (AS2-From, AS2-To).
pub type PartnerTable = HashMap<(String, String), Arc<Partner>>;

/// Load every operation's keys. Any unreadable file fails the whole listener with a message
/// naming the process and the file, so that a deployment never runs half-configured.
pub fn load_partners(
    context: &OpenContext,
    operations: Vec<(String, As2Operation)>,
) -> Result<PartnerTable, String> {
    let mut table = PartnerTable::new();
    for (process, op) in operations {
        let partner = load_partner(context, &process, &op)
            .map_err(|e| format!("process `{process}`: {e}"))?;
        let pair = (op.as2_from.clone(), op.as2_to.clone());
        if table.insert(pair, Arc::new(partner)).is_some() {
            // The host refuses this through the claims; kept as a guard for direct callers.
            return Err(format!(
                "two processes receive {} -> {}",
                op.as2_from, op.as2_to
            ));
        }
    }
    Ok(table)
}

fn load_partner(
    context: &OpenContext,
    process: &str,
    op: &As2Operation,
) -> Result<Partner, String> {
    let password = op.partner_certificate_password.as_ref().map(Secret::expose);
    let mut partner_certificates = Vec::new();
    let certificate_files = op
        .partner_certificate
        .iter()
        .map(|f| (f, "partner_certificate".to_string()));
    let listed = op.partner_certificates.iter().enumerate();
    let listed = listed.map(|(i, f)| (f, format!("partner_certificates[{i}]")));
    for (file, field) in certificate_files.chain(listed) {
        let data = read(context, file)?;
        let certs =
            load_certificates(&data, password).map_err(|e| format!("{field} {file}: {e}"))?;
        partner_certificates.extend(certs);
    }
    let mut decryption_keys = Vec::new();
    if let Some(key) = &op.decryption_key {
        decryption_keys.push(load_key_pair(context, key, "decryption_key")?);
    }
    for (i, key) in op.decryption_keys.iter().enumerate() {
        decryption_keys.push(load_key_pair(
            context,
            key,
            &format!("decryption_keys[{i}]"),
        )?);
    }
    let mut mdn_signing_keys = Vec::new();
    if let Some(key) = &op.mdn_signing_key {
        mdn_signing_keys.push((i64::MIN, load_key_pair(context, key, "mdn_signing_key")?));
    }
    for (i, dated) in op.mdn_signing_keys.iter().enumerate() {
        let field = format!("mdn_signing_keys[{i}]");
        mdn_signing_keys.push(load_dated_key(context, dated, &field)?);
    }
    Ok(Partner {
        process: process.to_string(),
        settings: PartnerSettings {
            decryption_keys,
            partner_certificates,
            require_signed: op.require_signed,
            require_encrypted: op.require_encrypted,
            allow_expired_certificates: op.allow_expired_certificates,
        },
        limits: Limits {
            max_decompressed_size: op.max_decompressed_bytes,
            ..Limits::default()
        },
        mdn_signing_keys: MdnSigningKeys::new(mdn_signing_keys),
        mdn_options: MdnOptions {
            reporting_ua: format!("berth AS2 {}", env!("CARGO_PKG_VERSION")),
            message_id_domain: op.as2_to.clone(),
            legacy_smime: op.legacy_smime_names,
        },
        basic_auth: op.basic_auth.clone(),
        restart: op.as2_restart,
        accept_certificate_exchange: op.accept_certificate_exchange,
        exchanged: RwLock::new(Vec::new()),
        ip_filter: IpFilter::new(&op.ip_filter)?,
        reject_duplicates: op.reject_duplicates,
        duplicate_window: op.duplicate_window,
        refuse_duplicate_file_names: op.refuse_duplicate_file_names,
        verify_hostname_for_async_mdn: op.verify_hostname_for_async_mdn,
        max_message_bytes: op.max_message_bytes,
        archive_directory: op.archive_directory.as_deref().map(|d| context.resolve(d)),
    })
}

/// A key and its certificate: from the key file itself (PEM with both, PKCS#12) unless a
/// separate certificate file is named.
fn load_key_pair(context: &OpenContext, file: &KeyFile, field: &str) -> Result<KeyPair, String> {
    let password = file.password.as_ref().map(Secret::expose);
    let key_data = read(context, &file.key)?;
    let key =
        load_private_key(&key_data, password).map_err(|e| format!("{field} {}: {e}", file.key))?;
    let (cert_file, cert_data) = match &file.certificate {
        Some(cert) => (cert.as_str(), read(context, cert)?),
        None => (file.key.as_str(), key_data),
    };
    let certificate = load_certificates(&cert_data, password)
        .map_err(|e| format!("{field} {cert_file}: {e}"))?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{field} {cert_file}: no certificate"))?;
    KeyPair::new(certificate, key).map_err(|e| format!("{field} {}: {e}", file.key))
}

/// An MDN signing key with its start time (`i64::MIN`: from the start).
fn load_dated_key(
    context: &OpenContext,
    dated: &DatedKeyFile,
    field: &str,
) -> Result<(i64, KeyPair), String> {
    let from = match &dated.from {
        Some(text) => parse_instant(text).map_err(|e| format!("{field}.from: {e}"))?,
        None => i64::MIN,
    };
    let file = KeyFile {
        key: dated.key.clone(),
        certificate: dated.certificate.clone(),
        password: dated.password.clone(),
    };
    Ok((from, load_key_pair(context, &file, field)?))
}

fn read(context: &OpenContext, file: &str) -> Result<Vec<u8>, String> {
    let path = context.resolve(file);
    std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}
