//! The read role ([`Reads`]): lookups of certificates, robots, components,
//! standings, lifecycle states, operator records and the audit log, for the
//! store and its read-only handle alike. Every read goes to the pool of
//! read connections, never to the writer.

use std::collections::HashMap;

use robotid_verifier::history::LifeState;
use robotid_verifier::rules::ModelRules;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::audit_entry;
use super::batch::IN_CHUNK;
use super::lifecycle::{corrupt, signed_in_order};
use super::revocation::{
    RECORD_COLUMNS, STANDING_COLUMNS, current_rank, record_from_row, standing_from_row,
};
use super::roles::Reads;
use super::roles::sealed::ReadSide;
use super::sql::{self, flag, normalize_serial};
use super::{
    AuditEntry, CertificateRecord, CertificateStanding, ComponentRecord, Credential,
    ManufacturerRecord, ModelRecord, ReadOnlyStore, RevocationRecord, RobotRecord, Role,
    StoreError,
};

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
        status: super::records::stored_status(&fields.2)?,
        der: fields.3,
        csr_sha256: fields.4,
        not_before: fields.5,
        not_after: fields.6,
        issued_at: fields.7,
    })
}

impl<T: ReadSide> Reads for T {
    async fn health(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.read_side().pool)
            .await
            .map_err(StoreError::db("health check"))?;
        Ok(())
    }

    async fn certificate(&self, serial_hex: &str) -> Result<Option<CertificateRecord>, StoreError> {
        let serial = serial_hex.to_ascii_lowercase();
        let row = sql::query(format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE serial_hex = $1"
        ))
        .bind(serial.as_str())
        .fetch_optional(&self.read_side().pool)
        .await
        .map_err(StoreError::db(format!("reading certificate {serial}")))?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    async fn live_certificate(
        &self,
        robot_id: &str,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        let row = sql::query(format!(
            "SELECT {CERT_COLUMNS} FROM certificates \
             WHERE robot_id = $1 AND status IN ('pending', 'issued')"
        ))
        .bind(robot_id)
        .fetch_optional(&self.read_side().pool)
        .await
        .map_err(StoreError::db(format!(
            "reading the live certificate of {robot_id}"
        )))?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    async fn robot(&self, robot_id: &str) -> Result<Option<RobotRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT robot_id, manufacturer_code, model, created_at FROM robots WHERE robot_id = $1",
        )
        .bind(robot_id)
        .fetch_optional(&self.read_side().pool)
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

    async fn components(&self, serial_hex: &str) -> Result<Vec<ComponentRecord>, StoreError> {
        let serial = serial_hex.to_ascii_lowercase();
        let rows = sqlx::query(
            "SELECT kind, part_number, supplier, serial, digests FROM components \
             WHERE serial_hex = $1 ORDER BY position",
        )
        .bind(serial.as_str())
        .fetch_all(&self.read_side().pool)
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

    async fn count_certificates(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM certificates")
            .fetch_one(&self.read_side().pool)
            .await
            .map_err(StoreError::db("counting certificates"))
    }

    async fn manufacturer(&self, code: &str) -> Result<Option<ManufacturerRecord>, StoreError> {
        let row =
            sqlx::query("SELECT code, name, country, active FROM manufacturers WHERE code = $1")
                .bind(code)
                .fetch_optional(&self.read_side().pool)
                .await
                .map_err(StoreError::db(format!("reading manufacturer {code}")))?;
        let Some(row) = row else { return Ok(None) };
        let decode = StoreError::db(format!("decoding manufacturer {code}"));
        let fields = (|| {
            Ok::<_, sqlx::Error>((
                row.try_get::<String, _>(0)?,
                row.try_get::<String, _>(1)?,
                row.try_get::<String, _>(2)?,
                row.try_get::<i64, _>(3)?,
            ))
        })()
        .map_err(decode)?;
        Ok(Some(ManufacturerRecord {
            code: fields.0,
            name: fields.1,
            country: fields.2,
            active: flag(fields.3, "manufacturers.active")?,
        }))
    }

    async fn model(
        &self,
        manufacturer_code: &str,
        model: &str,
    ) -> Result<Option<ModelRecord>, StoreError> {
        let key = format!("{manufacturer_code}/{model}");
        let rules: Option<String> = sqlx::query_scalar(
            "SELECT rules_toml FROM models WHERE manufacturer_code = $1 AND model = $2",
        )
        .bind(manufacturer_code)
        .bind(model)
        .fetch_optional(&self.read_side().pool)
        .await
        .map_err(StoreError::db(format!("reading model {key}")))?;
        let Some(text) = rules else { return Ok(None) };
        let rules =
            ModelRules::from_toml(&text, &format!("models.rules_toml of {key}")).map_err(|e| {
                StoreError::Corrupt {
                    what: "models.rules_toml",
                    detail: e.to_string(),
                }
            })?;
        Ok(Some(ModelRecord {
            manufacturer_code: manufacturer_code.into(),
            model: model.into(),
            rules,
        }))
    }

    async fn credential(&self, serial_hex: &str) -> Result<Option<Credential>, StoreError> {
        let serial = serial_hex.to_ascii_lowercase();
        let row = sqlx::query(
            "SELECT serial_hex, role, manufacturer_code, subject, not_after, revoked \
             FROM credentials WHERE serial_hex = $1",
        )
        .bind(serial.as_str())
        .fetch_optional(&self.read_side().pool)
        .await
        .map_err(StoreError::db(format!("reading credential {serial}")))?;
        let Some(row) = row else { return Ok(None) };
        let fields = (|| {
            Ok::<_, sqlx::Error>((
                row.try_get::<String, _>(0)?,
                row.try_get::<String, _>(1)?,
                row.try_get::<Option<String>, _>(2)?,
                row.try_get::<String, _>(3)?,
                row.try_get::<i64, _>(4)?,
                row.try_get::<i64, _>(5)?,
            ))
        })()
        .map_err(StoreError::db(format!("decoding credential {serial}")))?;
        Ok(Some(Credential {
            serial_hex: fields.0,
            role: Role::parse(&fields.1)?,
            manufacturer_code: fields.2,
            subject: fields.3,
            not_after: fields.4,
            revoked: flag(fields.5, "credentials.revoked")?,
        }))
    }

    async fn audit(
        &self,
        subject: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let rows = match subject {
            Some(subject) => sqlx::query(
                "SELECT id, at, actor, action, subject, detail FROM audit_log \
                 WHERE subject = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(subject)
            .bind(limit),
            None => sqlx::query(
                "SELECT id, at, actor, action, subject, detail FROM audit_log \
                 ORDER BY id DESC LIMIT $1",
            )
            .bind(limit),
        }
        .fetch_all(&self.read_side().pool)
        .await
        .map_err(StoreError::db("reading the audit log"))?;
        let mut entries = rows
            .iter()
            .map(audit_entry)
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::db("decoding the audit log"))?;
        entries.reverse();
        Ok(entries)
    }

    async fn lifecycle_state(&self, robot_id: &str) -> Result<Option<LifeState>, StoreError> {
        let states = self.lifecycle_states(&[robot_id.to_owned()]).await?;
        if let Some(state) = states.into_iter().next().map(|(_, s)| s) {
            return Ok(Some(state));
        }
        let signed: Option<String> = sqlx::query_scalar(
            "SELECT serial_hex FROM certificates WHERE robot_id = $1 AND issued_at IS NOT NULL LIMIT 1",
        )
        .bind(robot_id)
        .fetch_optional(&self.read_side().pool)
        .await
        .map_err(StoreError::db("lifecycle: reading certificates"))?;
        Ok(signed.map(|_| LifeState::Manufactured))
    }

    async fn lifecycle_states(
        &self,
        robot_ids: &[String],
    ) -> Result<Vec<(String, LifeState)>, StoreError> {
        let mut out = Vec::new();
        for chunk in robot_ids.chunks(IN_CHUNK) {
            let text = format!(
                "SELECT robot_id, state FROM lifecycle_heads WHERE robot_id IN ({})",
                self.read_side().sql.list(chunk.len(), 1)
            );
            let rows = chunk
                .iter()
                .fold(sql::query(text), |q, id| q.bind(id.as_str()))
                .fetch_all(&self.read_side().pool)
                .await
                .map_err(StoreError::db("lifecycle: reading states"))?;
            for row in rows {
                let (id, state): (String, String) =
                    (|| Ok((row.try_get(0)?, row.try_get(1)?)))()
                        .map_err(StoreError::db("lifecycle: decoding states"))?;
                let state = LifeState::parse(&state)
                    .ok_or_else(|| corrupt("lifecycle_heads.state", state.clone()))?;
                out.push((id, state));
            }
        }
        Ok(out)
    }

    async fn signed_certificates(
        &self,
        robot_id: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut conn = self
            .read_side()
            .pool
            .acquire()
            .await
            .map_err(StoreError::db("lifecycle: connecting"))?;
        Ok(signed_in_order(&mut conn, robot_id)
            .await?
            .into_iter()
            .map(|c| (c.serial_hex, c.der))
            .collect())
    }

    async fn revocation(&self, serial_hex: &str) -> Result<Option<RevocationRecord>, StoreError> {
        let serial = normalize_serial(serial_hex)?;
        sql::query(format!(
            "SELECT {RECORD_COLUMNS} FROM revocations WHERE serial_hex = $1"
        ))
        .bind(serial.as_str())
        .fetch_optional(&self.read_side().pool)
        .await
        .map_err(StoreError::db("reading a revocation"))?
        .as_ref()
        .map(record_from_row)
        .transpose()
    }

    async fn standing_of_serials(
        &self,
        serials: &[String],
    ) -> Result<HashMap<String, CertificateStanding>, StoreError> {
        let mut wanted = serials
            .iter()
            .map(|s| normalize_serial(s))
            .collect::<Result<Vec<_>, _>>()?;
        wanted.sort_unstable();
        wanted.dedup();
        let mut out = HashMap::with_capacity(wanted.len());
        for chunk in wanted.chunks(IN_CHUNK) {
            for row in standing_where(self.read_side(), "c.serial_hex", chunk).await? {
                out.insert(row.serial_hex.clone(), row);
            }
        }
        Ok(out)
    }

    async fn standing_of_robots(
        &self,
        robot_ids: &[String],
    ) -> Result<HashMap<String, CertificateStanding>, StoreError> {
        let mut wanted: Vec<&String> = robot_ids.iter().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let wanted: Vec<String> = wanted.into_iter().cloned().collect();
        let mut out: HashMap<String, CertificateStanding> = HashMap::with_capacity(wanted.len());
        for chunk in wanted.chunks(IN_CHUNK) {
            for row in standing_where(self.read_side(), "c.robot_id", chunk).await? {
                let better = match out.get(&row.robot_id) {
                    None => true,
                    Some(held) => current_rank(&row) > current_rank(held),
                };
                if better {
                    out.insert(row.robot_id.clone(), row);
                }
            }
        }
        Ok(out)
    }
}

/// The standings of the signed certificates whose `column` is among `keys`.
async fn standing_where(
    read: &ReadOnlyStore,
    column: &'static str,
    keys: &[String],
) -> Result<Vec<CertificateStanding>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let text = format!(
        "SELECT {STANDING_COLUMNS} FROM certificates c \
         LEFT JOIN revocations r ON r.serial_hex = c.serial_hex \
         WHERE {column} IN ({}) AND c.status IN ('issued', 'superseded')",
        read.sql.list(keys.len(), 1)
    );
    let q = keys
        .iter()
        .fold(sql::query(text), |q, k| q.bind(k.as_str()));
    q.fetch_all(&read.pool)
        .await
        .map_err(StoreError::db("reading certificate standings"))?
        .iter()
        .map(standing_from_row)
        .collect()
}
