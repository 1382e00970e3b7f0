//! Certificates partners sent at run time (AS2 Certificate Exchange Messaging), as the store
//! keeps them: one row per operation and certificate, so that every node of a cluster and every
//! restart sees the same set. A request sent again for the same certificate replaces its row
//! (a new respond-by date wins).

/// A partner's certificate accepted by a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerCertificate {
    /// The operation (process) whose partner sent it.
    pub operation: String,
    /// The partner's identifier (the AS2-From of the exchange request).
    pub partner: String,
    /// What it is for, comma-separated (`digitalSignature,keyEncipherment`).
    pub usages: String,
    /// The certificate, DER.
    pub certificate_der: Vec<u8>,
    /// SHA-256 of the DER, lowercase hex.
    pub fingerprint: String,
    /// From when the partner uses it (Unix seconds): its respond-by date.
    pub active_from: i64,
    /// The exchange request that carried it.
    pub request_id: String,
    /// When it was stored (Unix seconds); set by the store, whatever the caller gives.
    pub received_at: i64,
}

impl PartnerCertificate {
    /// `pending` until its respond-by date, `active` from then on.
    pub fn state(&self, now: i64) -> &'static str {
        if self.active_from <= now {
            "active"
        } else {
            "pending"
        }
    }
}
