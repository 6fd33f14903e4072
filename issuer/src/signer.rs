//! The signer: the one place that uses the issuing CA's key.
//!
//! Issuance is two steps, as in Boulder. [`Signer::prepare`] builds the
//! certificate from a [`VettedRequest`] as a precertificate whose issuer key
//! presents the CA's public key (so its to-be-signed bytes are exactly those
//! of the final certificate) and carries a placeholder signature, lints it
//! and returns a [`PreparedCertificate`]: a single-use token (it cannot be
//! cloned, and issuing consumes it) holding the linted to-be-signed bytes.
//! The caller records the serial durably, then calls [`Signer::issue`],
//! which signs exactly those bytes with the real key, checks that the
//! signature verifies with the issuing CA's key, and only then assembles
//! and releases the certificate (decision 0009). The issuing CA itself is
//! checked against the trust anchors once, when the signer is made.

mod crl;

pub use crl::{CrlEntry, CrlRequest};

use rcgen::{Issuer, PublicKeyData, SigningKey};
use robotid_verifier::identity::IdentityError;
use robotid_verifier::profile::Violation;
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::credentials::CredentialKind;
use crate::delegated::Purpose;
use crate::extensions::ExtensionError;
use crate::key::{CaKey, IssuingKey, KeyFailure};
use crate::lint::ServiceProfile;
use crate::template::{self, PublicUrls};
use crate::vetting::VettedRequest;

/// Why a certificate was not issued. Nothing was signed with the CA key
/// unless the variant says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The issuing CA certificate is unusable.
    #[error("issuing CA certificate: {0}")]
    IssuerCertificate(String),
    /// The issuing CA key does not match its certificate or is unsupported.
    #[error("issuing CA key: {0}")]
    IssuerKey(String),
    /// The identity cannot be encoded.
    #[error("RobotIdentity: {0}")]
    Identity(#[from] IdentityError),
    /// An extension cannot be encoded.
    #[error(transparent)]
    Extension(#[from] ExtensionError),
    /// The requested validity does not fit under the issuing CA's.
    #[error(
        "validity: a certificate from {not_before} to {not_after} would outlive the issuing CA (until {issuer_not_after})"
    )]
    Validity {
        /// Requested start.
        not_before: OffsetDateTime,
        /// Requested end.
        not_after: OffsetDateTime,
        /// The issuing CA's notAfter.
        issuer_not_after: OffsetDateTime,
    },
    /// The precertificate broke profile rules; nothing was signed.
    #[error("precertificate lint failed: {}", join(.0))]
    Lint(Vec<Violation>),
    /// The token was prepared by another issuer.
    #[error("token was prepared by issuer {prepared_by}, not {issuer}")]
    WrongIssuer {
        /// Who prepared it.
        prepared_by: String,
        /// Who was asked to issue.
        issuer: String,
    },
    /// The signed certificate differs from the linted one or fails the
    /// verifier; it was signed but must not be released.
    #[error("signed certificate failed the final check and is withheld: {0}")]
    FinalCheck(String),
    /// rcgen or the random source failed.
    #[error("signing failed: {0}")]
    Crypto(String),
    /// The CA key did not sign (unavailable, or it failed).
    #[error(transparent)]
    Key(#[from] KeyFailure),
}

fn join(v: &[Violation]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Presents the CA's public key, so that the precertificate's to-be-signed
/// bytes (AKI included) equal the final ones, and "signs" with a
/// placeholder: the precertificate's signature is never checked, only its
/// to-be-signed bytes are linted and then signed for real (decision 0009).
struct LintKey {
    ca_public_key: Vec<u8>,
    algorithm: &'static rcgen::SignatureAlgorithm,
    placeholder: Vec<u8>,
}

/// A signature of the right shape for `algorithm` that no key made: an
/// ECDSA-Sig-Value with r = s = 1 (DER), or 64 zero bytes for Ed25519.
fn placeholder_signature(algorithm: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
    if algorithm == &rcgen::PKCS_ED25519 {
        vec![0; 64]
    } else {
        vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]
    }
}

