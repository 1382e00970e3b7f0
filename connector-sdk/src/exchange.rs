//! Certificates a partner sends us at run time (AS2 Certificate Exchange Messaging): what a
//! listener hands the host with its answer, and what the host hands every listener back, from
//! the message store, at open and whenever the stored set changes.
//!
//! The host keeps them durably (committed before the answer goes out), so a restart and every
//! node of a cluster see the same set; the listener decides what they mean (a partner
//! certificate used for verification from `active_from`, for instance).

use abi_stable::std_types::RString;
use abi_stable::std_types::RVec;
use abi_stable::StableAbi;

/// A certificate a partner asked us to trust, as accepted by a listener.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ExchangedCertificate {
    /// The operation (process) whose partner sent it.
    pub operation: RString,
    /// The partner's identifier in its protocol (the AS2-From of the request).
    pub partner: RString,
    /// What it is for, comma-separated, in the protocol's words (`digitalSignature`,
    /// `keyEncipherment`).
    pub usages: RString,
    /// The certificate, DER.
    pub certificate_der: RVec<u8>,
    /// SHA-256 of the DER, lowercase hex: the certificate's identity in the store.
    pub fingerprint: RString,
    /// From when the partner uses it (Unix seconds): its respond-by date.
    pub active_from: i64,
    /// The exchange request that carried it (CEM `RequestID`).
    pub request_id: RString,
    /// When the host stored it (Unix seconds); 0 in what a listener hands the host.
    pub received_at: i64,
}

impl ExchangedCertificate {
    /// Whether the partner uses it at `now` (Unix seconds).
    pub fn is_active(&self, now: i64) -> bool {
        self.active_from <= now
    }
}
