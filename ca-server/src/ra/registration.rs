//! Registration: manufacturers (with their enrollment credential), model
//! types with their approved rules, and the revocation of credentials.
//! Operator only.

use robotid_issuer::credentials::{CREDENTIAL_VALIDITY, CredentialKind};
use robotid_issuer::vetting::{ManufacturerRecord, ModelRecord};
use robotid_verifier::profile::KeyAlgorithm;
use robotid_verifier::robot_id::RobotId;
use robotid_verifier::rule::{Kind, Rule};
use robotid_verifier::rules::ModelRules;
use robotid_verifier::text;
use x509_parser::prelude::{FromDer, X509CertificationRequest};

use super::{Caller, Operation, Refusal, RegistrationAuthority, parse_serial};
use crate::store::roles::Admin;
use crate::store::{CaCertificate, Credential, Role, StoreError};

/// A manufacturer to register, as asked.
#[derive(Clone, Debug)]
pub struct NewManufacturer<'a> {
    /// Code: 2 to 8 of A-Z and 0-9, the first segment of its robot IDs.
    pub code: &'a str,
    /// Legal name.
    pub name: &'a str,
    /// ISO 3166-1 alpha-2 country code.
    pub country: &'a str,
    /// PEM CSR for the manufacturer's enrollment credential.
    pub credential_csr: &'a str,
}

/// A credential the CA issued.
#[derive(Clone, Debug)]
pub struct IssuedCredential {
    /// Credential serial, hex.
    pub serial: String,
    /// The client certificate, DER.
    pub der: Vec<u8>,
}

/// A registry refusal of registration: the record exists, or one it refers
/// to does not.
fn registration_refusal(e: StoreError) -> Refusal {
    match e {
        StoreError::Conflict { .. } => Refusal::new(Rule::RegistryConflict, e.to_string()),
        StoreError::NotFound { .. } => Refusal::new(Rule::RegistryNotFound, e.to_string()),
        other => Refusal::internal(other),
    }
}

fn check_text(rule: Rule, field: &str, value: &str, max: usize) -> Result<(), Refusal> {
    // The one text policy first, under its own rule: a manufacturer's name
    // becomes the subject O of every one of its robots' certificates.
    robotid_verifier::text::check(value).map_err(|e| {
        Refusal::new(e.rule(), format!("{field}: {e}")).at(field, text::terminal_cut(value, 128))
    })?;
    let len = value.chars().count();
    if len == 0 || len > max || value.trim() != value {
        return Err(Refusal::new(
            rule,
            format!("{field} must be 1..={max} printable characters without surrounding spaces"),
        )
        .at(field, value));
    }
    Ok(())
}

/// The SubjectPublicKeyInfo of a credential CSR whose signature verifies.
fn credential_key(pem_text: &str) -> Result<Vec<u8>, Refusal> {
    let at = |r: Refusal| r.at("credential_csr", "");
    let der = robotid_issuer::csr::decode_pem_or_der(pem_text.as_bytes())
        .map_err(|e| at(Refusal::from(&e)))?;
    robotid_issuer::csr::strict_der(&der).map_err(|e| at(Refusal::from(&e)))?;
    let (_, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|e| at(Refusal::new(Rule::CsrDer, format!("credential_csr: {e}"))))?;
    // The key before the signature: a key of another algorithm (Ed448,
    // RSA) cannot be verified here, and is reported as what it is.
    let spki = &csr.certification_request_info.subject_pki;
    if KeyAlgorithm::of_spki(spki).is_none() {
        return Err(at(Refusal::new(
            Rule::CsrKeyAlgorithm,
            format!(
                "credential key algorithm {} is not supported; credential keys must be P-256, P-384 or Ed25519",
                spki.algorithm.algorithm.to_id_string()
            ),
        )));
    }
    csr.verify_signature().map_err(|e| {
        at(Refusal::new(
            Rule::CsrSignature,
            format!("credential_csr signature does not verify: {e}"),
        ))
    })?;
    Ok(spki.raw.to_vec())
}

