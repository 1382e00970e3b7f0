//! What berth speaks to partners: the AS2-Version it answers with, the EDIINT-Features it
//! announces (RFC 6017), and the checks on the partner's AS2-Version and Message-ID that decide
//! whether a message can be answered at all.

/// The AS2-Version of berth's answers. The versions (RFC 4130 §6.1 and its modernisation draft,
/// draft-ietf-ediint-rfc4130bis, which lists them): 1.0 the base, 1.1 adds compression
/// (RFC 5402), 1.2 adds the EDIINT-Features header (RFC 6017), 1.3 the draft's modernisation
/// (SHA-256 and AES baselines, no weak algorithms generated, multiple-recipient encryption).
/// berth decompresses and announces EDIINT-Features, so it speaks 1.2; it does not claim 1.3
/// because it still accepts the weak algorithms partners send and has not been tested against
/// the draft's multiple-recipient encryption.
pub const AS2_VERSION: &str = "1.2";

/// The EDIINT-Features berth announces in every MDN: exactly what it implements.
///
/// - `AS2-Reliability` (RFC 6017 §4, defined by draft-duker-as2-reliability): the receiver's
///   part is the "once and only once" delivery: a message resent with the same Message-ID is
///   recognised by the host's duplicate check (partner pair and Message-ID, kept across
///   restarts) and answered with the MDN recorded the first time, never delivered twice (see
///   `listener::As2Listener::duplicate`). berth does not send HTTP 102 (Processing) interim
///   responses, which the draft describes only as a way to keep slow synchronous exchanges
///   alive.
///
/// - `multiple-attachments` (RFC 6362): a multipart/related (or multipart/mixed) payload is
///   split into one document per attachment, each with its own file name and MIME type, run
///   once each and answered with one MDN whose MIC covers the whole message (see
///   `listener::several`).
///
/// `AS2-Restart` is announced per pair, when enabled (see [`announce_restart`]).
///
/// `CEM` is announced per pair, when its operation accepts certificate exchange (see
/// [`announce_cem`]).
pub const FEATURES: &[&str] = &["AS2-Reliability", "multiple-attachments"];

/// The EDIINT-Features header value of berth's answers.
pub fn features_header() -> String {
    FEATURES.join(", ")
}

/// The feature token of AS2 Restart (draft-harding-as2-restart), announced only to the pairs
/// whose operation enables it (`as2_restart`): the host then keeps a cut-off transfer, answers
/// `HEAD` with the bytes received and appends a `Content-Range` resume.
pub const RESTART: &str = "AS2-Restart";

/// `mdn` with `AS2-Restart` added to its EDIINT-Features when `restart` is on for its pair.
pub fn announce_restart(mdn: crate::mdn::Mdn, restart: bool) -> crate::mdn::Mdn {
    announce(mdn, RESTART, restart)
}

/// The feature token of Certificate Exchange Messaging, announced only to the pairs whose
/// operation accepts it (`accept_certificate_exchange`).
pub const CEM: &str = "CEM";

/// `mdn` with `CEM` added to its EDIINT-Features when its pair accepts certificate exchange.
pub fn announce_cem(mdn: crate::mdn::Mdn, on: bool) -> crate::mdn::Mdn {
    announce(mdn, CEM, on)
}

fn announce(mut mdn: crate::mdn::Mdn, token: &str, on: bool) -> crate::mdn::Mdn {
    if on {
        for (name, value) in &mut mdn.headers {
            if name.eq_ignore_ascii_case("EDIINT-Features") {
                value.push_str(", ");
                value.push_str(token);
            }
        }
    }
    mdn
}

/// The feature tokens a partner announced, in its order, as sent (RFC 6017 §3: a comma-separated
/// list). Every token is kept, known or not: RFC 6017 says a receiver must not fail on a feature
/// it does not know, and a process may want to see what the partner claims. Empty items and
/// tokens with characters outside the header's token syntax (letters, digits, `-`) are dropped.
pub fn parse_features(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 64)
        .filter(|t| t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_string)
        .collect()
}

/// The AS2-Version a message speaks: absent means 1.0 (RFC 4130 §6.1: a receiver must not fail
/// for its absence).
pub fn effective_version(sent: Option<&str>) -> &str {
    sent.unwrap_or("1.0")
}