impl PublicKeyData for LintKey {
    fn der_bytes(&self) -> &[u8] {
        &self.ca_public_key
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

impl SigningKey for LintKey {
    fn sign(&self, _msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        Ok(self.placeholder.clone())
    }
}

/// Issuance settings.
#[derive(Clone, Debug)]
pub struct SignerConfig {
    /// The CA's public base URL, e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    /// Lifetime of robot certificates.
    pub validity: Duration,
    /// How far notBefore is set back, for robots with slightly slow clocks.
    pub backdate: Duration,
}

impl SignerConfig {
    /// Ten-year robot certificates, backdated one minute.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into(),
            validity: Duration::days(3652),
            backdate: Duration::minutes(1),
        }
    }
}

/// The issuing CA, ready to sign the certificates and CRLs the issuer has
/// templates for, each linted before the key signs it.
///
/// `K` is the issuing key; [`crate::ceremony::LoadedCa::into_signer`]
/// makes the signer of a CA folder without handing the key out.
pub struct Signer<K: CaKey = IssuingKey> {
    issuer_der: Vec<u8>,
    key: K,
    lint_issuer: Issuer<'static, LintKey>,
    issuer_id: String,
    urls: PublicUrls,
    facts: crate::lint::IssuerFacts,
    verify_alg: &'static dyn ring::signature::VerificationAlgorithm,
    issuer_not_before: OffsetDateTime,
    issuer_not_after: OffsetDateTime,
    config: SignerConfig,
}

/// What a certificate is for: each kind has its own template and lint
/// profile, and is recorded in the registry under this name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertificateKind {
    /// A robot's identity certificate.
    Robot,
    /// The platform operator's client credential.
    Operator,
    /// A manufacturer's enrollment client credential.
    Manufacturer,
    /// The CA server's TLS server certificate.
    TlsServer,
    /// A delegated OCSP signer.
    OcspSigner,
    /// A delegated lifecycle (history head) signer.
    LifecycleSigner,
}

impl CertificateKind {
    /// The name the registry records.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateKind::Robot => "robot",
            CertificateKind::Operator => "operator",
            CertificateKind::Manufacturer => "manufacturer",
            CertificateKind::TlsServer => "tls_server",
            CertificateKind::OcspSigner => "ocsp_signer",
            CertificateKind::LifecycleSigner => "lifecycle_signer",
        }
    }

    fn of_credential(kind: &CredentialKind) -> Self {
        match kind {
            CredentialKind::Operator { .. } => CertificateKind::Operator,
            CredentialKind::Manufacturer { .. } => CertificateKind::Manufacturer,
            CredentialKind::Server { .. } => CertificateKind::TlsServer,
        }
    }

    fn of_purpose(purpose: Purpose) -> Self {
        match purpose {
            Purpose::Ocsp => CertificateKind::OcspSigner,
            Purpose::Lifecycle => CertificateKind::LifecycleSigner,
        }
    }
}

/// The check the final certificate passes before it is released.
enum FinalProfile {
    /// The verifier's robot certificate profile.
    Robot,
    /// The issuer's profile of a service certificate.
    Service(ServiceProfile),
}

/// A linted precertificate's parameters: the single-use token
/// [`Signer::issue`] redeems.
#[must_use = "a prepared certificate must be issued or dropped"]
pub struct PreparedCertificate {
    issuer_id: String,
    /// The linted to-be-signed bytes: the only bytes the CA key signs.
    tbs: Vec<u8>,
    /// The signatureAlgorithm AlgorithmIdentifier, DER, as in the TBS.
    signature_algorithm: Vec<u8>,
    serial: Vec<u8>,
    kind: CertificateKind,
    /// The robot ID for a robot, the subject's common name otherwise.
    subject: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    check: FinalProfile,
}

impl PreparedCertificate {
    /// The serial, to be recorded before signing.
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }
    /// The robot ID (a robot certificate's; the subject's common name for
    /// the other kinds).
    pub fn robot_id(&self) -> &str {
        &self.subject
    }
    /// What the certificate is for.
    pub fn kind(&self) -> CertificateKind {
        self.kind
    }
    /// The robot ID for a robot, the subject's common name otherwise.
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// notBefore.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }
    /// notAfter.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }
}