impl RegistrationAuthority {
    /// Registers a manufacturer and issues its enrollment credential.
    pub async fn add_manufacturer(
        &self,
        caller: &Caller,
        new: &NewManufacturer<'_>,
    ) -> Result<IssuedCredential, Refusal> {
        caller.may(Operation::RegisterManufacturer)?;
        RobotId::new(new.code, "M", "0").map_err(|e| {
            Refusal::new(
                Rule::CodeFormat,
                format!("not usable as a robot ID's manufacturer code: {e}"),
            )
            .at("code", new.code)
        })?;
        check_text(Rule::NameFormat, "name", new.name, 128)?;
        if new.country.len() != 2 || !new.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Refusal::new(
                Rule::CountryFormat,
                "country must be an ISO 3166-1 alpha-2 code, two capitals",
            )
            .at("country", new.country));
        }
        let spki = credential_key(new.credential_csr)?;
        let record = ManufacturerRecord {
            code: new.code.to_owned(),
            name: new.name.to_owned(),
            country: new.country.to_owned(),
            active: true,
        };
        let store = self.store();
        store
            .add_manufacturer(&record, &caller.actor())
            .await
            .map_err(registration_refusal)?;
        let kind = CredentialKind::Manufacturer {
            code: new.code.to_owned(),
            name: new.name.to_owned(),
        };
        // Recorded before it is signed, like every certificate of the CA:
        // the credential (so it is known when it is presented) and the
        // certificate itself.
        let now = time::OffsetDateTime::now_utc();
        let prepared = self
            .ca
            .signer
            .prepare_credential(&kind, &self.ca.certs.name, &spki, now)
            .map_err(Refusal::internal)?;
        let record = CaCertificate::of(&prepared);
        let serial = record.serial_hex.clone();
        let credential = Credential {
            serial_hex: serial.clone(),
            role: Role::Manufacturer,
            manufacturer_code: Some(new.code.to_owned()),
            subject: format!("manufacturer {}", new.code),
            not_after: now.unix_timestamp() + CREDENTIAL_VALIDITY.whole_seconds(),
            revoked: false,
        };
        store
            .add_credential(&credential, &caller.actor())
            .await
            .map_err(registration_refusal)?;
        store
            .record_ca_certificate(&record)
            .await
            .map_err(registration_refusal)?;
        let issued = self
            .ca
            .signer
            .issue(prepared)
            .map_err(|e| Refusal::signing(&e))?;
        store
            .complete_ca_certificate(&serial, &issued.der)
            .await
            .map_err(registration_refusal)?;
        Ok(IssuedCredential {
            serial,
            der: issued.der,
        })
    }

    /// Registers model `model` of manufacturer `code` with its rules (TOML).
    pub async fn add_model(
        &self,
        caller: &Caller,
        code: &str,
        model: &str,
        rules: &str,
    ) -> Result<(), Refusal> {
        caller.may(Operation::RegisterModel)?;
        RobotId::new(code, model, "0").map_err(|e| {
            Refusal::new(
                Rule::ModelFormat,
                format!("manufacturer {code:?} / model {model:?}: {e}"),
            )
            .at("model", model)
        })?;
        let rules = ModelRules::from_toml(rules, "rules")
            .map_err(|e| Refusal::new(Rule::RulesInvalid, e.to_string()).at("rules", ""))?;
        let record = ModelRecord {
            manufacturer_code: code.to_owned(),
            model: model.to_owned(),
            rules,
        };
        self.store()
            .add_model(&record, &caller.actor())
            .await
            .map_err(registration_refusal)
    }

    /// Revokes credential `serial`; returns the serial in lower case. The
    /// operator's own credential cannot revoke itself: that would lock the
    /// registry.
    pub async fn revoke_credential(
        &self,
        caller: &Caller,
        serial: &str,
    ) -> Result<String, Refusal> {
        caller.may(Operation::RevokeCredential)?;
        let serial = parse_serial(serial).map_err(|r| r.as_kind(Kind::Unacceptable))?;
        if let Caller::Operator { serial: own } = caller
            && own.eq_ignore_ascii_case(&serial)
        {
            return Err(Refusal::new(
                Rule::CredentialSelf,
                "the operator's credential cannot revoke itself; that would lock the registry",
            ));
        }
        self.store()
            .revoke_credential(&serial, &caller.actor())
            .await
            .map_err(registration_refusal)?;
        Ok(serial)
    }
}