/// Why berth cannot answer a message of this AS2-Version, or `None` when it can.
///
/// Every `1.x` is accepted: the modernisation draft of RFC 4130 says only the major digit decides
/// compatibility and that minor versions signal extensions that must stay transparent to a 1.0
/// receiver, so 1.0, 1.1, 1.2, the draft's 1.3 and any later 1.x are read as the base protocol
/// (each extension berth implements is recognised by the message's own structure, not by the
/// version). A different major version, or a value that is no version number, is a protocol berth
/// does not know: refusing it with a clear MDN is safer than guessing at its meaning.
pub fn version_problem(sent: Option<&str>) -> Option<String> {
    let version = sent?;
    let numeric = |s: &str| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    match version.split_once('.') {
        Some((major, minor)) if numeric(major) && numeric(minor) => {
            if major.trim_start_matches('0') == "1" {
                None
            } else {
                Some(format!(
                    "AS2-Version {version} is not supported: berth speaks AS2 1.0 to {AS2_VERSION} \
                     (major version 1)"
                ))
            }
        }
        _ => Some(format!(
            "AS2-Version {:?} is not a version number; berth speaks AS2 1.0 to {AS2_VERSION}",
            shorten(version)
        )),
    }
}

/// The longest Message-ID accepted, in characters: RFC 5322 §2.1.1 limits a header line to 998
/// characters, and the Message-ID is echoed in the MDN's Original-Message-ID field.
pub const MAX_MESSAGE_ID: usize = 998;

/// Why a Message-ID cannot be accepted, or `None`.
pub fn message_id_problem(message_id: Option<&str>) -> Option<String> {
    let id = message_id?;
    let length = id.chars().count();
    (length > MAX_MESSAGE_ID).then(|| {
        format!(
            "the Message-ID has {length} characters; at most {MAX_MESSAGE_ID} are allowed \
             (RFC 5322 2.1.1)"
        )
    })
}

/// At most 40 characters of a value a partner sent, for a log line or an MDN sentence.
pub fn shorten(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(40).collect();
    if chars.next().is_some() {
        format!("{head}...")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_1_x_version_and_a_missing_one_are_accepted() {
        for v in [
            None,
            Some("1.0"),
            Some("1.1"),
            Some("1.2"),
            Some("1.3"),
            Some("1.9"),
        ] {
            assert_eq!(version_problem(v), None, "{v:?}");
        }
        assert_eq!(effective_version(None), "1.0");
        assert_eq!(effective_version(Some("1.3")), "1.3");
    }

    #[test]
    fn other_major_versions_and_garbage_are_refused_with_a_reason() {
        let two = version_problem(Some("2.0")).unwrap();
        assert!(two.contains("AS2-Version 2.0 is not supported"), "{two}");
        assert!(two.contains("1.0 to 1.2"), "{two}");
        for bad in ["abc", "1", "1.", ".2", "1.2.3", "0.9", "1.x", "١.٢"] {
            assert!(version_problem(Some(bad)).is_some(), "{bad}");
        }
        let long = "9".repeat(5000);
        let reason = version_problem(Some(&long)).unwrap();
        assert!(reason.len() < 200, "{reason}");
    }

    #[test]
    fn features_keep_unknown_tokens_and_drop_malformed_ones() {
        assert_eq!(
            parse_features(" CEM,multiple-attachments , AS2-Reliability, X-Future-9 ,,"),
            [
                "CEM",
                "multiple-attachments",
                "AS2-Reliability",
                "X-Future-9"
            ]
        );
        assert_eq!(parse_features("a b, <x>, ok"), ["ok"]);
        assert!(parse_features("").is_empty());
    }

    #[test]
    fn announced_features_are_exactly_the_implemented_ones() {
        assert_eq!(features_header(), "AS2-Reliability, multiple-attachments");
        assert!(!FEATURES.contains(&"CEM"));
    }

    #[test]
    fn as2_restart_is_announced_only_where_enabled() {
        let mdn = || crate::mdn::Mdn {
            message_id: "<m@x>".into(),
            headers: vec![("EDIINT-Features".into(), features_header())],
            body: Vec::new(),
        };
        let value = |mdn: crate::mdn::Mdn| mdn.headers[0].1.clone();
        let base = "AS2-Reliability, multiple-attachments";
        assert_eq!(value(announce_restart(mdn(), false)), base);
        assert_eq!(
            value(announce_restart(mdn(), true)),
            format!("{base}, AS2-Restart")
        );
    }

    #[test]
    fn message_ids_up_to_998_characters_pass() {
        let ok = format!("<{}>", "a".repeat(996));
        assert_eq!(message_id_problem(Some(&ok)), None);
        let long = format!("<{}>", "a".repeat(997));
        let reason = message_id_problem(Some(&long)).unwrap();
        assert!(reason.contains("999 characters"), "{reason}");
        assert_eq!(message_id_problem(None), None);
    }
}
