//! Revoking robot certificates, and putting them on hold and releasing
//! them. A manufacturer revokes its own robots' certificates, for the
//! reasons that are its to give; the operator revokes anyone's for any
//! reason, and alone puts certificates on hold and releases them. A change
//! is committed (with its audit entry) before it is acknowledged.

use robotid_verifier::rule::Rule;

use super::{
    Caller, Operation, Refusal, RegistrationAuthority, parse_robot_id, parse_serial,
    registry_refusal,
};
use crate::store::roles::{Reads, Revocations};
use crate::store::{Change, Reason};

/// Reasons a manufacturer may give; privilegeWithdrawn is the CA's call.
const MANUFACTURER_REASONS: [Reason; 5] = [
    Reason::Unspecified,
    Reason::KeyCompromise,
    Reason::AffiliationChanged,
    Reason::Superseded,
    Reason::CessationOfOperation,
];

/// A revocation reason as given in a request.
fn parse_reason(text: &str) -> Result<Reason, Refusal> {
    let at = |r: Refusal| r.at("reason", text.chars().take(128).collect::<String>());
    match Reason::parse(text) {
        Some(Reason::CertificateHold) => Err(at(Refusal::new(
            Rule::RevocationReason,
            "certificateHold is not a revocation reason: put the certificate on hold instead",
        ))),
        Some(r) => Ok(r),
        None => {
            let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
            Err(at(Refusal::new(
                Rule::RevocationReason,
                format!("reason must be one of {}", names.join(", ")),
            )))
        }
    }
}

impl RegistrationAuthority {
    /// Revokes the live certificate of robot `robot_id`.
    pub async fn revoke_robot(
        &self,
        caller: &Caller,
        robot_id: &str,
        reason: &str,
    ) -> Result<Change, Refusal> {
        caller.may(Operation::Revoke)?;
        let id = parse_robot_id(robot_id)?;
        self.authorise_robot(caller, id.as_str()).await?;
        let serial = self.live_serial(id.as_str()).await?;
        self.revoke_serial(caller, &serial, reason).await
    }

    /// Revokes certificate `serial`, live or not.
    pub async fn revoke_certificate(
        &self,
        caller: &Caller,
        serial: &str,
        reason: &str,
    ) -> Result<Change, Refusal> {
        caller.may(Operation::Revoke)?;
        let serial = parse_serial(serial)?;
        let cert = self
            .store()
            .certificate(&serial)
            .await
            .map_err(Refusal::internal)?;
        match (caller, cert) {
            (_, Some(cert)) => self.authorise_robot(caller, &cert.robot_id).await?,
            // Whether a serial exists is only the operator's to learn here.
            (Caller::Manufacturer { .. }, None) => {
                return Err(Refusal::new(
                    Rule::CertificateForeign,
                    format!("certificate {serial} is not one of your robots' certificates"),
                )
                .at("serial", serial));
            }
            (Caller::Operator { .. }, None) => {
                return Err(Refusal::new(
                    Rule::CertificateNotFound,
                    format!("certificate {serial} is not in the registry"),
                )
                .at("serial", serial));
            }
        }
        self.revoke_serial(caller, &serial, reason).await
    }

    /// Puts robot `robot_id`'s live certificate on hold (recall,
    /// investigation). Operator only.
    pub async fn hold(&self, caller: &Caller, robot_id: &str) -> Result<Change, Refusal> {
        caller.may(Operation::Hold)?;
        let id = parse_robot_id(robot_id)?;
        let serial = self.live_serial(id.as_str()).await?;
        self.store()
            .hold(&serial, &caller.actor())
            .await
            .map_err(registry_refusal)
    }

    /// Lifts the hold on robot `robot_id`'s live certificate. Operator only.
    pub async fn release(&self, caller: &Caller, robot_id: &str) -> Result<Change, Refusal> {
        caller.may(Operation::Release)?;
        let id = parse_robot_id(robot_id)?;
        let serial = self.live_serial(id.as_str()).await?;
        self.store()
            .release(&serial, &caller.actor())
            .await
            .map_err(registry_refusal)
    }

    async fn revoke_serial(
        &self,
        caller: &Caller,
        serial: &str,
        reason: &str,
    ) -> Result<Change, Refusal> {
        let reason = parse_reason(reason)?;
        if matches!(caller, Caller::Manufacturer { .. }) && !MANUFACTURER_REASONS.contains(&reason)
        {
            return Err(Refusal::new(
                Rule::RevocationReasonOperatorOnly,
                format!("only the operator revokes for {}", reason.as_str()),
            )
            .at("reason", reason.as_str()));
        }
        self.store()
            .revoke(serial, reason, &caller.actor())
            .await
            .map_err(registry_refusal)
    }

    /// The robot's live certificate serial.
    async fn live_serial(&self, robot_id: &str) -> Result<String, Refusal> {
        self.store()
            .live_certificate(robot_id)
            .await
            .map_err(Refusal::internal)?
            .map(|c| c.serial_hex)
            .ok_or_else(|| {
                Refusal::new(
                    Rule::RobotNoLiveCertificate,
                    format!(
                        "robot {robot_id} holds no live certificate; name an older one by --serial"
                    ),
                )
                .at("robot_id", robot_id)
            })
    }
}