/// A released certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Its serial.
    pub serial: Vec<u8>,
    /// The chain above it, issuing CA first, without the trust anchor.
    pub chain: Vec<Vec<u8>>,
}

impl<K: CaKey> Signer<K> {
    /// A signer for the issuing CA `issuer_der` with key `key`; `anchors`
    /// are the trust anchors every issued certificate must chain to.
    pub fn new(
        issuer_der: Vec<u8>,
        key: K,
        anchors: Vec<Vec<u8>>,
        config: SignerConfig,
    ) -> Result<Self, IssueError> {
        let (_, cert) = X509Certificate::from_der(&issuer_der)
            .map_err(|e| IssueError::IssuerCertificate(e.to_string()))?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_der() {
            return Err(IssueError::IssuerKey(
                "the key does not belong to the issuing CA certificate".into(),
            ));
        }
        if !anchors
            .iter()
            .any(|a| verify_signed_by(&issuer_der, a).is_ok())
        {
            return Err(IssueError::IssuerCertificate(
                "the issuing CA is not signed by any of the trust anchors".into(),
            ));
        }
        let issuer_id = issuer_id(&cert)?;
        let time_of = |t: &x509_parser::time::ASN1Time| {
            OffsetDateTime::from_unix_timestamp(t.timestamp())
                .map_err(|e| IssueError::IssuerCertificate(e.to_string()))
        };
        let issuer_not_before = time_of(&cert.validity().not_before)?;
        let issuer_not_after = time_of(&cert.validity().not_after)?;
        let key_algorithm = key.algorithm();
        if robotid_verifier::profile::KeyAlgorithm::of_spki(cert.public_key())
            != Some(key_algorithm)
        {
            return Err(IssueError::IssuerKey(format!(
                "the key is {key_algorithm}, unlike the issuing CA certificate's"
            )));
        }
        let algorithm = crate::keys::signature_algorithm(key_algorithm);
        let verify_alg: &'static dyn ring::signature::VerificationAlgorithm = match key_algorithm {
            robotid_verifier::profile::KeyAlgorithm::P256 => {
                &ring::signature::ECDSA_P256_SHA256_ASN1
            }
            robotid_verifier::profile::KeyAlgorithm::P384 => {
                &ring::signature::ECDSA_P384_SHA384_ASN1
            }
            robotid_verifier::profile::KeyAlgorithm::Ed25519 => &ring::signature::ED25519,
        };
        let facts = crate::lint::IssuerFacts::of(&cert);
        let lint_key = LintKey {
            ca_public_key: key.public_key_der().to_vec(),
            algorithm,
            placeholder: placeholder_signature(algorithm),
        };
        let ca_der = CertificateDer::from(issuer_der.as_slice());
        let lint_issuer = Issuer::from_ca_cert_der(&ca_der, lint_key)
            .map_err(|e| IssueError::IssuerCertificate(e.to_string()))?;
        Ok(Self {
            urls: PublicUrls::new(&config.public_url, &issuer_id),
            issuer_der,
            key,
            lint_issuer,
            issuer_id,
            facts,
            verify_alg,
            issuer_not_before,
            issuer_not_after,
            config,
        })
    }

    /// The issuer's id, used in its CRL and certificate URLs.
    pub fn issuer_id(&self) -> &str {
        &self.issuer_id
    }

    /// The issuing CA certificate, DER.
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer_der
    }

    /// The URLs certificates from this issuer carry.
    pub fn urls(&self) -> &PublicUrls {
        &self.urls
    }

    /// Builds and lints the certificate for `vetted`, valid from `now`.
    pub fn prepare(
        &self,
        vetted: &VettedRequest,
        now: OffsetDateTime,
    ) -> Result<PreparedCertificate, IssueError> {
        // The serial takes the time to the millisecond, so that serials
        // issued in one second still ascend.
        let serial =
            template::ordered_serial(now).map_err(|e| IssueError::Crypto(e.to_string()))?;
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let not_before = (now - self.config.backdate).max(self.issuer_not_before);
        let not_after = not_before + self.config.validity;
        if not_after > self.issuer_not_after {
            return Err(IssueError::Validity {
                not_before,
                not_after,
                issuer_not_after: self.issuer_not_after,
            });
        }
        let encoded = vetted.identity().to_der()?;
        let mut params = template::robot(
            vetted.identity(),
            encoded,
            &serial,
            not_before,
            not_after,
            &self.urls,
        )?;
        params
            .custom_extensions
            .push(crate::extensions::subject_key_identifier(
                vetted.spki_der(),
            )?);
        let subject_key = rcgen::SubjectPublicKeyInfo::from_der(vetted.spki_der())
            .map_err(|e| IssueError::Crypto(e.to_string()))?;
        let precert = params
            .signed_by(&subject_key, &self.lint_issuer)
            .map_err(|e| IssueError::Crypto(e.to_string()))?;
        let (_, parsed) = X509Certificate::from_der(precert.der())
            .map_err(|e| IssueError::FinalCheck(format!("precertificate does not parse: {e}")))?;
        let violations = crate::lint::lint(&parsed, &self.facts, vetted);
        if !violations.is_empty() {
            return Err(IssueError::Lint(violations));
        }
        let (tbs, signature_algorithm) =
            linted_tbs(precert.der(), parsed.tbs_certificate.as_ref())?;
        Ok(PreparedCertificate {
            issuer_id: self.issuer_id.clone(),
            tbs,
            signature_algorithm,
            serial,
            kind: CertificateKind::Robot,
            subject: vetted.robot_id().as_str().to_owned(),
            not_before,
            not_after,
            check: FinalProfile::Robot,
        })
    }

    /// Builds and lints the credential of `kind` (operator, manufacturer,
    /// or the server's TLS certificate) for the public key `spki_der`, from
    /// this CA's own template for that kind, valid from `now`. `ca_name`
    /// goes in the subject. Record it, then [`Signer::issue`] it.
    pub fn prepare_credential(
        &self,
        kind: &CredentialKind,
        ca_name: &str,
        spki_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<PreparedCertificate, IssueError> {
        let params = crate::credentials::params(kind, ca_name, now).map_err(IssueError::Crypto)?;
        let mut eku = Vec::new();
        let san = match kind {
            CredentialKind::Operator { .. } => {
                eku.push(ServiceProfile::client_auth());
                true
            }
            CredentialKind::Manufacturer { .. } => {
                eku.push(ServiceProfile::client_auth());
                eku.push(robotid_verifier::oid::ID_KP_MANUFACTURER_ENROLLMENT.to_string());
                true
            }
            CredentialKind::Server { .. } => {
                eku.push(ServiceProfile::server_auth());
                true
            }
        };
        let profile = ServiceProfile {
            kind: CertificateKind::of_credential(kind).as_str(),
            eku,
            san,
            ocsp_nocheck: false,
            max_life: (crate::credentials::CREDENTIAL_VALIDITY + Duration::minutes(1))
                .whole_seconds(),
            spki_der: spki_der.to_vec(),
        };
        self.prepare_service(params, CertificateKind::of_credential(kind), profile)
    }

    /// Builds and lints the certificate of a delegated signer for
    /// `purpose` with the public key `spki_der`, from this CA's template for
    /// it, valid from `now`. Record it, then [`Signer::issue`] it.
    pub fn prepare_delegated(
        &self,
        purpose: Purpose,
        ca_name: &str,
        spki_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<PreparedCertificate, IssueError> {
        let params = crate::delegated::params(purpose, ca_name, now)?;
        let eku = match purpose {
            Purpose::Ocsp => ServiceProfile::ocsp_signing(),
            Purpose::Lifecycle => robotid_verifier::oid::ID_KP_LIFECYCLE_SIGNING.to_string(),
        };
        let profile = ServiceProfile {
            kind: CertificateKind::of_purpose(purpose).as_str(),
            eku: vec![eku],
            san: false,
            ocsp_nocheck: purpose == Purpose::Ocsp,
            max_life: (crate::delegated::VALIDITY + crate::delegated::BACKDATE).whole_seconds(),
            spki_der: spki_der.to_vec(),
        };
        self.prepare_service(params, CertificateKind::of_purpose(purpose), profile)
    }

    /// Fits `params` under the issuing CA, builds the precertificate with
    /// the placeholder key, lints it against `profile` and returns the
    /// token.
    fn prepare_service(
        &self,
        mut params: rcgen::CertificateParams,
        kind: CertificateKind,
        profile: ServiceProfile,
    ) -> Result<PreparedCertificate, IssueError> {
        params.not_before = params.not_before.max(self.issuer_not_before);
        params.not_after = params.not_after.min(self.issuer_not_after);
        let serial = params
            .serial_number
            .as_ref()
            .map(|s| s.to_bytes())
            .unwrap_or_default();
        let (not_before, not_after) = (params.not_before, params.not_after);
        // Every end entity names its key (RFC 5280 4.2.1.2; pkilint warns
        // without it); the templates do not see the key, the signer does.
        params
            .custom_extensions
            .push(crate::extensions::subject_key_identifier(
                &profile.spki_der,
            )?);
        let subject_key = rcgen::SubjectPublicKeyInfo::from_der(&profile.spki_der)
            .map_err(|e| IssueError::Crypto(e.to_string()))?;
        let precert = params
            .signed_by(&subject_key, &self.lint_issuer)
            .map_err(|e| IssueError::Crypto(e.to_string()))?;
        let (_, parsed) = X509Certificate::from_der(precert.der())
            .map_err(|e| IssueError::FinalCheck(format!("precertificate does not parse: {e}")))?;
        let violations = crate::lint::lint_service(&parsed, &self.facts, &profile);
        if !violations.is_empty() {
            return Err(IssueError::Lint(violations));
        }
        let subject = common_name(&parsed);
        let (tbs, signature_algorithm) =
            linted_tbs(precert.der(), parsed.tbs_certificate.as_ref())?;
        Ok(PreparedCertificate {
            issuer_id: self.issuer_id.clone(),
            tbs,
            signature_algorithm,
            serial,
            kind,
            subject,
            not_before,
            not_after,
            check: FinalProfile::Service(profile),
        })
    }

    /// Signs `tbs` with the CA key and proves the signature the issuing
    /// CA's before anything is built around it (a signing fault would
    /// otherwise go out).
    fn sign_checked(&self, tbs: &[u8]) -> Result<Vec<u8>, IssueError> {
        let signature = self.key.sign(tbs)?;
        ring::signature::UnparsedPublicKey::new(self.verify_alg, self.key.public_key_der())
            .verify(tbs, &signature)
            .map_err(|_| {
                IssueError::FinalCheck("signature does not verify with the issuing CA's key".into())
            })?;
        Ok(signature)
    }

    /// Signs a prepared certificate with the CA key, consuming the token.
    pub fn issue(&self, prepared: PreparedCertificate) -> Result<IssuedCertificate, IssueError> {
        if prepared.issuer_id != self.issuer_id {
            return Err(IssueError::WrongIssuer {
                prepared_by: prepared.issuer_id,
                issuer: self.issuer_id.clone(),
            });
        }
        // The CA key signs exactly the linted bytes; the certificate is
        // assembled around them only once the signature is proven the
        // issuing CA's.
        let signature = self.sign_checked(&prepared.tbs)?;
        let der = assemble_certificate(&prepared.tbs, &prepared.signature_algorithm, &signature)
            .map_err(|e| IssueError::FinalCheck(format!("certificate encoding: {e}")))?;
        self.final_check(&der, &prepared.check)?;
        Ok(IssuedCertificate {
            der,
            serial: prepared.serial,
            chain: vec![self.issuer_der.clone()],
        })
    }
}

/// The to-be-signed bytes and the signatureAlgorithm of a DER certificate
/// or CRL (both are `SEQUENCE { tbs, signatureAlgorithm, BIT STRING }`),
/// each as a whole TLV.
fn split_signed(der: &[u8]) -> Result<(&[u8], &[u8]), der::Error> {
    use der::{Decode, Reader};
    let mut outer = der::SliceReader::new(der)?;
    let header = der::Header::decode(&mut outer)?;
    header.tag.assert_eq(der::Tag::Sequence)?;
    let body = outer.read_slice(header.length)?;
    outer.finish(())?;
    let mut inner = der::SliceReader::new(body)?;
    let tbs = inner.tlv_bytes()?;
    let algorithm = inner.tlv_bytes()?;
    let signature = der::Header::decode(&mut inner)?;
    signature.tag.assert_eq(der::Tag::BitString)?;
    inner.read_slice(signature.length)?;
    inner.finish((tbs, algorithm))
}

/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
/// signatureValue BIT STRING }` (or a CRL, the same shape) from the given
/// TLVs and signature, as rcgen writes it.
fn assemble_certificate(
    tbs: &[u8],
    algorithm: &[u8],
    signature: &[u8],
) -> Result<Vec<u8>, der::Error> {
    use der::Encode;
    let bits = der::asn1::BitStringRef::from_bytes(signature)?;
    let body_len = (der::Length::try_from(tbs.len())? + der::Length::try_from(algorithm.len())?)?;
    let body_len = (body_len + bits.encoded_len()?)?;
    let header = der::Header::new(der::Tag::Sequence, body_len)?;
    let mut out = Vec::with_capacity(usize::try_from(body_len)? + 4);
    header.encode_to_vec(&mut out)?;
    out.extend_from_slice(tbs);
    out.extend_from_slice(algorithm);
    bits.encode_to_vec(&mut out)?;
    Ok(out)
}

impl<K: CaKey> Signer<K> {
    /// The verifier's profile check of a final certificate, as relying
    /// parties run it (decision 0001): a robot certificate through the
    /// verifier's strict reader, with the full profile analysis when the
    /// reader does not recognise it (which names the broken rules); a
    /// service certificate through its lint profile again.
    fn final_check(&self, der: &[u8], check: &FinalProfile) -> Result<(), IssueError> {
        let violations = match check {
            FinalProfile::Robot => {
                if robotid_verifier::conforming::read(der).is_some() {
                    return Ok(());
                }
                match robotid_verifier::profile::check_robot_certificate(der) {
                    Ok(_) => return Ok(()),
                    Err(e) => e.0,
                }
            }
            FinalProfile::Service(profile) => match X509Certificate::from_der(der) {
                Ok(([], cert)) => crate::lint::lint_service(&cert, &self.facts, profile),
                _ => {
                    return Err(IssueError::FinalCheck(
                        "the certificate does not parse".into(),
                    ));
                }
            },
        };
        if violations.is_empty() {
            Ok(())
        } else {
            Err(IssueError::FinalCheck(join(&violations)))
        }
    }
}

/// The to-be-signed bytes and signatureAlgorithm of a precertificate,
/// checked to be the bytes the lints read.
fn linted_tbs(precert: &[u8], linted: &[u8]) -> Result<(Vec<u8>, Vec<u8>), IssueError> {
    let (tbs, signature_algorithm) = split_signed(precert)
        .map_err(|e| IssueError::FinalCheck(format!("precertificate: {e}")))?;
    if tbs != linted {
        return Err(IssueError::FinalCheck(
            "precertificate: its to-be-signed bytes are not those linted".into(),
        ));
    }
    Ok((tbs.to_vec(), signature_algorithm.to_vec()))
}

/// Checks that `der` carries a valid signature by the key of `issuer_der`.
fn verify_signed_by(der: &[u8], issuer_der: &[u8]) -> Result<(), String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    let (_, issuer) = X509Certificate::from_der(issuer_der).map_err(|e| e.to_string())?;
    cert.verify_signature(Some(issuer.public_key()))
        .map_err(|e| format!("signature does not verify with the issuing CA's key: {e}"))
}

/// The first common name of `cert`'s subject, empty if it has none: how the
/// registry names the CA's own certificates.
pub fn common_name(cert: &X509Certificate<'_>) -> String {
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The issuer's id: the hex of its subjectKeyIdentifier's first eight
/// bytes, stable for the key and short enough for a URL.
pub fn issuer_id(cert: &X509Certificate<'_>) -> Result<String, IssueError> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => {
                Some(hex::encode(&k.0[..k.0.len().min(8)]))
            }
            _ => None,
        })
        .ok_or_else(|| IssueError::IssuerCertificate("no subjectKeyIdentifier".into()))
}
