//! The rule catalogue: every rule id that RobotID names when it refuses a
//! request or a state change, in one table. The CA's problem documents
//! (`urn:robotid:problem:<id>`), the registry's refusals, the issuer's
//! vetting and the offline verifier's lifecycle replay all draw their ids
//! from here, so an id is defined once and a client can rely on the list.
//!
//! Each rule has a [`Kind`]: what sort of refusal it is, independent of any
//! protocol. The CA's web front end maps kinds to HTTP statuses; nothing
//! else does.

use std::fmt;

/// What sort of refusal a rule is. The HTTP front end maps each to a status
/// (`Malformed` 400, `Unauthenticated` 401, `Forbidden` 403, `NotFound`
/// 404, `Conflict` 409, `TooLarge` 413, `UnsupportedMedia` 415, `Unacceptable`
/// 422, `TooMany` 429, `Unavailable` 503, `Internal` 500).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// The request cannot be read: syntax, encoding, a field's format.
    Malformed,
    /// No usable credential.
    Unauthenticated,
    /// The caller may not do this.
    Forbidden,
    /// The thing named is not in the registry.
    NotFound,
    /// The request conflicts with the registry's state.
    Conflict,
    /// The request is larger than allowed.
    TooLarge,
    /// The body's media type is not one accepted.
    UnsupportedMedia,
    /// The request is well formed but its content breaks a rule.
    Unacceptable,
    /// Too many requests: retry later.
    TooMany,
    /// The service cannot answer yet: retry later.
    Unavailable,
    /// A failure of the CA itself.
    Internal,
}

