//! Revocation from CRLs the inspector fetched earlier.
//!
//! Each CRL is read twice, on purpose: rustls-webpki's parser is the strict
//! one (v2 only, nextUpdate required, no delta or indirect CRLs, no unknown
//! critical extension, signature algorithm fields must agree) and looks up
//! serials; [`header`] reads what webpki does not keep (thisUpdate, the CRL
//! number, the issuing distribution point's names and the signed bytes)
//! without parsing the entries. The first lookup in a CRL scans its entries
//! (cheapest for one certificate per process); the second builds webpki's
//! map by serial, which every later lookup uses (bulk verification).
//!
//! The signature is checked against the key of the issuer that path
//! validation found, with the profile's three algorithms only, once per
//! (CRL, issuer key) and then remembered; that is what lets bulk
//! verification check thousands of robots against one CRL at the cost of a
//! map lookup each. Which CRLs cover a certificate follows RFC 5280 and
//! webpki: same issuer name, and an issuing distribution point (if any)
//! whose scope and names include the certificate's distribution point.

mod header;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{OnceLock, RwLock};

use webpki::{BorrowedCertRevocationList, CertRevocationList, RevocationReason};
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry;
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo};

use crate::profile::KeyAlgorithm;
use crate::report::{Check, rfc3339};

/// The check's name in reports.
pub const CHECK: &str = "revocation";

/// A CRL that cannot be used at all (as opposed to one that is well formed
/// but stale or badly signed, which fails the check for the certificate).
#[derive(Debug, thiserror::Error)]
#[error("{origin}: not a usable CRL: {reason}")]
pub struct CrlError {
    /// The file.
    pub origin: String,
    /// Why, from the stricter of the two parsers.
    pub reason: String,
}

/// The signature algorithms a CRL may be signed with: those of the
/// profile, each with its own curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SignatureAlgorithm {
    EcdsaSha256,
    EcdsaSha384,
    Ed25519,
}

/// Which certificates a CRL speaks for (its issuing distribution point).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Scope {
    /// No issuing distribution point: every certificate of the issuer.
    All,
    /// Only certificates whose CRL distribution point names one of `uris`
    /// (or that name none), and of the roles given.
    Point { uris: Vec<String>, only_ca: bool },
}

/// One parsed CRL.
#[derive(Debug)]
pub struct Crl {
    origin: String,
    der: Vec<u8>,
    /// The CRL's issuer as webpki reads it (the Name's content octets).
    issuer: Vec<u8>,
    /// Set once a lookup has scanned the entries; the next builds `map`.
    scanned: AtomicBool,
    /// webpki's map of entries by serial, or why an entry is malformed.
    map: OnceLock<Result<CertRevocationList<'static>, String>>,
    issuer_name: String,
    this_update: i64,
    next_update: i64,
    number: Option<String>,
    scope: Scope,
    algorithm: Option<SignatureAlgorithm>,
    tbs: std::ops::Range<usize>,
    signature: Vec<u8>,
    /// How reports name this CRL, written once (it is in every report).
    description: String,
}

