//! The settings users write in YAML for the two AS2 listen connectors. Names follow the vendor's
//! settings; the doc comments are what `berth schema` shows in an editor.

use berth_connector_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

use super::ipfilter::IpFilter;
pub use super::rollover::DatedKeyFile;

/// The vendor's range for the duplicate check window, in messages.
pub const DUPLICATE_WINDOW: std::ops::RangeInclusive<u32> = 100..=1_000_000;

/// One trading partner pair: the partner's AS2 ID and ours, with the keys and rules for the
/// messages the partner sends us. Each process names one pair.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct As2Operation {
    /// AS2 From ID: the partner's AS2 identifier (the AS2-From of its messages), case-sensitive.
    pub as2_from: String,
    /// AS2 To ID: our AS2 identifier for this partner (the AS2-To of its messages).
    pub as2_to: String,
    /// The partner's signing certificate: PEM, DER, PKCS#7 chain or PKCS#12, relative to the
    /// deployment folder. Needed to accept signed messages.
    #[serde(default)]
    pub partner_certificate: Option<String>,
    /// Password of the partner certificate file, when it is PKCS#12.
    #[serde(default)]
    pub partner_certificate_password: Option<Secret>,
    /// Our private key (with certificate) for decrypting the partner's messages.
    #[serde(default)]
    pub decryption_key: Option<KeyFile>,
    /// Our private key (with certificate) for signing MDNs, when the partner asks for a
    /// signed receipt. Without it, receipts are unsigned.
    #[serde(default)]
    pub mdn_signing_key: Option<KeyFile>,
    // Certificate rollover (listener/rollover.rs): the list forms, each instead of the single
    // form above it, never with it.
    /// The partner's signing certificates during a renewal, old and new: each signature is
    /// verified against the one its SignerInfo names (issuer and serial number, or subject key
    /// identifier). Files as for `partner_certificate`, whose password applies to PKCS#12 ones.
    /// Instead of `partner_certificate`.
    #[serde(default)]
    pub partner_certificates: Vec<String>,
    /// Our decryption keys, current and previous: each message is decrypted with the key its
    /// RecipientInfo names, so a partner still encrypting to our previous certificate keeps
    /// working. Instead of `decryption_key`.
    #[serde(default)]
    pub decryption_keys: Vec<KeyFile>,
    /// Our MDN signing keys, each with the time it starts signing (`from`); of those whose time
    /// has come, the latest signs, switching without a restart. Instead of `mdn_signing_key`.
    #[serde(default)]
    pub mdn_signing_keys: Vec<DatedKeyFile>,
    /// Refuse unsigned messages (insufficient-message-security).
    #[serde(default)]
    pub require_signed: bool,
    /// Refuse unencrypted messages (insufficient-message-security).
    #[serde(default)]
    pub require_encrypted: bool,
    /// Accept signatures made with an expired or not yet valid partner certificate.
    #[serde(default)]
    pub allow_expired_certificates: bool,
    /// HTTP basic authentication this partner must send; others get 401.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// Addresses or CIDR ranges this partner sends from (`192.0.2.10`, `10.0.0.0/8`,
    /// `2001:db8::/32`); requests for this pair from anywhere else get 403. Empty: any address.
    #[serde(default)]
    pub ip_filter: Vec<String>,
    /// Reject duplicate messages: a resent Message-ID gets a `processed/warning:
    /// duplicate-document` MDN instead of the MDN recorded the first time.
    #[serde(default)]
    pub reject_duplicates: bool,
    /// How many of the latest messages the duplicate check covers (100 to 1,000,000); the
    /// host's message store checks by partner pair and Message-ID.
    #[serde(default = "default_window")]
    pub duplicate_window: u32,
    /// Refuse a file name already received from this partner pair (the file name of the
    /// payload's `Content-Disposition`): the message gets a `processed/error:
    /// duplicate-filename` MDN and is neither stored nor run. A resent Message-ID is still
    /// answered as a resend. Needs the message store, which keeps every name received.
    #[serde(default)]
    pub refuse_duplicate_file_names: bool,
    /// Use RFC 3851 algorithm names (`sha256`, not `sha-256`) in MDNs, for old partners.
    #[serde(default)]
    pub legacy_smime_names: bool,
    /// Check the host name of the partner's HTTPS server when sending an asynchronous MDN.
    #[serde(default = "yes")]
    pub verify_hostname_for_async_mdn: bool,
    /// Largest message accepted from this partner, in bytes; larger ones get 413.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: u64,
    /// Largest content after decompression, in bytes; beyond it the message gets
    /// decompression-failed (protection against decompression bombs).
    #[serde(default = "default_max_decompressed")]
    pub max_decompressed_bytes: u64,
    /// Keep each raw message and the MDN sent for it as evidence files in this folder
    /// (relative to the deployment folder).
    #[serde(default)]
    pub archive_directory: Option<String>,
    /// AS2 Restart (draft-harding-as2-restart), the receiving side: a message this partner
    /// sends with a transfer identifier (`ETag` header) and that is cut off mid-transfer is
    /// kept on the store's disk instead of being discarded; the partner asks how many bytes
    /// arrived with a `HEAD` and sends the rest with `Content-Range`, and the whole message is
    /// then received as if it had come in one piece. Its MDNs announce `AS2-Restart` in
    /// `EDIINT-Features`. Off by default. Kept transfers survive a restart of berth.
    #[serde(default)]
    pub as2_restart: bool,
    /// With `as2_restart`: seconds a cut-off transfer is kept after its last byte arrived;
    /// older ones are purged (and logged).
    #[serde(default = "default_restart_age")]
    pub as2_restart_max_age_seconds: u64,
    /// Certificate Exchange Messaging (CEM, draft-meadors-certificate-exchange-14): accept a
    /// certificate exchange request from this partner, signed with its current certificate.
    /// The new certificate is checked (usage, validity, key usage), stored in the message
    /// store, and used to verify the partner's signatures from the request's RespondByDate on,
    /// without a restart; a CEM response (accepting it, or rejecting one that fails a check)
    /// goes to the request's ResponseURL, signed with our current MDN signing key. MDNs then
    /// announce `CEM` in `EDIINT-Features`. Off by default: a request is then an ordinary
    /// document.
    #[serde(default)]
    pub accept_certificate_exchange: bool,
}

