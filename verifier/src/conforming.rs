//! A strict reader for robot certificates that meet every rule of the
//! profile, fast enough to sit beside one signature check.
//!
//! The profile rules ([`crate::profile::analyse`]) run on x509-parser's full
//! parse, which builds every structure of the certificate and names each
//! broken rule; for a conforming certificate that costs as much as a third
//! of the signature check. [`read`] walks the DER once with `der`'s reader
//! (no hand-written tag or length code) and accepts only the exact shapes a
//! conforming RobotID certificate has: the extensions of the profile, each
//! once and in its one encoding, the subject's four attributes as
//! PrintableString or UTF8String, a P-256, P-384 or Ed25519 key. It then
//! applies the same rules as the profile. Anything else — a broken rule, an
//! unusual but legal encoding, an extension it does not know — gives `None`,
//! and the caller runs the full profile analysis, which reports what is
//! wrong. So `read` decides nothing on its own: it only answers "conforms"
//! for certificates the full analysis also finds conforming (with the same
//! identity, robot ID, key algorithm, CRL distribution points and
//! policies), which `tests/conforming.rs` checks on every single-byte
//! change of real certificates.

use der::asn1::{
    AnyRef, BitStringRef, GeneralizedTime, ObjectIdentifier, OctetStringRef, PrintableStringRef,
    UtcTime, Utf8StringRef,
};
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};

use crate::identity::RobotIdentity;
use crate::oid;
use crate::profile::{KeyAlgorithm, MIN_SERIAL_BYTES};
use crate::robot_id::RobotId;

/// What a conforming robot certificate says, as the inspector reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conforming<'a> {
    /// The decoded `RobotIdentity`.
    pub identity: RobotIdentity,
    /// The robot ID, checked.
    pub robot_id: RobotId,
    /// The robot's key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// The serial's content octets.
    pub serial: &'a [u8],
    /// The issuer's Name, DER.
    pub issuer: &'a [u8],
    /// notBefore, seconds since the Unix epoch.
    pub not_before: i64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
    /// The whole SubjectPublicKeyInfo, DER.
    pub spki: &'a [u8],
    /// The URIs of the CRL distribution points (full names).
    pub crl_uris: Vec<String>,
    /// The certificate policies asserted.
    pub policies: Vec<ObjectIdentifier>,
}

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

const AT_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const AT_COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const AT_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");

const CE_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const CE_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const CE_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const CE_CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const CE_AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// The extensions a conforming certificate may carry, each at most once.
const KNOWN_EXTENSIONS: [ObjectIdentifier; 10] = [
    oid::ID_PE_ROBOT_IDENTITY,
    CE_KEY_USAGE,
    CE_EXT_KEY_USAGE,
    CE_SUBJECT_ALT_NAME,
    oid::ID_CE_CERTIFICATE_POLICIES,
    oid::ID_PE_AUTHORITY_INFO_ACCESS,
    CE_CRL_DISTRIBUTION_POINTS,
    CE_AUTHORITY_KEY_ID,
    CE_SUBJECT_KEY_ID,
    CE_BASIC_CONSTRAINTS,
];

/// `[0] EXPLICIT Version` holding v3 (2), as DER writes it.
const VERSION_3: [u8; 5] = [0xA0, 0x03, 0x02, 0x01, 0x02];
/// keyUsage with exactly digitalSignature, as DER writes it.
const DIGITAL_SIGNATURE_ONLY: [u8; 4] = [0x03, 0x02, 0x07, 0x80];
/// basicConstraints with cA FALSE (the default, so an empty SEQUENCE).
const NOT_A_CA: [u8; 2] = [0x30, 0x00];
const ROBOT_URI_PREFIX: &str = "urn:robotid:";

const fn context(number: TagNumber, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number,
    }
}

const URI: Tag = context(TagNumber::N6, false);

