//! MDN dispositions (RFC 3798 §3.2.6 as profiled by RFC 4130 §7.4.3, §7.5.3).

use std::fmt;

/// Error modifiers of `processed/error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessingError {
    DecryptionFailed,
    AuthenticationFailed,
    IntegrityCheckFailed,
    DecompressionFailed,
    InsufficientMessageSecurity,
    UnknownTradingPartner,
    UnexpectedProcessingError,
    /// The file name was received from the partner before, and the operation refuses that
    /// (the filename preservation profile's `duplicate-filename`).
    DuplicateFilename,
}

impl ProcessingError {
    pub const ALL: [ProcessingError; 8] = [
        ProcessingError::DecryptionFailed,
        ProcessingError::AuthenticationFailed,
        ProcessingError::IntegrityCheckFailed,
        ProcessingError::DecompressionFailed,
        ProcessingError::InsufficientMessageSecurity,
        ProcessingError::UnknownTradingPartner,
        ProcessingError::UnexpectedProcessingError,
        ProcessingError::DuplicateFilename,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingError::DecryptionFailed => "decryption-failed",
            ProcessingError::AuthenticationFailed => "authentication-failed",
            ProcessingError::IntegrityCheckFailed => "integrity-check-failed",
            ProcessingError::DecompressionFailed => "decompression-failed",
            ProcessingError::InsufficientMessageSecurity => "insufficient-message-security",
            ProcessingError::UnknownTradingPartner => "unknown-trading-partner",
            ProcessingError::UnexpectedProcessingError => "unexpected-processing-error",
            ProcessingError::DuplicateFilename => "duplicate-filename",
        }
    }
}

/// Failure modifiers of `failed/Failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The required signed-receipt-micalg lists nothing we support.
    UnsupportedMicAlgorithms,
    /// The required signed-receipt-protocol is not pkcs7-signature.
    UnsupportedFormat,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::UnsupportedMicAlgorithms => "unsupported MIC-algorithms",
            Failure::UnsupportedFormat => "unsupported format",
        }
    }
}

/// The outcome reported in an MDN's Disposition field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    Processed,
    /// `processed/warning: duplicate-document`.
    DuplicateDocument,
    Error(ProcessingError),
    Failed(Failure),
}

/// The action/sending mode prefix used by every automatic AS2 MDN.
pub const AUTOMATIC_MODE: &str = "automatic-action/MDN-sent-automatically";

impl Disposition {
    /// The full Disposition field value, e.g.
    /// `automatic-action/MDN-sent-automatically; processed/error: decryption-failed`.
    pub fn field_value(&self) -> String {
        format!("{AUTOMATIC_MODE}; {self}")
    }