/// A private key file and the certificate that goes with it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Private key: PEM (PKCS#1, PKCS#8, encrypted PKCS#8), DER or PKCS#12, relative to the
    /// deployment folder. A PEM or PKCS#12 file may also hold the certificate.
    pub key: String,
    /// The certificate of the key, when the key file does not hold it.
    #[serde(default)]
    pub certificate: Option<String>,
    /// Password of the key file (encrypted PEM, PKCS#12).
    #[serde(default)]
    pub password: Option<Secret>,
}

/// The AS2 Server (legacy) connection: a port of its own serving `/as2` for every partner whose
/// process names this connection.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LegacyConnection {
    /// Interface address to listen on.
    #[serde(default = "any_address")]
    pub address: String,
    /// HTTP port (the vendor's common choice is 8080).
    #[serde(default = "default_port")]
    pub port: u16,
    /// An HTTPS port beside the plain one.
    #[serde(default)]
    pub tls: Option<TlsPort>,
}

fn default_window() -> u32 {
    100_000
}
fn default_restart_age() -> u64 {
    24 * 60 * 60
}
fn yes() -> bool {
    true
}
fn default_max_message() -> u64 {
    100 * 1024 * 1024
}
fn default_max_decompressed() -> u64 {
    512 * 1024 * 1024
}
fn any_address() -> String {
    "0.0.0.0".to_string()
}
fn default_port() -> u16 {
    8080
}

/// The route an operation claims: one process per partner pair.
pub fn claim(operation: &As2Operation) -> String {
    format!("{} -> {}", operation.as2_from, operation.as2_to)
}