/// The certificate's facts if `der` is a robot certificate that meets
/// every rule of the profile; `None` otherwise (run the full analysis).
pub fn read(der: &[u8]) -> Option<Conforming<'_>> {
    let mut cert = SliceReader::new(sequence(AnyRef::from_der(der).ok()?)?).ok()?;
    let tbs = sequence(AnyRef::decode(&mut cert).ok()?)?;
    let algorithm = cert.tlv_bytes().ok()?;
    BitStringRef::decode(&mut cert).ok()?.as_bytes()?;
    done(&cert)?;
    signature_algorithm(algorithm)?;

    let mut t = SliceReader::new(tbs).ok()?;
    if t.tlv_bytes().ok()? != VERSION_3 {
        return None;
    }
    let serial = AnyRef::decode(&mut t).ok()?;
    if serial.tag() != Tag::Integer {
        return None;
    }
    let serial = serial.value();
    if t.tlv_bytes().ok()? != algorithm {
        return None;
    }
    let issuer = t.tlv_bytes().ok()?;
    name(AnyRef::from_der(issuer).ok()?, |_, _| Some(()))?;
    let mut validity = SliceReader::new(sequence(AnyRef::decode(&mut t).ok()?)?).ok()?;
    let not_before = time(&mut validity)?;
    let not_after = time(&mut validity)?;
    done(&validity)?;
    let subject = Subject::read(AnyRef::decode(&mut t).ok()?)?;
    let spki = t.tlv_bytes().ok()?;
    let key_algorithm = key_algorithm(spki)?;
    let extensions = AnyRef::decode(&mut t).ok()?;
    done(&t)?;
    if extensions.tag() != context(TagNumber::N3, true) {
        return None;
    }
    let ext = Extensions::read(extensions.value())?;

    // The profile's rules, as crate::profile applies them.
    let identity = RobotIdentity::from_der(ext.identity?).ok()?;
    let robot_id = RobotId::parse(&identity.robot_id).ok()?;
    let serial_ok = (MIN_SERIAL_BYTES..=20).contains(&serial.len())
        && serial.first().is_some_and(|b| b & 0x80 == 0);
    let names_ok = robot_id.manufacturer_code() == identity.manufacturer.code
        && robot_id.model() == identity.model
        && subject.common_name == Some(identity.robot_id.as_str())
        && subject.serial_number == Some(identity.robot_id.as_str())
        && subject.organization == Some(identity.manufacturer.name.as_str())
        && subject.country == Some(identity.manufacturer.country.as_str())
        && ext.san_uri.and_then(|u| u.strip_prefix(ROBOT_URI_PREFIX))
            == Some(identity.robot_id.as_str());
    let market_entry = oid::ID_CP_MARKET_ENTRY_V1;
    let extensions_ok = ext.key_usage
        && ext.extended_key_usage
        && ext.authority_key_id
        && ext.aia_ocsp
        && ext.aia_ca_issuers
        && ext.crl_uris.iter().any(|u| u.starts_with("http://"))
        && ext.policies.contains(&market_entry);
    // The production-date rule the profile checks against notBefore.
    let dated_ok =
        crate::identity::check_production_date_at(&identity.production_date, not_before).is_ok();
    if !(serial_ok && names_ok && extensions_ok && dated_ok && not_before < not_after) {
        return None;
    }
    Some(Conforming {
        identity,
        robot_id,
        key_algorithm,
        serial,
        issuer,
        not_before,
        not_after,
        spki,
        crl_uris: ext.crl_uris,
        policies: ext.policies,
    })
}

fn done(r: &SliceReader<'_>) -> Option<()> {
    r.is_finished().then_some(())
}

fn sequence(any: AnyRef<'_>) -> Option<&[u8]> {
    (any.tag() == Tag::Sequence).then(|| any.value())
}

/// Calls `f` on each element of a SEQUENCE OF or SET OF (its content).
fn each<'a>(content: &'a [u8], mut f: impl FnMut(AnyRef<'a>) -> Option<()>) -> Option<()> {
    let mut r = SliceReader::new(content).ok()?;
    while !r.is_finished() {
        f(AnyRef::decode(&mut r).ok()?)?;
    }
    Some(())
}

/// An OBJECT IDENTIFIER's content octets. They are compared with known
/// OIDs byte for byte (a known OID is well formed, so equal bytes are too);
/// one that matches none is checked with `const_oid` where it is kept.
fn oid(any: AnyRef<'_>) -> Option<&[u8]> {
    (any.tag() == Tag::ObjectIdentifier).then(|| any.value())
}

fn read_oid<'a>(r: &mut SliceReader<'a>) -> Option<&'a [u8]> {
    oid(AnyRef::decode(r).ok()?)
}

fn is(bytes: &[u8], known: &ObjectIdentifier) -> bool {
    bytes == known.as_bytes()
}

/// A URI GeneralName (`[6] IA5String`), ASCII.
fn uri(any: AnyRef<'_>) -> Option<&str> {
    if any.tag() != URI || !any.value().is_ascii() {
        return None;
    }
    std::str::from_utf8(any.value()).ok()
}

fn signature_algorithm(tlv: &[u8]) -> Option<()> {
    let mut r = SliceReader::new(sequence(AnyRef::from_der(tlv).ok()?)?).ok()?;
    let algorithm = read_oid(&mut r)?;
    done(&r)?;
    [ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, ED25519]
        .iter()
        .any(|known| is(algorithm, known))
        .then_some(())
}

fn time(r: &mut SliceReader<'_>) -> Option<i64> {
    let t = match r.peek_tag().ok()? {
        Tag::UtcTime => UtcTime::decode(r).ok()?.to_unix_duration(),
        Tag::GeneralizedTime => GeneralizedTime::decode(r).ok()?.to_unix_duration(),
        _ => return None,
    };
    i64::try_from(t.as_secs()).ok()
}

