//! The issuing CA's CRLs: built by rcgen with the placeholder key like
//! every precertificate, linted (crate::lint::lint_crl), and only then is
//! the to-be-signed list signed with the CA key.

use rcgen::{
    CertificateRevocationListParams, CrlDistributionPoint, CrlIssuingDistributionPoint, CrlScope,
    KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{IssueError, Signer, assemble_certificate, split_signed};
use crate::key::CaKey;
use crate::lint::CrlProfile;

/// One entry of a CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlEntry {
    /// Serial number, big-endian bytes as in the certificate.
    pub serial: Vec<u8>,
    /// When it was revoked or put on hold.
    pub revoked_at: OffsetDateTime,
    /// The RFC 5280 reason code; `None` for unspecified, which RFC 5280
    /// says to leave out rather than encode.
    pub reason: Option<u8>,
}

/// A CRL to sign.
#[derive(Clone, Debug)]
pub struct CrlRequest {
    /// Its number: greater than that of every CRL this issuer signed before.
    pub number: u64,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate: the next CRL is issued before then.
    pub next_update: OffsetDateTime,
    /// The entries, in any order.
    pub entries: Vec<CrlEntry>,
}

fn reason_of(code: u8) -> Result<RevocationReason, IssueError> {
    Ok(match code {
        0 => RevocationReason::Unspecified,
        1 => RevocationReason::KeyCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        6 => RevocationReason::CertificateHold,
        9 => RevocationReason::PrivilegeWithdrawn,
        other => {
            return Err(IssueError::Crypto(format!(
                "CRL reason code {other} does not apply to robot certificates"
            )));
        }
    })
}

/// The big-endian bytes without leading zeros (one zero for zero), so the
/// INTEGER's encoding is minimal as DER requires.
fn minimal(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[first..]
}

impl<K: CaKey> Signer<K> {
    /// Signs the full CRL of this issuer: the distribution point of its
    /// certificates in an issuing distribution point extension (only
    /// end-entity certificates), the authority key identifier of the issuing
    /// CA certificate, and the CRL number. The list is linted before the
    /// key signs it. Returns the DER.
    pub fn sign_crl(&self, request: CrlRequest) -> Result<Vec<u8>, IssueError> {
        let profile = CrlProfile {
            number: request.number,
            this_update: request.this_update.unix_timestamp(),
            next_update: request.next_update.unix_timestamp(),
            url: self.urls.crl.clone(),
            entries: request.entries.len(),
        };
        let revoked_certs = request
            .entries
            .into_iter()
            .map(|e| {
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from(e.serial),
                    revocation_time: e.revoked_at,
                    reason_code: e.reason.filter(|c| *c != 0).map(reason_of).transpose()?,
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, IssueError>>()?;
        let params = CertificateRevocationListParams {
            this_update: request.this_update,
            next_update: request.next_update,
            crl_number: SerialNumber::from_slice(minimal(&request.number.to_be_bytes())),
            issuing_distribution_point: Some(CrlIssuingDistributionPoint {
                distribution_point: CrlDistributionPoint {
                    uris: vec![self.urls.crl.clone()],
                },
                scope: Some(CrlScope::UserCertsOnly),
            }),
            revoked_certs,
            key_identifier_method: KeyIdMethod::PreSpecified(self.subject_key_id()?),
        };
        let draft = params
            .signed_by(&self.lint_issuer)
            .map_err(|e| IssueError::Crypto(e.to_string()))?;
        let (_, parsed) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(draft.der())
                .map_err(|e| IssueError::FinalCheck(format!("CRL draft does not parse: {e}")))?;
        let violations = crate::lint::lint_crl(&parsed, &self.facts, &profile);
        if !violations.is_empty() {
            return Err(IssueError::Lint(violations));
        }
        let (tbs, algorithm) = split_signed(draft.der())
            .map_err(|e| IssueError::FinalCheck(format!("CRL draft: {e}")))?;
        if tbs != parsed.tbs_cert_list.as_ref() {
            return Err(IssueError::FinalCheck(
                "CRL draft: its to-be-signed bytes are not those linted".into(),
            ));
        }
        let signature = self.sign_checked(tbs)?;
        assemble_certificate(tbs, algorithm, &signature)
            .map_err(|e| IssueError::FinalCheck(format!("CRL encoding: {e}")))
    }

    /// The issuing CA's subjectKeyIdentifier, which its CRLs name as their
    /// authority key identifier.
    fn subject_key_id(&self) -> Result<Vec<u8>, IssueError> {
        let (_, cert) = X509Certificate::from_der(&self.issuer_der)
            .map_err(|e| IssueError::IssuerCertificate(e.to_string()))?;
        cert.extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => {
                    Some(k.0.to_vec())
                }
                _ => None,
            })
            .ok_or_else(|| IssueError::IssuerCertificate("no subjectKeyIdentifier".into()))
    }
}