macro_rules! catalogue {
    ($( $(#[doc = $doc:literal])+ $name:ident = $id:literal, $kind:ident; )+) => {
        /// A rule id of the catalogue.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Rule {
            $( $(#[doc = $doc])+ $name, )+
        }

        impl Rule {
            /// Every rule, in catalogue order.
            pub const ALL: &'static [Rule] = &[ $( Rule::$name, )+ ];

            /// The stable id, e.g. `parameter.range`.
            pub const fn as_str(self) -> &'static str {
                match self { $( Rule::$name => $id, )+ }
            }

            /// What sort of refusal the rule is.
            pub const fn kind(self) -> Kind {
                match self { $( Rule::$name => Kind::$kind, )+ }
            }

            /// The rule with id `id`, if the catalogue has it.
            pub fn parse(id: &str) -> Option<Rule> {
                match id { $( $id => Some(Rule::$name), )+ _ => None }
            }
        }
    };
}

catalogue! {
    // Requests as read by the front end.
    /// The request body could not be read.
    RequestBody = "request.body", Malformed;
    /// The request body is larger than allowed.
    RequestSize = "request.size", TooLarge;
    /// The body's media type is not one the endpoint accepts.
    RequestContentType = "request.content_type", UnsupportedMedia;
    /// The JSON body does not decode into the endpoint's request.
    RequestJson = "request.json", Malformed;
    /// A path parameter cannot be read (bad percent-encoding, not UTF-8).
    RequestPath = "request.path", Malformed;
    /// A query parameter is not one the endpoint takes.
    RequestQuery = "request.query", Malformed;
    /// No such endpoint.
    RouteUnknown = "route.unknown", NotFound;
    /// The endpoint does not take this method.
    RouteMethod = "route.method", Unacceptable;
    /// Too many enrollments: the manufacturer's rate is spent.
    RateEnrollment = "rate.enrollment", TooMany;
    /// A batch holds at most the server's maximum of CSRs.
    BatchSize = "batch.size", TooLarge;
    /// A batch holds at least one CSR.
    BatchEmpty = "batch.empty", Malformed;

    // Text from outside (verifier/src/text.rs), wherever it enters.
    /// A text holds a control, format, separator, private-use or unassigned character.
    TextCharacter = "text.character", Malformed;
    /// A text is not in Unicode Normalization Form C.
    TextNormalization = "text.normalization", Malformed;

    // Credentials and roles.
    /// No client certificate was presented.
    CredentialMissing = "credential.missing", Unauthenticated;
    /// The client certificate cannot be read.
    CredentialMalformed = "credential.malformed", Unauthenticated;
    /// The client certificate has expired.
    CredentialExpired = "credential.expired", Unauthenticated;
    /// The client certificate is not valid yet.
    CredentialNotYetValid = "credential.not_yet_valid", Unauthenticated;
    /// The client certificate is not one the registry issued.
    CredentialUnknown = "credential.unknown", Unauthenticated;
    /// The client certificate was revoked.
    CredentialRevoked = "credential.revoked", Unauthenticated;
    /// The operator's credential cannot revoke itself.
    CredentialSelf = "credential.self", Conflict;
    /// Only a manufacturer may do this.
    RoleManufacturerRequired = "role.manufacturer_required", Forbidden;
    /// Only the operator may do this.
    RoleOperatorRequired = "role.operator_required", Forbidden;

    // CSRs.
    /// The CSR is larger than allowed.
    CsrSize = "csr.size", Malformed;
    /// The CSR is neither PEM nor DER.
    CsrEncoding = "csr.encoding", Malformed;
    /// The CSR's DER is malformed, not DER (BER), or has trailing data.
    CsrDer = "csr.der", Malformed;
    /// A PEM CSR holds exactly one `CERTIFICATE REQUEST` block.
    CsrPem = "csr.pem", Malformed;
    /// A CSR is PKCS#10 version 0 (v1).
    CsrVersion = "csr.version", Malformed;
    /// A CSR has exactly one extensionRequest attribute, with one value.
    CsrExtensionRequest = "csr.extension_request", Malformed;
    /// A CSR's extensionRequest holds no extension twice.
    CsrExtensionRepeated = "csr.extension_repeated", Malformed;
    /// A CSR carries exactly one RobotIdentity.
    CsrIdentityRepeated = "csr.identity_repeated", Malformed;
    /// The CSR's signature (proof of possession) does not verify.
    CsrSignature = "csr.signature", Malformed;
    /// The CSR's key algorithm is not P-256, P-384 or Ed25519.
    CsrKeyAlgorithm = "csr.key_algorithm", Malformed;
    /// The CSR carries no RobotIdentity.
    CsrIdentityMissing = "csr.identity_missing", Malformed;
    /// The CSR's RobotIdentity is malformed.
    CsrIdentity = "csr.identity", Malformed;

    // Vetting: the identity against the registry's facts.
    /// The manufacturer is not registered.
    ManufacturerRegistered = "manufacturer.registered", Forbidden;
    /// The manufacturer is deactivated.
    ManufacturerActive = "manufacturer.active", Forbidden;
    /// The identity's manufacturer code is not the caller's.
    ManufacturerCode = "manufacturer.code", Forbidden;
    /// The robot ID's manufacturer is not the identity's.
    RobotIdManufacturer = "robot_id.manufacturer", Forbidden;
    /// A robot ID does not parse, or its check character is wrong.
    RobotIdFormat = "robot_id.format", Malformed;
    /// The robot ID's model segment is not the identity's model.
    RobotIdModel = "robot_id.model", Unacceptable;
    /// The model is not registered (approved) for the manufacturer.
    ModelApproved = "model.approved", Unacceptable;
    /// A parameter is not one the model's rules approve.
    ParameterApproved = "parameter.approved", Unacceptable;
    /// A parameter is outside the model's approved range.
    ParameterRange = "parameter.range", Unacceptable;
    /// A parameter is in another unit than the model's rules say.
    ParameterUnit = "parameter.unit", Unacceptable;
    /// A parameter the model's rules require is missing.
    ParameterRequired = "parameter.required", Unacceptable;
    /// A component kind the model's rules require is missing.
    ComponentRequired = "component.required", Unacceptable;
    /// The production date is not midnight UTC, is before the profile's
    /// earliest date, or is after issuance plus one day.
    IdentityProductionDate = "identity.production_date", Malformed;
    /// The identity cannot be encoded in the certificate profile.
    IdentityProfile = "identity.profile", Unacceptable;
    /// The prepared certificate breaks a lint of its profile.
    CertificateLint = "certificate.lint", Unacceptable;

    // Robots and their certificates in the registry.
    /// The robot ID belongs to another manufacturer.
    RobotForeign = "robot.foreign", Forbidden;
    /// The robot is not registered.
    RobotNotFound = "robot.not_found", NotFound;
    /// The robot holds a live certificate and this is not a declared re-issue.
    RobotLiveCertificate = "robot.live_certificate", Conflict;
    /// A re-issue while another request for the robot is being signed.
    RobotIssuanceInProgress = "robot.issuance_in_progress", Conflict;
    /// The robot ID is registered under another manufacturer or model.
    RobotManufacturer = "robot.manufacturer", Conflict;
    /// The same robot appears more than once in one batch.
    RobotDuplicateInBatch = "robot.duplicate_in_batch", Conflict;
    /// An identical request is still being issued.
    RobotInProgress = "robot.in_progress", Conflict;
    /// An identical request was being issued and did not complete.
    RobotInProgressFailed = "robot.in_progress_failed", Conflict;
    /// The robot holds no live certificate.
    RobotNoLiveCertificate = "robot.no_live_certificate", NotFound;
    /// The certificate belongs to another manufacturer's robot.
    CertificateForeign = "certificate.foreign", Forbidden;
    /// The certificate is not in the registry.
    CertificateNotFound = "certificate.not_found", NotFound;
    /// The certificate was never issued (pending or failed).
    CertificateNotIssued = "certificate.not_issued", Conflict;
    /// A serial is not 1 to 40 hexadecimal digits.
    SerialFormat = "serial.format", Malformed;

    // Revocation.
    /// Not a revocation reason this call takes.
    RevocationReason = "revocation.reason", Malformed;
    /// Only the operator revokes for this reason.
    RevocationReasonOperatorOnly = "revocation.reason_operator_only", Forbidden;
    /// The certificate is revoked already.
    RevocationAlreadyRevoked = "revocation.already_revoked", Conflict;
    /// Only a live certificate is put on hold.
    RevocationHoldNotLive = "revocation.hold_not_live", Conflict;
    /// Only a certificate on hold is released.
    RevocationNotOnHold = "revocation.not_on_hold", Conflict;
    /// The CRL of this issuer is not built yet.
    CrlNotReady = "crl.not_ready", Unavailable;
    /// No CRL of that name.
    CrlUnknown = "crl.unknown", NotFound;

    // Lifecycle.
    /// Not a lifecycle event type.
    LifecycleType = "lifecycle.type", Malformed;
    /// The event's details break its schema (docs/lifecycle.md).
    LifecycleDetails = "lifecycle.details", Malformed;
    /// Not a disposition of a recycled component.
    LifecycleDisposition = "lifecycle.disposition", Malformed;
    /// Only the operator records this event.
    LifecycleOperatorOnly = "lifecycle.operator_only", Forbidden;
    /// The replacement CSR is for another robot.
    LifecycleCsrRobot = "lifecycle.csr_robot", Unacceptable;
    /// Recycling names every key component of the last certificate, and no other.
    LifecycleRecycledComponents = "lifecycle.recycled_components", Unacceptable;
    /// The robot has no signed certificate, so no history yet.
    LifecycleNotManufactured = "lifecycle.not_manufactured", Conflict;
    /// A history begins with `manufactured`, at first issuance, and only there.
    LifecycleFirstEvent = "lifecycle.first_event", Conflict;
    /// `manufactured` is recorded by the CA at first issuance, once.
    LifecycleManufacturedOnce = "lifecycle.manufactured_once", Conflict;
    /// Nothing follows recycling.
    LifecycleRecycledFinal = "lifecycle.recycled_final", Conflict;
    /// After decommissioning only recycling (no re-issue, no service).
    LifecycleDecommissioned = "lifecycle.decommissioned", Conflict;
    /// A recall hold is put only on a robot in service.
    LifecycleHoldInService = "lifecycle.hold_in_service", Conflict;
    /// Only a held robot is released.
    LifecycleReleaseHeld = "lifecycle.release_held", Conflict;
    /// A held robot is not sold, deployed or re-certified until released.
    LifecycleHeld = "lifecycle.held", Conflict;
    /// A robot already in service is not deployed again.
    LifecycleAlreadyInService = "lifecycle.already_in_service", Conflict;
    /// Recycling follows decommissioning.
    LifecycleRecycleAfterDecommission = "lifecycle.recycle_after_decommission", Conflict;

    // Registration of manufacturers and models.
    /// A manufacturer code is not usable as a robot ID's first segment.
    CodeFormat = "code.format", Unacceptable;
    /// A manufacturer's name is not 1 to 128 printable characters.
    NameFormat = "name.format", Unacceptable;
    /// A country is not an ISO 3166-1 alpha-2 code.
    CountryFormat = "country.format", Unacceptable;
    /// A model code is not usable as a robot ID's second segment.
    ModelFormat = "model.format", Unacceptable;
    /// The model rules do not parse.
    RulesInvalid = "rules.invalid", Unacceptable;
    /// The record exists already.
    RegistryConflict = "registry.conflict", Conflict;
    /// The record is not in the registry.
    RegistryNotFound = "registry.not_found", NotFound;
    /// A manufacturer named is not registered.
    ManufacturerNotFound = "manufacturer.not_found", NotFound;
    /// A model named is not registered.
    ModelNotFound = "model.not_found", NotFound;
    /// A credential named is not registered.
    CredentialNotFound = "credential.not_found", NotFound;

    // Public status.
    /// An ID is neither a robot ID nor a serial.
    StatusId = "status.id", Malformed;
    /// A bulk status request names too many IDs.
    StatusTooMany = "status.too_many", TooLarge;

    // The CA itself.
    /// The registry does not answer.
    ServerRegistry = "server.registry", Unavailable;
    /// The CA's signing key is unavailable (its token absent, its session
    /// lost); nothing was signed.
    ServerSigner = "server.signer", Unavailable;
    /// The CA could not complete the request.
    ServerInternal = "server.internal", Internal;
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule compares equal to its id, so callers and tests can match on the
/// ids clients see.
impl PartialEq<&str> for Rule {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Rule> for &str {
    fn eq(&self, other: &Rule) -> bool {
        *self == other.as_str()
    }
}

impl serde::Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::collections::HashSet;

    /// Ids are unique, parse back, and read as `area.name` in lower case.
    #[test]
    fn every_rule_id_is_unique_parses_back_and_is_dotted_lower_case() {
        let mut seen = HashSet::new();
        for rule in Rule::ALL {
            let id = rule.as_str();
            assert!(seen.insert(id), "{id} twice");
            assert_eq!(Rule::parse(id), Some(*rule));
            let (area, name) = id.split_once('.').unwrap();
            for part in [area, name] {
                assert!(
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
                    "{id}"
                );
            }
        }
        assert_eq!(Rule::parse("no.such_rule"), None);
    }
}