/// The attribute types the profile names in a subject.
const NAME_ATTRIBUTES: [ObjectIdentifier; 4] = [
    AT_COMMON_NAME,
    oid::ID_AT_SERIAL_NUMBER,
    AT_ORGANIZATION,
    AT_COUNTRY,
];

/// Walks a Name (SEQUENCE OF non-empty SET OF AttributeTypeAndValue),
/// calling `f` with each attribute's type (an index into
/// [`NAME_ATTRIBUTES`], or `None` for another, well-formed type) and value.
fn name<'a>(
    tlv: AnyRef<'a>,
    mut f: impl FnMut(Option<usize>, AnyRef<'a>) -> Option<()>,
) -> Option<()> {
    each(sequence(tlv)?, |rdn| {
        if rdn.tag() != Tag::Set || rdn.value().is_empty() {
            return None;
        }
        each(rdn.value(), |attribute| {
            let mut a = SliceReader::new(sequence(attribute)?).ok()?;
            let kind = read_oid(&mut a)?;
            let value = AnyRef::decode(&mut a).ok()?;
            done(&a)?;
            let known = NAME_ATTRIBUTES.iter().position(|k| is(kind, k));
            if known.is_none() {
                ObjectIdentifier::from_bytes(kind).ok()?;
            }
            f(known, value)
        })
    })
}

/// The subject attributes the profile names, each if present exactly once.
#[derive(Default)]
struct Subject<'a> {
    common_name: Option<&'a str>,
    serial_number: Option<&'a str>,
    organization: Option<&'a str>,
    country: Option<&'a str>,
}

impl<'a> Subject<'a> {
    fn read(tlv: AnyRef<'a>) -> Option<Self> {
        let mut s = Subject::default();
        name(tlv, |kind, value| {
            let slot = match kind {
                Some(0) => &mut s.common_name,
                Some(1) => &mut s.serial_number,
                Some(2) => &mut s.organization,
                Some(3) => &mut s.country,
                _ => return Some(()),
            };
            if slot.is_some() {
                return None;
            }
            *slot = Some(match value.tag() {
                Tag::PrintableString => PrintableStringRef::new(value.value()).ok()?.as_str(),
                Tag::Utf8String => Utf8StringRef::new(value.value()).ok()?.as_str(),
                _ => return None,
            });
            Some(())
        })?;
        Some(s)
    }
}

fn key_algorithm(spki: &[u8]) -> Option<KeyAlgorithm> {
    let mut r = SliceReader::new(sequence(AnyRef::from_der(spki).ok()?)?).ok()?;
    let mut alg = SliceReader::new(sequence(AnyRef::decode(&mut r).ok()?)?).ok()?;
    BitStringRef::decode(&mut r).ok()?.as_bytes()?;
    done(&r)?;
    let algorithm = read_oid(&mut alg)?;
    let found = if is(algorithm, &ED25519) {
        KeyAlgorithm::Ed25519
    } else if is(algorithm, &EC_PUBLIC_KEY) {
        match read_oid(&mut alg)? {
            c if is(c, &P256) => KeyAlgorithm::P256,
            c if is(c, &P384) => KeyAlgorithm::P384,
            _ => return None,
        }
    } else {
        return None;
    };
    done(&alg)?;
    Some(found)
}

/// What the extensions say, read in one pass.
#[derive(Default)]
struct Extensions<'a> {
    identity: Option<&'a [u8]>,
    san_uri: Option<&'a str>,
    key_usage: bool,
    extended_key_usage: bool,
    authority_key_id: bool,
    aia_ocsp: bool,
    aia_ca_issuers: bool,
    crl_uris: Vec<String>,
    policies: Vec<ObjectIdentifier>,
}

impl<'a> Extensions<'a> {
    /// `[3] EXPLICIT Extensions`' content.
    fn read(explicit: &'a [u8]) -> Option<Self> {
        let mut out = Extensions::default();
        let mut seen = [false; KNOWN_EXTENSIONS.len()];
        let list = sequence(AnyRef::from_der(explicit).ok()?)?;
        if list.is_empty() {
            return None;
        }
        each(list, |extension| {
            let mut e = SliceReader::new(sequence(extension)?).ok()?;
            let id = read_oid(&mut e)?;
            // DER leaves out critical FALSE; only keyUsage is critical.
            let critical = e.peek_tag().ok()? == Tag::Boolean;
            if critical && !bool::decode(&mut e).ok()? {
                return None;
            }
            let value = OctetStringRef::decode(&mut e).ok()?.as_bytes();
            done(&e)?;
            let index = KNOWN_EXTENSIONS.iter().position(|k| is(id, k))?;
            let first = seen.get_mut(index)?;
            if *first || critical != is(id, &CE_KEY_USAGE) {
                return None;
            }
            *first = true;
            out.extension(id, value)
        })?;
        Some(out)
    }