/// Checks beyond what the types enforce, each with its JSON pointer.
pub fn check_operation(op: &As2Operation) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (pointer, name) in [("/as2_from", &op.as2_from), ("/as2_to", &op.as2_to)] {
        if let Some(reason) = as2_name_problem(name) {
            problems.push(problem(pointer, reason));
        }
    }
    if !DUPLICATE_WINDOW.contains(&op.duplicate_window) {
        problems.push(problem(
            "/duplicate_window",
            format!(
                "{} is out of range: from {} to {} messages",
                op.duplicate_window,
                DUPLICATE_WINDOW.start(),
                DUPLICATE_WINDOW.end()
            ),
        ));
    }
    for (i, entry) in op.ip_filter.iter().enumerate() {
        if let Err(e) = IpFilter::parse_entry(entry) {
            problems.push(problem(&format!("/ip_filter/{i}"), e));
        }
    }
    if let Some(auth) = &op.basic_auth {
        problems.extend(auth.check("/basic_auth"));
    }
    if op.max_message_bytes == 0 {
        problems.push(problem("/max_message_bytes", "must be at least 1"));
    }
    if op.as2_restart_max_age_seconds == 0 {
        problems.push(problem(
            "/as2_restart_max_age_seconds",
            "must be at least 1",
        ));
    }
    if op.max_decompressed_bytes == 0 {
        problems.push(problem("/max_decompressed_bytes", "must be at least 1"));
    }
    problems.extend(super::rollover::check(op));
    if op.require_signed && op.partner_certificate.is_none() && op.partner_certificates.is_empty() {
        problems.push(problem(
            "/partner_certificate",
            "require_signed needs the partner's certificate to verify signatures",
        ));
    }
    if op.require_encrypted && op.decryption_key.is_none() && op.decryption_keys.is_empty() {
        problems.push(problem(
            "/decryption_key",
            "require_encrypted needs our decryption key",
        ));
    }
    if op.accept_certificate_exchange {
        // The request must be verified with the partner's current certificate, and the
        // response is signed with ours.
        if op.partner_certificate.is_none() && op.partner_certificates.is_empty() {
            problems.push(problem(
                "/accept_certificate_exchange",
                "certificate exchange needs the partner's current certificate to verify the request",
            ));
        }
        if op.mdn_signing_key.is_none() && op.mdn_signing_keys.is_empty() {
            problems.push(problem(
                "/accept_certificate_exchange",
                "certificate exchange needs an MDN signing key to sign the response with",
            ));
        }
    }
    problems
}

pub fn check_legacy_connection(connection: &LegacyConnection) -> Vec<Problem> {
    let mut problems = Vec::new();
    if connection.port == 0 {
        problems.push(problem("/port", "a port from 1 to 65535"));
    }
    if let Some(tls) = &connection.tls {
        problems.extend(tls.check("/tls", connection.port));
    }
    problems
}

/// Why `name` cannot be an AS2 identifier (RFC 4130 §6.2: 1 to 128 printable ASCII characters).
fn as2_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("an AS2 ID has 1 to 128 characters".into())
    } else if name.len() > 128 {
        Some(format!("{} characters; at most 128", name.len()))
    } else if !name.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
        Some("only printable ASCII characters".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_print_without_their_secrets() {
        use berth_connector_sdk::settings::parse;
        let operation: As2Operation = parse(
            r#"{"as2_from": "partner", "as2_to": "us",
                "partner_certificate": "partner.p12",
                "partner_certificate_password": "secret-one",
                "decryption_key": {"key": "ours.p12", "password": "secret-two"},
                "basic_auth": {"user": "partner", "password": "secret-three"}}"#,
        )
        .unwrap();
        let connection: LegacyConnection = parse(
            r#"{"port": 8080,
                "tls": {"port": 8443, "pkcs12": "server.p12", "password": "secret-four"}}"#,
        )
        .unwrap();
        let printed = format!("{operation:?} {connection:?}");
        assert!(printed.contains("ours.p12"), "{printed}");
        assert!(printed.contains("server.p12"), "{printed}");
        assert!(!printed.contains("secret-"), "{printed}");
    }
}
