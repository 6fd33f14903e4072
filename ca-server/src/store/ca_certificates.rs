//! The certificates the CA issues for its own services and clients (TLS,
//! delegated signers, credentials): recorded before the issuing key signs
//! them, completed with the certificate after, like robot certificates.

use robotid_issuer::signer::PreparedCertificate;
use sqlx::Row;

use super::sql::{normalize_serial, now};
use super::{Store, StoreError, commit};

/// A certificate of the CA's own, as the registry holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaCertificate {
    /// Serial, lower-case hex.
    pub serial_hex: String,
    /// `operator`, `manufacturer`, `tls_server`, `ocsp_signer` or
    /// `lifecycle_signer` (`CertificateKind::as_str`).
    pub kind: String,
    /// The subject's common name.
    pub subject: String,
    /// notBefore, unix seconds.
    pub not_before: i64,
    /// notAfter, unix seconds.
    pub not_after: i64,
    /// The certificate, once signed.
    pub der: Option<Vec<u8>>,
}

impl CaCertificate {
    /// What to record of a prepared certificate, before it is signed.
    pub fn of(prepared: &PreparedCertificate) -> Self {
        Self {
            serial_hex: hex::encode(prepared.serial()),
            kind: prepared.kind().as_str().to_owned(),
            subject: prepared.subject().to_owned(),
            not_before: prepared.not_before().unix_timestamp(),
            not_after: prepared.not_after().unix_timestamp(),
            der: None,
        }
    }
}

impl Store {
    /// Records a certificate the CA is about to sign for itself. Conflict
    /// if the serial is taken.
    pub async fn record_ca_certificate(&self, c: &CaCertificate) -> Result<(), StoreError> {
        let serial = normalize_serial(&c.serial_hex)?;
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO ca_certificates \
             (serial_hex, kind, subject, not_before, not_after, der, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6) ON CONFLICT (serial_hex) DO NOTHING",
        )
        .bind(serial.as_str())
        .bind(c.kind.as_str())
        .bind(c.subject.as_str())
        .bind(c.not_before)
        .bind(c.not_after)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("record_ca_certificate {serial}")))?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict {
                what: "CA certificate",
                detail: format!("serial {serial} is already recorded"),
            });
        }
        commit(tx, "record_ca_certificate").await
    }

    /// Completes a recorded certificate with its DER. NotFound unless it
    /// was recorded and not completed yet.
    pub async fn complete_ca_certificate(
        &self,
        serial_hex: &str,
        der: &[u8],
    ) -> Result<(), StoreError> {
        let serial = normalize_serial(serial_hex)?;
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE ca_certificates SET der = $1, issued_at = $2 \
             WHERE serial_hex = $3 AND der IS NULL",
        )
        .bind(der)
        .bind(now())
        .bind(serial.as_str())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("complete_ca_certificate {serial}")))?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound {
                what: "recorded CA certificate awaiting its signature",
                key: serial,
            });
        }
        commit(tx, "complete_ca_certificate").await
    }

    /// A certificate of the CA's own by serial (any case of hex).
    pub async fn ca_certificate(
        &self,
        serial_hex: &str,
    ) -> Result<Option<CaCertificate>, StoreError> {
        let serial = serial_hex.to_ascii_lowercase();
        let row = sqlx::query(
            "SELECT serial_hex, kind, subject, not_before, not_after, der \
             FROM ca_certificates WHERE serial_hex = $1",
        )
        .bind(serial.as_str())
        .fetch_optional(&self.read.pool)
        .await
        .map_err(StoreError::db(format!("ca_certificate {serial}")))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let get = |e: sqlx::Error| StoreError::db(format!("reading ca_certificate {serial}"))(e);
        Ok(Some(CaCertificate {
            serial_hex: row.try_get("serial_hex").map_err(get)?,
            kind: row.try_get("kind").map_err(get)?,
            subject: row.try_get("subject").map_err(get)?,
            not_before: row.try_get("not_before").map_err(get)?,
            not_after: row.try_get("not_after").map_err(get)?,
            der: row.try_get("der").map_err(get)?,
        }))
    }
}