impl Crl {
    /// Parses a DER CRL; `origin` (the file) names it in messages.
    pub fn from_der(der: &[u8], origin: &str) -> Result<Self, CrlError> {
        let error = |reason: String| CrlError {
            origin: origin.to_owned(),
            reason,
        };
        // webpki's strict checks of everything but the entries.
        let borrowed =
            BorrowedCertRevocationList::from_der(der).map_err(|e| error(format!("{e:?}")))?;
        let issuer = CertRevocationList::from(borrowed).issuer().to_vec();
        let h = header::parse(der).map_err(error)?;
        let next_update = h
            .next_update
            .ok_or_else(|| error("nextUpdate is missing".into()))?;
        let (oid, has_parameters) = h.algorithm;
        let oid = x509_parser::oid_registry::Oid::new(std::borrow::Cow::Borrowed(oid.as_bytes()));
        let algorithm = if has_parameters {
            // RFC 5758 and RFC 8410: these algorithms take no parameters.
            None
        } else if oid == oid_registry::OID_SIG_ECDSA_WITH_SHA256 {
            Some(SignatureAlgorithm::EcdsaSha256)
        } else if oid == oid_registry::OID_SIG_ECDSA_WITH_SHA384 {
            Some(SignatureAlgorithm::EcdsaSha384)
        } else if oid == oid_registry::OID_SIG_ED25519 {
            Some(SignatureAlgorithm::Ed25519)
        } else {
            None
        };
        // RFC 5280 5.2.3: a conforming CRL issuer MUST include the CRL
        // number, and marks it non-critical. OpenSSL refuses a critical one
        // (error 36) and x509-limbo's CRL cases expect both refused; webpki
        // accepts either, so the rule is kept here.
        let crl_number_oid = x509_parser::oid_registry::OID_X509_EXT_CRL_NUMBER;
        let number = match h.extensions.iter().find(|e| e.oid == crl_number_oid) {
            None => {
                return Err(error(
                    "the CRLNumber extension is missing (RFC 5280 5.2.3)".into(),
                ));
            }
            Some(e) if e.critical => {
                return Err(error(
                    "the CRLNumber extension is critical; RFC 5280 5.2.3 requires it non-critical"
                        .into(),
                ));
            }
            Some(e) => match e.parsed_extension() {
                ParsedExtension::CRLNumber(n) => Some(n.to_string()),
                _ => return Err(error("the CRLNumber extension is malformed".into())),
            },
        };
        let description = format!(
            "CRL {origin}{} of {} (thisUpdate {}, nextUpdate {})",
            number
                .as_ref()
                .map(|n| format!(" number {n}"))
                .unwrap_or_default(),
            h.issuer_name,
            rfc3339(h.this_update),
            rfc3339(next_update)
        );
        let tbs_start = h.tbs.as_ptr().addr() - der.as_ptr().addr();
        Ok(Self {
            origin: origin.to_owned(),
            der: der.to_vec(),
            issuer,
            scanned: AtomicBool::new(false),
            map: OnceLock::new(),
            scope: scope(&h.extensions),
            issuer_name: h.issuer_name,
            this_update: h.this_update,
            next_update,
            number,
            description,
            algorithm,
            tbs: tbs_start..tbs_start + h.tbs.len(),
            signature: h.signature.to_vec(),
        })
    }

    /// The entry for `serial`: (reason, revocation date), if listed.
    fn find(&self, serial: &[u8]) -> Result<Option<(Option<RevocationReason>, i64)>, String> {
        let found = |e: Option<webpki::BorrowedRevokedCert<'_>>| {
            e.map(|e| {
                let date = i64::try_from(e.revocation_date.as_secs()).unwrap_or(i64::MAX);
                (e.reason_code, date)
            })
        };
        if !self.scanned.swap(true, Ordering::Relaxed) {
            let list = BorrowedCertRevocationList::from_der(&self.der)
                .map(CertRevocationList::from)
                .map_err(|e| format!("{e:?}"))?;
            return list
                .find_serial(serial)
                .map(found)
                .map_err(|e| format!("{e:?}"));
        }
        let map = self.map.get_or_init(|| {
            BorrowedCertRevocationList::from_der(&self.der)
                .and_then(|b| b.to_owned())
                .map(CertRevocationList::from)
                .map_err(|e| format!("{e:?}"))
        });
        match map {
            Ok(list) => list
                .find_serial(serial)
                .map(found)
                .map_err(|e| format!("{e:?}")),
            Err(e) => Err(e.clone()),
        }
    }

    /// The file it came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The issuer's distinguished name, for messages.
    pub fn issuer_name(&self) -> &str {
        &self.issuer_name
    }

    /// thisUpdate, seconds since the Unix epoch.
    pub fn this_update(&self) -> i64 {
        self.this_update
    }

    /// nextUpdate, seconds since the Unix epoch.
    pub fn next_update(&self) -> i64 {
        self.next_update
    }

    /// The CRL number, in decimal, if present.
    pub fn number(&self) -> Option<&str> {
        self.number.as_deref()
    }

    fn covers(&self, leaf: &LeafFacts<'_>) -> bool {
        if self.issuer != leaf.issuer {
            return false;
        }
        match &self.scope {
            Scope::All => true,
            Scope::Point { only_ca: true, .. } => false,
            Scope::Point { uris, .. } => match leaf.crl_uris {
                None => true,
                Some(leaf_uris) => leaf_uris.iter().any(|u| uris.contains(u)),
            },
        }
    }

    /// Whether `issuer_spki_der` (a whole SubjectPublicKeyInfo) signed
    /// this CRL, with a profile algorithm matching the key's curve.
    fn verify_signature(&self, issuer_spki_der: &[u8]) -> Result<(), String> {
        use ring::signature as sig;
        let spki = match SubjectPublicKeyInfo::from_der(issuer_spki_der) {
            Ok(([], spki)) => spki,
            _ => return Err("the issuer's public key cannot be parsed".into()),
        };
        let verifier: &dyn sig::VerificationAlgorithm =
            match (self.algorithm, KeyAlgorithm::of_spki(&spki)) {
                (Some(SignatureAlgorithm::EcdsaSha256), Some(KeyAlgorithm::P256)) => {
                    &sig::ECDSA_P256_SHA256_ASN1
                }
                (Some(SignatureAlgorithm::EcdsaSha384), Some(KeyAlgorithm::P384)) => {
                    &sig::ECDSA_P384_SHA384_ASN1
                }
                (Some(SignatureAlgorithm::Ed25519), Some(KeyAlgorithm::Ed25519)) => &sig::ED25519,
                (alg, key) => {
                    return Err(format!(
                        "signature algorithm {alg:?} does not fit the issuer's {} key",
                        key.map_or("unsupported", KeyAlgorithm::name)
                    ));
                }
            };
        let tbs = self.der.get(self.tbs.clone()).unwrap_or_default();
        sig::UnparsedPublicKey::new(verifier, &spki.subject_public_key.data)
            .verify(tbs, &self.signature)
            .map_err(|_| "the signature does not verify with the issuing CA's public key".into())
    }
}

