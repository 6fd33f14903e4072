//! The operator's records: manufacturers, model types and API credentials.

use serde_json::json;
use sqlx::AnyConnection;

use super::audit::{self, NewEntry};
use super::roles::Admin;
use super::sql::{normalize_serial, now};
use super::{Credential, ManufacturerRecord, ModelRecord, Role, Store, StoreError, commit};

fn require(what: &'static str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(StoreError::Invalid {
            what,
            detail: "must not be empty".into(),
        });
    }
    Ok(())
}

/// Whether a manufacturer code is registered (inside a transaction).
async fn manufacturer_exists(conn: &mut AnyConnection, code: &str) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 FROM manufacturers WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db(format!("looking up manufacturer {code}")))?;
    Ok(row.is_some())
}

impl Admin for Store {
    async fn add_manufacturer(
        &self,
        m: &ManufacturerRecord,
        actor: &str,
    ) -> Result<(), StoreError> {
        require("manufacturer code", &m.code)?;
        let at = now();
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO manufacturers (code, name, country, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING",
        )
        .bind(m.code.as_str())
        .bind(m.name.as_str())
        .bind(m.country.as_str())
        .bind(i64::from(m.active))
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("add_manufacturer {}", m.code)))?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict {
                what: "manufacturer",
                detail: format!("code {} is already registered", m.code),
            });
        }
        let detail = json!({"name": m.name, "country": m.country, "active": m.active});
        audit::append(
            &mut tx,
            &[NewEntry {
                at,
                actor,
                action: "manufacturer.add",
                subject: m.code.clone(),
                detail,
            }],
        )
        .await?;
        commit(tx, "add_manufacturer").await
    }

    async fn set_manufacturer_active(
        &self,
        code: &str,
        active: bool,
        actor: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE manufacturers SET active = $1, updated_at = $2 WHERE code = $3 AND active <> $4",
        )
        .bind(i64::from(active))
        .bind(at)
        .bind(code)
        .bind(i64::from(active))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("set_manufacturer_active {code}")))?
        .rows_affected();
        if changed == 0 {
            if manufacturer_exists(&mut tx, code).await? {
                return Ok(());
            }
            return Err(StoreError::NotFound {
                what: "manufacturer",
                key: code.into(),
            });
        }
        let action = if active {
            "manufacturer.activate"
        } else {
            "manufacturer.deactivate"
        };
        audit::append(
            &mut tx,
            &[NewEntry {
                at,
                actor,
                action,
                subject: code.into(),
                detail: json!({"active": active}),
            }],
        )
        .await?;
        commit(tx, "set_manufacturer_active").await
    }

    async fn add_model(&self, m: &ModelRecord, actor: &str) -> Result<(), StoreError> {
        require("model", &m.model)?;
        let rules = toml::to_string(&m.rules).map_err(|e| StoreError::Invalid {
            what: "model rules",
            detail: format!("cannot be written as TOML: {e}"),
        })?;
        let at = now();
        let mut tx = self.begin_write().await?;
        if !manufacturer_exists(&mut tx, &m.manufacturer_code).await? {
            return Err(StoreError::NotFound {
                what: "manufacturer",
                key: m.manufacturer_code.clone(),
            });
        }
        let inserted = sqlx::query(
            "INSERT INTO models (manufacturer_code, model, rules_toml, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (manufacturer_code, model) DO NOTHING",
        )
        .bind(m.manufacturer_code.as_str())
        .bind(m.model.as_str())
        .bind(rules.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!(
            "add_model {}/{}",
            m.manufacturer_code, m.model
        )))?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict {
                what: "model",
                detail: format!(
                    "model {} is already registered for manufacturer {}",
                    m.model, m.manufacturer_code
                ),
            });
        }
        audit::append(
            &mut tx,
            &[NewEntry {
                at,
                actor,
                action: "model.add",
                subject: format!("{}/{}", m.manufacturer_code, m.model),
                detail: json!({"rules": rules}),
            }],
        )
        .await?;
        commit(tx, "add_model").await
    }

    async fn add_credential(&self, c: &Credential, actor: &str) -> Result<(), StoreError> {
        let serial = normalize_serial(&c.serial_hex)?;
        match (c.role, &c.manufacturer_code) {
            (Role::Manufacturer, Some(code)) => require("manufacturer_code", code)?,
            (Role::Operator, None) => {}
            (role, code) => {
                return Err(StoreError::Invalid {
                    what: "credential",
                    detail: format!(
                        "role {} with manufacturer code {code:?}: a manufacturer credential \
                         names its manufacturer, an operator credential none",
                        role.as_str()
                    ),
                });
            }
        }
        let at = now();
        let mut tx = self.begin_write().await?;
        if let Some(code) = &c.manufacturer_code
            && !manufacturer_exists(&mut tx, code).await?
        {
            return Err(StoreError::NotFound {
                what: "manufacturer",
                key: code.clone(),
            });
        }
        let inserted = sqlx::query(
            "INSERT INTO credentials \
             (serial_hex, role, manufacturer_code, subject, not_after, revoked, revoked_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (serial_hex) DO NOTHING",
        )
        .bind(serial.as_str())
        .bind(c.role.as_str())
        .bind(c.manufacturer_code.as_deref())
        .bind(c.subject.as_str())
        .bind(c.not_after)
        .bind(i64::from(c.revoked))
        .bind(c.revoked.then_some(at))
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("add_credential {serial}")))?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict {
                what: "credential",
                detail: format!("serial {serial} is already recorded"),
            });
        }
        let detail = json!({
            "role": c.role.as_str(),
            "manufacturer": c.manufacturer_code,
            "subject": c.subject,
            "not_after": c.not_after,
            "revoked": c.revoked,
        });
        audit::append(
            &mut tx,
            &[NewEntry {
                at,
                actor,
                action: "credential.add",
                subject: serial,
                detail,
            }],
        )
        .await?;
        commit(tx, "add_credential").await
    }

    async fn revoke_credential(&self, serial_hex: &str, actor: &str) -> Result<(), StoreError> {
        let serial = serial_hex.to_ascii_lowercase();
        let at = now();
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE credentials SET revoked = 1, revoked_at = $1 WHERE serial_hex = $2 AND revoked = 0",
        )
        .bind(at)
        .bind(serial.as_str())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("revoke_credential {serial}")))?
        .rows_affected();
        if changed == 0 {
            let exists = sqlx::query("SELECT 1 FROM credentials WHERE serial_hex = $1")
                .bind(serial.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::db(format!("looking up credential {serial}")))?
                .is_some();
            if exists {
                return Ok(());
            }
            return Err(StoreError::NotFound {
                what: "credential",
                key: serial,
            });
        }
        audit::append(
            &mut tx,
            &[NewEntry {
                at,
                actor,
                action: "credential.revoke",
                subject: serial,
                detail: json!({}),
            }],
        )
        .await?;
        commit(tx, "revoke_credential").await
    }
}