    /// True only for a plain `processed`, the one outcome a sender treats as delivered
    /// (a duplicate warning still means the document was received earlier).
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            Disposition::Processed | Disposition::DuplicateDocument
        )
    }

    /// A sentence for the MDN's human-readable part.
    pub fn explanation(&self) -> &'static str {
        match self {
            Disposition::Processed => {
                "The message was received and processed successfully. \
                This is no guarantee that the message has been read or understood."
            }
            Disposition::DuplicateDocument => {
                "The message was already received earlier; this copy was not processed again."
            }
            Disposition::Error(ProcessingError::DecryptionFailed) => {
                "The message could not be decrypted."
            }
            Disposition::Error(ProcessingError::AuthenticationFailed) => {
                "The signature of the message could not be verified."
            }
            Disposition::Error(ProcessingError::IntegrityCheckFailed) => {
                "The message content does not match its signature."
            }
            Disposition::Error(ProcessingError::DecompressionFailed) => {
                "The message could not be decompressed."
            }
            Disposition::Error(ProcessingError::InsufficientMessageSecurity) => {
                "The message was not signed or encrypted as the trading partner agreement requires."
            }
            Disposition::Error(ProcessingError::UnknownTradingPartner) => {
                "The sender or recipient AS2 identifier is not known."
            }
            Disposition::Error(ProcessingError::UnexpectedProcessingError) => {
                "An unexpected error occurred while processing the message."
            }
            Disposition::Error(ProcessingError::DuplicateFilename) => {
                "A file with this name was already received from you; this one was not processed."
            }
            Disposition::Failed(Failure::UnsupportedMicAlgorithms) => {
                "None of the requested MIC algorithms is supported."
            }
            Disposition::Failed(Failure::UnsupportedFormat) => {
                "The requested signed receipt protocol is not supported."
            }
        }
    }

    /// Parses a Disposition field value (case-insensitive, whitespace-tolerant).
    /// Unknown modifiers give `None`.
    pub fn parse(value: &str) -> Option<Disposition> {
        let (_, outcome) = value.split_once(';')?;
        let outcome: String = outcome
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        let (kind, modifier) = match outcome.split_once(':') {
            Some((k, m)) => (k.to_string(), Some(m.to_string())),
            None => (outcome, None),
        };
        match (kind.as_str(), modifier.as_deref()) {
            ("processed", None) => Some(Disposition::Processed),
            ("processed/warning", Some("duplicate-document")) => {
                Some(Disposition::DuplicateDocument)
            }
            ("processed/error", Some(m)) => ProcessingError::ALL
                .into_iter()
                .find(|e| e.as_str() == m)
                .map(Disposition::Error),
            ("failed/failure", Some("unsupportedmic-algorithms")) => {
                Some(Disposition::Failed(Failure::UnsupportedMicAlgorithms))
            }
            ("failed/failure", Some("unsupportedformat")) => {
                Some(Disposition::Failed(Failure::UnsupportedFormat))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Disposition {
    /// The part after the mode: `processed`, `processed/error: decryption-failed`...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disposition::Processed => f.write_str("processed"),
            Disposition::DuplicateDocument => f.write_str("processed/warning: duplicate-document"),
            Disposition::Error(e) => write!(f, "processed/error: {}", e.as_str()),
            Disposition::Failed(x) => write!(f, "failed/Failure: {}", x.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_exactly() {
        assert_eq!(
            Disposition::Error(ProcessingError::DecryptionFailed).field_value(),
            "automatic-action/MDN-sent-automatically; processed/error: decryption-failed"
        );
        assert_eq!(
            Disposition::Processed.field_value(),
            "automatic-action/MDN-sent-automatically; processed"
        );
        assert_eq!(
            Disposition::DuplicateDocument.field_value(),
            "automatic-action/MDN-sent-automatically; processed/warning: duplicate-document"
        );
        assert_eq!(
            Disposition::Failed(Failure::UnsupportedMicAlgorithms).field_value(),
            "automatic-action/MDN-sent-automatically; failed/Failure: unsupported MIC-algorithms"
        );
        assert_eq!(
            Disposition::Error(ProcessingError::InsufficientMessageSecurity).to_string(),
            "processed/error: insufficient-message-security"
        );
    }

    #[test]
    fn parses_what_it_renders_and_peer_variants() {
        let mut all = vec![
            Disposition::Processed,
            Disposition::DuplicateDocument,
            Disposition::Failed(Failure::UnsupportedMicAlgorithms),
            Disposition::Failed(Failure::UnsupportedFormat),
        ];
        all.extend(ProcessingError::ALL.map(Disposition::Error));
        for d in all {
            assert_eq!(Disposition::parse(&d.field_value()), Some(d));
        }
        assert_eq!(
            Disposition::parse(
                "Automatic-Action/MDN-Sent-Automatically;Processed/Error:Authentication-Failed"
            ),
            Some(Disposition::Error(ProcessingError::AuthenticationFailed))
        );
        assert_eq!(Disposition::parse("automatic-action/x; deleted"), None);
        assert_eq!(Disposition::parse("processed"), None);
        assert!(Disposition::DuplicateDocument.is_success());
        assert!(!Disposition::Error(ProcessingError::DecryptionFailed).is_success());
    }
}