    fn extension(&mut self, id: &[u8], value: &'a [u8]) -> Option<()> {
        match id {
            i if is(i, &oid::ID_PE_ROBOT_IDENTITY) => self.identity = Some(value),
            i if is(i, &CE_KEY_USAGE) => self.key_usage = value == DIGITAL_SIGNATURE_ONLY,
            i if is(i, &CE_EXT_KEY_USAGE) => self.extended_key_usage = extended_key_usage(value)?,
            i if is(i, &CE_SUBJECT_ALT_NAME) => {
                let mut names = SliceReader::new(sequence(AnyRef::from_der(value).ok()?)?).ok()?;
                self.san_uri = Some(uri(AnyRef::decode(&mut names).ok()?)?);
                done(&names)?;
            }
            i if is(i, &oid::ID_CE_CERTIFICATE_POLICIES) => self.policies(value)?,
            i if is(i, &oid::ID_PE_AUTHORITY_INFO_ACCESS) => self.authority_info_access(value)?,
            i if is(i, &CE_CRL_DISTRIBUTION_POINTS) => self.crl_distribution_points(value)?,
            i if is(i, &CE_AUTHORITY_KEY_ID) => {
                // Only a keyIdentifier ([0] IMPLICIT OCTET STRING).
                let mut aki = SliceReader::new(sequence(AnyRef::from_der(value).ok()?)?).ok()?;
                let key_id = AnyRef::decode(&mut aki).ok()?;
                done(&aki)?;
                self.authority_key_id = key_id.tag() == context(TagNumber::N0, false);
            }
            i if is(i, &CE_SUBJECT_KEY_ID) => {
                OctetStringRef::from_der(value).ok()?;
            }
            i if is(i, &CE_BASIC_CONSTRAINTS) => {
                if value != NOT_A_CA {
                    return None;
                }
            }
            _ => return None,
        }
        Some(())
    }

    /// Each PolicyInformation only its OID (no qualifiers), none twice.
    fn policies(&mut self, value: &[u8]) -> Option<()> {
        each(sequence(AnyRef::from_der(value).ok()?)?, |info| {
            let mut p = SliceReader::new(sequence(info)?).ok()?;
            let policy = ObjectIdentifier::from_bytes(read_oid(&mut p)?).ok()?;
            done(&p)?;
            if self.policies.contains(&policy) {
                return None;
            }
            self.policies.push(policy);
            Some(())
        })
    }

    /// Only OCSP and caIssuers, each location a URI.
    fn authority_info_access(&mut self, value: &[u8]) -> Option<()> {
        each(sequence(AnyRef::from_der(value).ok()?)?, |description| {
            let mut d = SliceReader::new(sequence(description)?).ok()?;
            let method = read_oid(&mut d)?;
            let location = uri(AnyRef::decode(&mut d).ok()?)?;
            done(&d)?;
            let http = location.starts_with("http://");
            if is(method, &AD_OCSP) {
                self.aia_ocsp |= http;
            } else if is(method, &AD_CA_ISSUERS) {
                self.aia_ca_issuers |= http;
            } else {
                return None;
            }
            Some(())
        })
    }

    /// Each DistributionPoint only a full name of URIs (no reasons, no
    /// CRL issuer).
    fn crl_distribution_points(&mut self, value: &[u8]) -> Option<()> {
        each(sequence(AnyRef::from_der(value).ok()?)?, |point| {
            let mut p = SliceReader::new(sequence(point)?).ok()?;
            let name = AnyRef::decode(&mut p).ok()?;
            done(&p)?;
            if name.tag() != context(TagNumber::N0, true) {
                return None;
            }
            let full = AnyRef::from_der(name.value()).ok()?;
            if full.tag() != context(TagNumber::N0, true) || full.value().is_empty() {
                return None;
            }
            each(full.value(), |n| {
                self.crl_uris.push(uri(n)?.to_owned());
                Some(())
            })
        })
    }
}

fn extended_key_usage(value: &[u8]) -> Option<bool> {
    let (mut client_auth, mut robot) = (false, false);
    each(sequence(AnyRef::from_der(value).ok()?)?, |purpose| {
        let slot = match oid(purpose)? {
            p if is(p, &oid::ID_KP_CLIENT_AUTH) => &mut client_auth,
            p if is(p, &oid::ID_KP_ROBOT_IDENTITY) => &mut robot,
            _ => return None,
        };
        if *slot {
            return None;
        }
        *slot = true;
        Some(())
    })?;
    Some(client_auth && robot)
}
