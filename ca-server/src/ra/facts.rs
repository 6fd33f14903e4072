//! The registry facts every enrollment needs before it reaches the
//! registry's writer, kept in memory: a manufacturer's name and country,
//! and its models' rules. The registry never changes them once written
//! (there is no update or delete for either), so a copy read once stays
//! right; only a manufacturer's `active` flag changes.
//!
//! Only active manufacturers are kept. One deactivated after it was kept,
//! by this process or another on the same database, is still refused: the
//! transaction that records an issuance reads the flag again under the
//! write lock (`Store::begin_issuance`) and refuses with the same rule.
//! One reactivated is read afresh, since inactive ones are never kept.
//! Unknown codes and models are not kept either, so a registration is seen
//! at once, and what is kept is bounded by what operators registered.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use robotid_issuer::vetting::{ManufacturerRecord, ModelRecord};

use crate::locks::{read, write};
use crate::store::roles::Reads;
use crate::store::{Store, StoreError};

/// Registered manufacturers and models, as read from the registry.
#[derive(Default)]
pub struct Facts {
    manufacturers: RwLock<HashMap<String, Arc<ManufacturerRecord>>>,
    models: RwLock<HashMap<(String, String), Arc<ModelRecord>>>,
}

impl Facts {
    /// The manufacturer `code`, if kept (registered and active when read).
    pub fn known_manufacturer(&self, code: &str) -> Option<Arc<ManufacturerRecord>> {
        read(&self.manufacturers).get(code).cloned()
    }

    /// The model `model` of manufacturer `code`, if kept.
    pub fn known_model(&self, code: &str, model: &str) -> Option<Arc<ModelRecord>> {
        read(&self.models)
            .get(&(code.to_owned(), model.to_owned()))
            .cloned()
    }

    /// The manufacturer `code`: kept, or read from `store` (and kept if
    /// active). None if it is not registered.
    pub async fn manufacturer(
        &self,
        store: &Store,
        code: &str,
    ) -> Result<Option<Arc<ManufacturerRecord>>, StoreError> {
        if let Some(known) = self.known_manufacturer(code) {
            return Ok(Some(known));
        }
        let Some(record) = store.manufacturer(code).await? else {
            return Ok(None);
        };
        let record = Arc::new(record);
        if record.active {
            write(&self.manufacturers).insert(code.to_owned(), Arc::clone(&record));
        }
        Ok(Some(record))
    }

    /// The model `model` of manufacturer `code`: kept, or read from `store`
    /// (and kept). None if it is not registered.
    pub async fn model(
        &self,
        store: &Store,
        code: &str,
        model: &str,
    ) -> Result<Option<Arc<ModelRecord>>, StoreError> {
        if let Some(known) = self.known_model(code, model) {
            return Ok(Some(known));
        }
        let Some(record) = store.model(code, model).await? else {
            return Ok(None);
        };
        let record = Arc::new(record);
        write(&self.models).insert((code.to_owned(), model.to_owned()), Arc::clone(&record));
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the test failing

    use robotid_issuer::vetting::{ManufacturerRecord, ModelRecord};
    use robotid_verifier::rules::ModelRules;

    use super::Facts;
    use crate::store::Store;
    use crate::store::roles::Admin;

    fn manufacturer(code: &str, active: bool) -> ManufacturerRecord {
        ManufacturerRecord {
            code: code.into(),
            name: format!("{code} Robotics"),
            country: "CN".into(),
            active,
        }
    }

    #[tokio::test]
    async fn keeps_what_cannot_change_and_rereads_what_can() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("registry.db").display());
        let store = Store::connect(&url).await.unwrap();
        let facts = Facts::default();

        // Unknown: not kept, so a registration is seen at once.
        assert!(facts.manufacturer(&store, "UBX").await.unwrap().is_none());
        store
            .add_manufacturer(&manufacturer("UBX", true), "test")
            .await
            .unwrap();
        store
            .add_manufacturer(&manufacturer("OFF", false), "test")
            .await
            .unwrap();
        assert!(facts.model(&store, "UBX", "WK5").await.unwrap().is_none());
        let rules = ModelRules::from_toml("[parameters.height_mm]\nmin=1\nmax=2\n", "t").unwrap();
        let model = ModelRecord {
            manufacturer_code: "UBX".into(),
            model: "WK5".into(),
            rules,
        };
        store.add_model(&model, "test").await.unwrap();

        let ubx = facts.manufacturer(&store, "UBX").await.unwrap().unwrap();
        assert_eq!(*ubx, manufacturer("UBX", true));
        assert_eq!(facts.known_manufacturer("UBX").as_deref(), Some(&*ubx));
        assert_eq!(
            facts.model(&store, "UBX", "WK5").await.unwrap().as_deref(),
            Some(&model)
        );
        assert_eq!(facts.known_model("UBX", "WK5").as_deref(), Some(&model));
        assert!(facts.known_model("UBX", "WK6").is_none());

        // Inactive: answered as read, never kept, so a reactivation counts
        // at once.
        let off = facts.manufacturer(&store, "OFF").await.unwrap().unwrap();
        assert!(!off.active);
        assert!(facts.known_manufacturer("OFF").is_none());
        store
            .set_manufacturer_active("OFF", true, "test")
            .await
            .unwrap();
        assert!(
            facts
                .manufacturer(&store, "OFF")
                .await
                .unwrap()
                .unwrap()
                .active
        );
    }
}
