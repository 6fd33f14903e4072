//! The registration authority: every operation a caller may ask of the CA,
//! one call each, deciding every rule of that operation in one place (who
//! may, what the request must say, what the registry's state allows) and
//! answering with a [`Refusal`] drawn from the rule catalogue
//! (`robotid_verifier::rule`). It instructs the signer and the store; HTTP
//! handlers hold the RA and a read-only view of the registry, so a handler
//! can neither sign nor write (Boulder's split of WFE, RA, CA and SA).
//!
//! | operation | file |
//! |---|---|
//! | enroll, re-issue | [`enrollment`] (what happens to each CSR), [`scheduler`] (how runs are batched) |
//! | revoke, hold, release | `revocation.rs` |
//! | record a lifecycle event (component replacement, recycling...), show and export a history | `lifecycle.rs` |
//! | register manufacturers and models, issue and revoke credentials | `registration.rs` |

mod caller;
pub mod enrollment;
pub mod facts;
mod lifecycle;
mod refusal;
mod registration;
mod revocation;
pub mod scheduler;

use std::sync::Arc;

use robotid_verifier::robot_id::RobotId;
use robotid_verifier::rule::{Kind, Rule};

pub use caller::{Caller, Operation};
pub use enrollment::{CsrInput, Delivered, Enrollment};
pub use lifecycle::Recorded;
pub use refusal::{Refusal, SIGNER_RETRY_AFTER};
pub use registration::{IssuedCredential, NewManufacturer};

use crate::ca::{Ca, CaCertificates};
use crate::lifecycle_signer::LifecycleSigner;
use crate::store::roles::Reads;
use crate::store::{Store, StoreError};
use scheduler::Pipeline;

/// The registration authority.
pub struct RegistrationAuthority {
    ca: Arc<Ca>,
    pipeline: Pipeline,
    lifecycle_signer: Arc<LifecycleSigner>,
}

impl RegistrationAuthority {
    /// The RA over the CA's parts; starts the enrollment scheduler.
    pub fn start(ca: Arc<Ca>, lifecycle_signer: Arc<LifecycleSigner>) -> Self {
        let pipeline = Pipeline::start(Arc::new(Enrollment::new(&ca)));
        Self {
            ca,
            pipeline,
            lifecycle_signer,
        }
    }

    /// The CA's certificates, as clients need them.
    pub fn certs(&self) -> &CaCertificates {
        &self.ca.certs
    }

    fn store(&self) -> &Store {
        &self.ca.store
    }

    /// Enrolls `csrs` (PEM or DER each) for the calling manufacturer; one
    /// result per CSR, in order. A declared re-issue supersedes the robot's
    /// live certificate. Err for the whole request: the caller may not
    /// enroll, or the CA failed.
    pub async fn enroll(
        &self,
        caller: &Caller,
        csrs: Vec<Vec<u8>>,
        reissue: bool,
    ) -> Result<Vec<Result<Delivered, Refusal>>, Refusal> {
        caller.may(Operation::Enroll)?;
        let code = caller.manufacturer()?;
        self.pipeline
            .enroll(code, &caller.actor(), csrs, reissue)
            .await
    }

    /// A refusal unless `caller` is the operator or the robot's
    /// manufacturer (by the registry's record, not only by the robot ID's
    /// prefix).
    async fn authorise_robot(&self, caller: &Caller, robot_id: &str) -> Result<(), Refusal> {
        let Caller::Manufacturer { code, .. } = caller else {
            return Ok(());
        };
        let foreign = || {
            Refusal::new(
                Rule::RobotForeign,
                format!("robot {robot_id} is not one of manufacturer {code}'s robots"),
            )
            .at("robot_id", robot_id)
        };
        let record = self
            .store()
            .robot(robot_id)
            .await
            .map_err(Refusal::internal)?;
        match record {
            Some(r) if &r.manufacturer_code == code => Ok(()),
            Some(_) => Err(foreign()),
            // An unknown robot of one's own is "not found"; someone else's
            // is "foreign" either way, so the answer tells nothing about
            // other manufacturers' robots.
            None if robot_id.starts_with(&format!("{code}-")) => Err(Refusal::new(
                Rule::RobotNotFound,
                format!("robot {robot_id} is not registered"),
            )),
            None => Err(foreign()),
        }
    }
}

/// A robot ID as given in a request, or the refusal naming the format rule.
pub fn parse_robot_id(text: &str) -> Result<RobotId, Refusal> {
    RobotId::parse(text).map_err(|e| {
        Refusal::new(Rule::RobotIdFormat, format!("robot_id: {e}"))
            .at("robot_id", text.chars().take(128).collect::<String>())
    })
}

/// A certificate serial as given in a request (1 to 40 hexadecimal digits),
/// in lower case.
pub fn parse_serial(text: &str) -> Result<String, Refusal> {
    if text.is_empty() || text.len() > 40 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Refusal::new(
            Rule::SerialFormat,
            "serial must be 1 to 40 hexadecimal digits",
        )
        .at("serial", text.chars().take(128).collect::<String>()));
    }
    Ok(text.to_ascii_lowercase())
}

/// A registry error as a refusal: the registry's refusals of a state change
/// (a conflict with the rule it broke, a record not found, a value it
/// cannot store) keep their rule; anything else is a failure of the CA.
pub(crate) fn registry_refusal(e: StoreError) -> Refusal {
    match e {
        // The registry refuses because of its state: a conflict, whatever
        // the rule (a robot with no live certificate to act on, say).
        StoreError::Refused { rule, detail } => {
            let kind = match rule.kind() {
                Kind::Malformed => Kind::Malformed,
                _ => Kind::Conflict,
            };
            Refusal::new(rule, detail).as_kind(kind)
        }
        StoreError::Conflict { .. } => {
            Refusal::new(Rule::RegistryConflict, e.to_string()).as_kind(Kind::Conflict)
        }
        StoreError::NotFound { what, .. } => {
            let rule = Rule::parse(&format!("{what}.not_found")).unwrap_or(Rule::RegistryNotFound);
            Refusal::new(rule, e.to_string()).as_kind(Kind::NotFound)
        }
        StoreError::Invalid { what, .. } => {
            let rule = Rule::parse(what).unwrap_or(Rule::RequestBody);
            Refusal::new(rule, e.to_string()).as_kind(Kind::Malformed)
        }
        other => Refusal::internal(other),
    }
}
