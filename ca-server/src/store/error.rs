//! What can go wrong in the registry, said so that an operator can act on it:
//! each variant names the thing and the place.

/// An error of the registry store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names a database this store does not support.
    #[error("unsupported database URL scheme {scheme:?}: use sqlite:PATH or postgres://...")]
    UnsupportedUrl {
        /// The scheme found (the rest of the URL is left out: it may hold a password).
        scheme: String,
    },
    /// The schema could not be brought up to date.
    #[error("migrating the {backend} registry schema: {source}")]
    Migrate {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What sqlx reported.
        source: sqlx::migrate::MigrateError,
    },
    /// A database operation failed.
    #[error("{context}: {source}")]
    Database {
        /// What the store was doing, e.g. `begin_issuance: inserting certificates`.
        context: String,
        /// What the driver reported.
        source: sqlx::Error,
    },
    /// The thing already exists; nothing was changed.
    #[error("{what} conflict: {detail}")]
    Conflict {
        /// What kind of record, e.g. `manufacturer`, `certificate serial`.
        what: &'static str,
        /// Which one and why.
        detail: String,
    },
    /// The registry's state does not allow the change, by `rule`: a
    /// revocation of a certificate revoked already, a lifecycle event the
    /// state machine refuses. Nothing was changed.
    #[error("{rule}: {detail}")]
    Refused {
        /// The rule.
        rule: robotid_verifier::rule::Rule,
        /// Which record and why.
        detail: String,
    },
    /// The thing, or something it refers to, is not in the registry.
    #[error("{what} not found: {key}")]
    NotFound {
        /// What kind of record, e.g. `manufacturer`.
        what: &'static str,
        /// The key looked up.
        key: String,
    },
    /// The caller passed something the registry cannot store.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The field or argument, e.g. `serial_hex`.
        what: &'static str,
        /// Why it is refused.
        detail: String,
    },
    /// A stored value does not decode: the database was changed behind the
    /// store's back, or by a newer version.
    #[error("corrupt {what} in the registry: {detail}")]
    Corrupt {
        /// The column, e.g. `certificates.status`.
        what: &'static str,
        /// The value and why it is unusable.
        detail: String,
    },
}

impl StoreError {
    /// Wraps a driver error with what the store was doing.
    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
        let context = context.into();
        move |source| StoreError::Database { context, source }
    }

    /// A transient failure of concurrency control (PostgreSQL deadlock or
    /// serialization failure, SQLite busy): the transaction was rolled back
    /// whole, so running it again is safe.
    pub(crate) fn is_retryable(&self) -> bool {
        let StoreError::Database {
            source: sqlx::Error::Database(e),
            ..
        } = self
        else {
            return false;
        };
        matches!(
            e.code().as_deref(),
            // PostgreSQL: serialization_failure, deadlock_detected.
            Some("40001" | "40P01")
            // SQLite: BUSY, LOCKED, BUSY_RECOVERY, BUSY_SNAPSHOT.
            | Some("5" | "6" | "261" | "517")
        )
    }

    /// Whether this is a unique-constraint violation reported by the database.
    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Database { source: sqlx::Error::Database(e), .. } if e.is_unique_violation()
        )
    }
}
