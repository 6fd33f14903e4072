//! Lookups of robots, certificates and components.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{CertStatus, CertificateRecord, ComponentRecord, RobotRecord, Store, StoreError};

/// The columns [`certificate_from_row`] reads, in its order.
pub(crate) const CERT_COLUMNS: &str =
    "serial_hex, robot_id, status, der, csr_sha256, not_before, not_after, issued_at";

/// Decodes a row selected with [`CERT_COLUMNS`] first.
pub(crate) fn certificate_from_row(row: &AnyRow) -> Result<CertificateRecord, StoreError> {
    let fields = (|| {
        Ok::<_, sqlx::Error>((
            row.try_get::<String, _>(0)?,
            row.try_get::<String, _>(1)?,
            row.try_get::<String, _>(2)?,
            row.try_get::<Option<Vec<u8>>, _>(3)?,
            row.try_get::<Vec<u8>, _>(4)?,
            row.try_get::<i64, _>(5)?,
            row.try_get::<i64, _>(6)?,
            row.try_get::<Option<i64>, _>(7)?,
        ))
    })()
    .map_err(StoreError::db("decoding a certificate row"))?;
    Ok(CertificateRecord {
        serial_hex: fields.0,
        robot_id: fields.1,
        status: CertStatus::parse(&fields.2)?,
        der: fields.3,
        csr_sha256: fields.4,
        not_before: fields.5,
        not_after: fields.6,
        issued_at: fields.7,
    })
}

impl Store {
    /// A certificate by serial (any case of hex), whatever its status.
    pub async fn certificate(
        &self,
        serial_hex: &str,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        let serial = serial_hex.to_ascii_lowercase();
        let row = super::sql::query(format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE serial_hex = $1"
        ))
        .bind(serial.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db(format!("reading certificate {serial}")))?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    /// The robot's live certificate: issued, or pending (being signed).
    /// Superseded and failed ones are history, not live.
    pub async fn live_certificate(
        &self,
        robot_id: &str,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        let row = super::sql::query(format!(
            "SELECT {CERT_COLUMNS} FROM certificates \
             WHERE robot_id = $1 AND status IN ('pending', 'issued')"
        ))
        .bind(robot_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db(format!(
            "reading the live certificate of {robot_id}"
        )))?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    /// A robot by ID.
    pub async fn robot(&self, robot_id: &str) -> Result<Option<RobotRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT robot_id, manufacturer_code, model, created_at FROM robots WHERE robot_id = $1",
        )
        .bind(robot_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db(format!("reading robot {robot_id}")))?;
        let Some(row) = row else { return Ok(None) };
        let record = (|| {
            Ok::<_, sqlx::Error>(RobotRecord {
                robot_id: row.try_get(0)?,
                manufacturer_code: row.try_get(1)?,
                model: row.try_get(2)?,
                created_at: row.try_get(3)?,
            })
        })()
        .map_err(StoreError::db(format!("decoding robot {robot_id}")))?;
        Ok(Some(record))
    }

    /// The key components certified in a certificate, in request order.
    pub async fn components(&self, serial_hex: &str) -> Result<Vec<ComponentRecord>, StoreError> {
        let serial = serial_hex.to_ascii_lowercase();
        let rows = sqlx::query(
            "SELECT kind, part_number, supplier, serial, digests FROM components \
             WHERE serial_hex = $1 ORDER BY position",
        )
        .bind(serial.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db(format!(
            "reading the components of {serial}"
        )))?;
        rows.iter()
            .map(|row| {
                let fields = (|| {
                    Ok::<_, sqlx::Error>((
                        row.try_get::<String, _>(0)?,
                        row.try_get::<String, _>(1)?,
                        row.try_get::<String, _>(2)?,
                        row.try_get::<String, _>(3)?,
                        row.try_get::<String, _>(4)?,
                    ))
                })()
                .map_err(StoreError::db(format!(
                    "decoding the components of {serial}"
                )))?;
                let digests = serde_json::from_str(&fields.4).map_err(|e| StoreError::Corrupt {
                    what: "components.digests",
                    detail: format!("certificate {serial}: {e}"),
                })?;
                Ok(ComponentRecord {
                    kind: fields.0,
                    part_number: fields.1,
                    supplier: fields.2,
                    serial: fields.3,
                    digests,
                })
            })
            .collect()
    }

    /// How many certificates the registry holds, in any status (pending,
    /// issued, failed, superseded): every serial ever recorded.
    pub async fn count_certificates(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM certificates")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("counting certificates"))
    }
}