/// The issuing distribution point's names and role restriction. webpki's
/// parser has already refused the forms RobotID does not support (indirect
/// CRLs, reason partitions, names relative to the issuer).
fn scope(extensions: &[x509_parser::extensions::X509Extension<'_>]) -> Scope {
    for ext in extensions {
        if let ParsedExtension::IssuingDistributionPoint(idp) = ext.parsed_extension() {
            let uris = match &idp.distribution_point {
                Some(DistributionPointName::FullName(names)) => uris(names),
                _ => Vec::new(),
            };
            return Scope::Point {
                uris,
                only_ca: idp.only_contains_ca_certs,
            };
        }
    }
    Scope::All
}

fn uris(names: &[GeneralName<'_>]) -> Vec<String> {
    names
        .iter()
        .filter_map(|n| match n {
            GeneralName::URI(u) => Some((*u).to_owned()),
            _ => None,
        })
        .collect()
}

/// The URIs of a certificate's CRL distribution points that a CRL's
/// issuing distribution point can match (full names, no CRL issuer, no
/// reasons: as webpki), or `None` if it names no distribution point.
pub fn distribution_point_uris(
    cert: &x509_parser::certificate::X509Certificate<'_>,
) -> Option<Vec<String>> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(dps) => Some(
                dps.iter()
                    .filter(|dp| dp.crl_issuer.is_none() && dp.reasons.is_none())
                    .filter_map(|dp| match &dp.distribution_point {
                        Some(DistributionPointName::FullName(names)) => Some(uris(names)),
                        _ => None,
                    })
                    .flatten()
                    .collect(),
            ),
            _ => None,
        })
}

/// What revocation needs to know of the robot's certificate.
pub struct LeafFacts<'a> {
    /// The issuer name as encoded in the certificate (webpki's form: the
    /// Name's content octets), compared byte for byte with the CRL's.
    pub issuer: &'a [u8],
    /// The serial's content octets.
    pub serial: &'a [u8],
    /// See [`distribution_point_uris`].
    pub crl_uris: Option<&'a [String]>,
}

/// What revocation needs to know of the issuer path validation found.
pub struct IssuerFacts<'a> {
    /// Its SubjectPublicKeyInfo, DER.
    pub spki_der: &'a [u8],
    /// Its name, for messages.
    pub name: &'a str,
    /// Whether its keyUsage allows cRLSign (or it has none).
    pub crl_sign: bool,
}

/// The CRLs given, the time and grace they are judged with, and the
/// signature checks already done.
pub struct Revocation {
    crls: Vec<Crl>,
    at: i64,
    grace: i64,
    /// (CRL index, issuer key) pairs whose signature was checked, with the
    /// result. A CRL's bytes and a key never change, so neither does it.
    checked: RwLock<Vec<SignatureChecked>>,
}

/// A CRL's index, an issuer key, and whether that key signed the CRL.
type SignatureChecked = (usize, Vec<u8>, Result<(), String>);

impl Revocation {
    /// Judges `crls` at `at` (seconds since the Unix epoch), accepting a CRL
    /// up to `grace` seconds past its nextUpdate.
    pub fn new(crls: Vec<Crl>, at: i64, grace: i64) -> Self {
        Self {
            crls,
            at,
            grace: grace.max(0),
            checked: RwLock::new(Vec::new()),
        }
    }

    /// Whether any CRL was given.
    pub fn is_empty(&self) -> bool {
        self.crls.is_empty()
    }

    fn signature_ok(&self, index: usize, crl: &Crl, spki: &[u8]) -> Result<(), String> {
        if let Ok(done) = self.checked.read()
            && let Some((_, _, result)) = done.iter().find(|(i, k, _)| *i == index && k == spki)
        {
            return result.clone();
        }
        let result = crl.verify_signature(spki);
        if let Ok(mut done) = self.checked.write() {
            done.push((index, spki.to_vec(), result.clone()));
        }
        result
    }

