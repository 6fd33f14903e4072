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

mod delegated;

pub use delegated::{CrlEntry, CrlRequest};

use rcgen::{Issuer, PublicKeyData, SigningKey};
use robotid_verifier::identity::IdentityError;
use robotid_verifier::profile::Violation;
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::extensions::ExtensionError;
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

/// The issuing CA, ready to sign robot certificates.
pub struct Signer<K: SigningKey> {
    issuer_der: Vec<u8>,
    issuer: Issuer<'static, K>,
    lint_issuer: Issuer<'static, LintKey>,
    issuer_id: String,
    urls: PublicUrls,
    facts: crate::lint::IssuerFacts,
    verify_alg: &'static dyn ring::signature::VerificationAlgorithm,
    issuer_not_before: OffsetDateTime,
    issuer_not_after: OffsetDateTime,
    config: SignerConfig,
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
    robot_id: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl PreparedCertificate {
    /// The serial, to be recorded before signing.
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }
    /// The robot ID.
    pub fn robot_id(&self) -> &str {
        &self.robot_id
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

impl<K: SigningKey> Signer<K> {
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
        if cert.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
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
        let algorithm = key.algorithm();
        let verify_alg: &'static dyn ring::signature::VerificationAlgorithm =
            match crate::keys::KEY_ALGORITHMS
                .iter()
                .find(|a| crate::keys::signature_algorithm(**a) == algorithm)
            {
                Some(robotid_verifier::profile::KeyAlgorithm::P256) => {
                    &ring::signature::ECDSA_P256_SHA256_ASN1
                }
                Some(robotid_verifier::profile::KeyAlgorithm::P384) => {
                    &ring::signature::ECDSA_P384_SHA384_ASN1
                }
                Some(robotid_verifier::profile::KeyAlgorithm::Ed25519) => &ring::signature::ED25519,
                None => {
                    return Err(IssueError::IssuerKey(
                        "the issuing key is not P-256, P-384 or Ed25519".into(),
                    ));
                }
            };
        let facts = crate::lint::IssuerFacts::of(&cert);
        let lint_key = LintKey {
            ca_public_key: key.der_bytes().to_vec(),
            algorithm,
            placeholder: placeholder_signature(algorithm),
        };
        let ca_der = CertificateDer::from(issuer_der.as_slice());
        let issuer = Issuer::from_ca_cert_der(&ca_der, key)
            .map_err(|e| IssueError::IssuerCertificate(e.to_string()))?;
        let lint_issuer = Issuer::from_ca_cert_der(&ca_der, lint_key)
            .map_err(|e| IssueError::IssuerCertificate(e.to_string()))?;
        Ok(Self {
            urls: PublicUrls::new(&config.public_url, &issuer_id),
            issuer_der,
            issuer,
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
        let params = template::robot(
            vetted.identity(),
            encoded,
            &serial,
            not_before,
            not_after,
            &self.urls,
        )?;
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
        let (tbs, signature_algorithm) = split_certificate(precert.der())
            .map_err(|e| IssueError::FinalCheck(format!("precertificate: {e}")))?;
        if tbs != parsed.tbs_certificate.as_ref() {
            return Err(IssueError::FinalCheck(
                "precertificate: its to-be-signed bytes are not those linted".into(),
            ));
        }
        Ok(PreparedCertificate {
            issuer_id: self.issuer_id.clone(),
            tbs: tbs.to_vec(),
            signature_algorithm: signature_algorithm.to_vec(),
            serial,
            robot_id: vetted.robot_id().as_str().to_owned(),
            not_before,
            not_after,
        })
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
        // issuing CA's (a signing fault would otherwise go out).
        let signature = self
            .issuer
            .key()
            .sign(&prepared.tbs)
            .map_err(|e| IssueError::Crypto(e.to_string()))?;
        ring::signature::UnparsedPublicKey::new(self.verify_alg, self.issuer.key().der_bytes())
            .verify(&prepared.tbs, &signature)
            .map_err(|_| {
                IssueError::FinalCheck("signature does not verify with the issuing CA's key".into())
            })?;
        let der = assemble_certificate(&prepared.tbs, &prepared.signature_algorithm, &signature)
            .map_err(|e| IssueError::FinalCheck(format!("certificate encoding: {e}")))?;
        Ok(IssuedCertificate {
            der,
            serial: prepared.serial,
            chain: vec![self.issuer_der.clone()],
        })
    }
}

/// The to-be-signed bytes and the signatureAlgorithm of a DER certificate,
/// each as a whole TLV.
fn split_certificate(der: &[u8]) -> Result<(&[u8], &[u8]), der::Error> {
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
/// signatureValue BIT STRING }` from the given TLVs and signature, as rcgen
/// writes it.
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

impl<K: SigningKey> Signer<K> {
    /// Issues a credential of `kind` for the public key `spki_der`, from
    /// this CA's own template for that kind. `ca_name` goes in the subject.
    pub fn issue_credential(
        &self,
        kind: &crate::credentials::CredentialKind,
        ca_name: &str,
        spki_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, IssueError> {
        let mut params =
            crate::credentials::params(kind, ca_name, now).map_err(IssueError::Crypto)?;
        params.not_before = params.not_before.max(self.issuer_not_before);
        params.not_after = params.not_after.min(self.issuer_not_after);
        let serial = params
            .serial_number
            .as_ref()
            .map(|s| s.to_bytes())
            .unwrap_or_default();
        let subject_key = rcgen::SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| IssueError::Crypto(e.to_string()))?;
        let cert = params
            .signed_by(&subject_key, &self.issuer)
            .map_err(|e| IssueError::Crypto(e.to_string()))?;
        Ok(IssuedCertificate {
            der: cert.der().to_vec(),
            serial,
            chain: vec![self.issuer_der.clone()],
        })
    }
}

/// Checks that `der` carries a valid signature by the key of `issuer_der`.
fn verify_signed_by(der: &[u8], issuer_der: &[u8]) -> Result<(), String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    let (_, issuer) = X509Certificate::from_der(issuer_der).map_err(|e| e.to_string())?;
    cert.verify_signature(Some(issuer.public_key()))
        .map_err(|e| format!("signature does not verify with the issuing CA's key: {e}"))
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
