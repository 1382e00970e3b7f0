//! Partners' exchanged certificates (see `crate::certificates`), shared by every node.

use std::sync::Arc;

use super::pool::Db;
use crate::certificates::PartnerCertificate;
use crate::error::StoreError;

/// Inserts or replaces (same operation and fingerprint) each certificate, in one commit.
pub(crate) async fn insert(
    db: Arc<Db>,
    certificates: Vec<PartnerCertificate>,
    received_at: i64,
) -> Result<(), StoreError> {
    let mut client = db.pool.get().await?;
    let tx = client.transaction().await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO partner_certificates (operation, partner, usages, certificate,
                 fingerprint, active_from, request_id, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (operation, fingerprint) DO UPDATE SET
                 partner = excluded.partner, usages = excluded.usages,
                 active_from = excluded.active_from, request_id = excluded.request_id,
                 received_at = excluded.received_at",
        )
        .await?;
    for c in &certificates {
        tx.execute(
            &stmt,
            &[
                &c.operation,
                &c.partner,
                &c.usages,
                &c.certificate_der,
                &c.fingerprint,
                &c.active_from,
                &c.request_id,
                &received_at,
            ],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Every stored certificate, by operation, then respond-by date.
pub(crate) async fn all(db: Arc<Db>) -> Result<Vec<PartnerCertificate>, StoreError> {
    let client = db.pool.get().await?;
    let rows = client
        .query(
            "SELECT operation, partner, usages, certificate, fingerprint, active_from,
                 request_id, received_at
             FROM partner_certificates ORDER BY operation, active_from, fingerprint",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| PartnerCertificate {
            operation: r.get(0),
            partner: r.get(1),
            usages: r.get(2),
            certificate_der: r.get(3),
            fingerprint: r.get(4),
            active_from: r.get(5),
            request_id: r.get(6),
            received_at: r.get(7),
        })
        .collect())
}