    /// The revocation check of one certificate whose path was validated.
    pub fn check(&self, leaf: &LeafFacts<'_>, issuer: &IssuerFacts<'_>) -> Check {
        if self.crls.is_empty() {
            return Check::skip(CHECK, "no CRL given (--crl)");
        }
        let candidates: Vec<(usize, &Crl)> = self
            .crls
            .iter()
            .enumerate()
            .filter(|(_, c)| c.covers(leaf))
            .collect();
        if candidates.is_empty() {
            let given = self
                .crls
                .iter()
                .map(|c| format!("{} ({})", c.origin, c.issuer_name))
                .collect::<Vec<_>>()
                .join(", ");
            return Check::fail(
                CHECK,
                "crl_missing",
                format!(
                    "status unknown: no CRL given covers this certificate of {}; given: {given}",
                    issuer.name
                ),
            );
        }
        // A CRL in the issuer's name that its key did not sign is a forgery
        // or a mix-up; either way it must not be trusted, nor ignored.
        for (index, crl) in &candidates {
            if let Err(why) = self.signature_ok(*index, crl, issuer.spki_der) {
                return Check::fail(
                    CHECK,
                    "crl_signature",
                    format!(
                        "CRL {} names {} as issuer but is not signed by its key: {why}",
                        crl.origin, issuer.name
                    ),
                );
            }
        }
        if !issuer.crl_sign {
            return Check::fail(
                CHECK,
                "crl_signer",
                format!("{} may not sign CRLs (keyUsage lacks cRLSign)", issuer.name),
            );
        }
        let Some(&(_, crl)) = candidates.iter().max_by_key(|(_, c)| c.this_update) else {
            return Check::fail(CHECK, "crl_missing", "no CRL covers this certificate");
        };
        self.status(crl, leaf)
    }

    fn status(&self, crl: &Crl, leaf: &LeafFacts<'_>) -> Check {
        let which = &crl.description;
        if crl.this_update > self.at {
            return Check::fail(
                CHECK,
                "crl_not_yet_valid",
                format!(
                    "{which} was issued after the time checked ({})",
                    rfc3339(self.at)
                ),
            );
        }
        let mut grace_note = String::new();
        if self.at >= crl.next_update {
            let late = self.at - crl.next_update;
            if late >= self.grace {
                return Check::fail(
                    CHECK,
                    "stale_crl",
                    format!(
                        "stale: {which} is {} past its nextUpdate; grace allowed {}",
                        duration(late),
                        duration(self.grace)
                    ),
                );
            }
            grace_note = format!(
                "; {} past nextUpdate, within the policy's grace of {}",
                duration(late),
                duration(self.grace)
            );
        }
        match crl.find(leaf.serial) {
            Err(e) => Check::fail(
                CHECK,
                "crl_malformed",
                format!("{which} has a malformed entry: {e}"),
            ),
            Ok(None) => Check::pass(CHECK, format!("not revoked per {which}{grace_note}")),
            Ok(Some((reason_code, date))) => {
                let since = rfc3339(date);
                match reason_code {
                    Some(RevocationReason::CertificateHold) => Check::fail(
                        CHECK,
                        "on_hold",
                        format!("on hold (certificateHold) since {since} per {which}"),
                    ),
                    reason => Check::fail(
                        CHECK,
                        "revoked",
                        format!(
                            "revoked ({}) on {since} per {which}",
                            reason_name(reason.unwrap_or(RevocationReason::Unspecified))
                        ),
                    ),
                }
            }
        }
    }
}

/// RFC 5280's name of a revocation reason.
pub fn reason_name(reason: RevocationReason) -> &'static str {
    match reason {
        RevocationReason::Unspecified => "unspecified",
        RevocationReason::KeyCompromise => "keyCompromise",
        RevocationReason::CaCompromise => "cACompromise",
        RevocationReason::AffiliationChanged => "affiliationChanged",
        RevocationReason::Superseded => "superseded",
        RevocationReason::CessationOfOperation => "cessationOfOperation",
        RevocationReason::CertificateHold => "certificateHold",
        RevocationReason::RemoveFromCrl => "removeFromCRL",
        RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        RevocationReason::AaCompromise => "aACompromise",
    }
}

/// A duration in seconds, as an inspector reads it.
fn duration(seconds: i64) -> String {
    match seconds {
        s if s >= 3 * 86_400 => format!("{}d{}h", s / 86_400, (s % 86_400) / 3_600),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s >= 3_600 => format!("{}h{:02}m", s / 3_600, (s % 3_600) / 60),
        s => format!("{s}s"),
    }
}
