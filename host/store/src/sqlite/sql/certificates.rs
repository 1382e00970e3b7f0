//! Partners' exchanged certificates (see `crate::certificates`).

use rusqlite::{params, Connection};

use crate::certificates::PartnerCertificate;
use crate::error::StoreError;

/// Inserts or replaces (same operation and fingerprint) each certificate.
pub(crate) fn insert(
    conn: &Connection,
    certificates: &[PartnerCertificate],
    received_at: i64,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO partner_certificates (operation, partner, usages, certificate, fingerprint,
             active_from, request_id, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (operation, fingerprint) DO UPDATE SET
             partner = excluded.partner, usages = excluded.usages,
             active_from = excluded.active_from, request_id = excluded.request_id,
             received_at = excluded.received_at",
    )?;
    for c in certificates {
        stmt.execute(params![
            c.operation,
            c.partner,
            c.usages,
            c.certificate_der,
            c.fingerprint,
            c.active_from,
            c.request_id,
            received_at
        ])?;
    }
    Ok(())
}

/// Every stored certificate, by operation, then respond-by date. A store that no berth with
/// the table has opened yet (the read-only view after an upgrade) has none.
pub(crate) fn all(conn: &Connection) -> Result<Vec<PartnerCertificate>, StoreError> {
    let mut exists = conn.prepare_cached(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'partner_certificates'",
    )?;
    if exists.query_row([], |r| r.get::<_, i64>(0))? == 0 {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT operation, partner, usages, certificate, fingerprint, active_from, request_id,
             received_at
         FROM partner_certificates ORDER BY operation, active_from, fingerprint",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PartnerCertificate {
            operation: r.get(0)?,
            partner: r.get(1)?,
            usages: r.get(2)?,
            certificate_der: r.get(3)?,
            fingerprint: r.get(4)?,
            active_from: r.get(5)?,
            request_id: r.get(6)?,
            received_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
