//! A CRL's header: everything but its list of revoked certificates.
//!
//! Parsing every entry of a large CRL costs milliseconds (a 10,000-entry CRL
//! takes about 18 ms in x509-parser), which one-certificate-per-process use
//! pays on every run. So the structure is walked with `der`'s reader (no
//! hand-written tag or length code), the entries are skipped as one TLV, and
//! only the small parts are handed to x509-parser: the issuer's name and
//! each extension. Strict validation of the whole CRL, entries included,
//! stays with rustls-webpki (see the parent module).

use der::asn1::{AnyRef, BitStringRef, GeneralizedTime, UtcTime};
use der::{Decode, Reader, SliceReader, Tag, TagNumber};
use x509_parser::extensions::{ParsedExtension, X509Extension};
use x509_parser::prelude::{FromDer, X509Name};

/// The parts of a CRL the revocation check reads, besides its entries.
#[derive(Debug)]
pub(super) struct Header<'a> {
    /// The DER of tbsCertList, the signed bytes.
    pub tbs: &'a [u8],
    /// The outer signatureAlgorithm's OID and whether it has parameters.
    pub algorithm: (der::asn1::ObjectIdentifier, bool),
    /// The signature's bytes.
    pub signature: &'a [u8],
    /// The issuer's name, for messages.
    pub issuer_name: String,
    /// thisUpdate, seconds since the Unix epoch.
    pub this_update: i64,
    /// nextUpdate, seconds since the Unix epoch, if present.
    pub next_update: Option<i64>,
    /// The CRL's extensions, parsed by x509-parser.
    pub extensions: Vec<X509Extension<'a>>,
}

/// RFC 5280 AlgorithmIdentifier, parameters kept unparsed.
#[derive(der::Sequence)]
struct AlgorithmIdentifier<'a> {
    algorithm: der::asn1::ObjectIdentifier,
    parameters: Option<AnyRef<'a>>,
}

fn time<'r, R: Reader<'r>>(r: &mut R) -> der::Result<i64> {
    let t = match r.peek_tag()? {
        Tag::UtcTime => UtcTime::decode(r)?.to_unix_duration(),
        _ => GeneralizedTime::decode(r)?.to_unix_duration(),
    };
    Ok(i64::try_from(t.as_secs()).unwrap_or(i64::MAX))
}

/// Reads `der` (a whole CertificateList) without parsing its entries.
pub(super) fn parse(der: &[u8]) -> Result<Header<'_>, String> {
    let mut outer = SliceReader::new(der).map_err(|e| e.to_string())?;
    let (tbs, algorithm, signature) = outer
        .sequence(|r| {
            let tbs = r.tlv_bytes()?;
            let algorithm = AlgorithmIdentifier::decode(r)?;
            let signature = BitStringRef::decode(r)?;
            Ok((tbs, algorithm, signature))
        })
        .map_err(|e| format!("CertificateList: {e}"))?;
    outer
        .finish(())
        .map_err(|e| format!("trailing data: {e}"))?;
    let signature = signature
        .as_bytes()
        .ok_or("signatureValue has unused bits")?;
    let (issuer, this_update, next_update, extensions) = SliceReader::new(tbs)
        .and_then(|mut r| {
            r.sequence(|r| {
                // version (v2 only; webpki has refused anything else)
                if r.peek_tag()? == Tag::Integer {
                    u8::decode(r)?;
                }
                AnyRef::decode(r)?; // signature, equal to the outer one (webpki checks)
                let issuer = r.tlv_bytes()?;
                let this_update = time(r)?;
                let next_update = match r.peek_tag() {
                    Ok(Tag::UtcTime | Tag::GeneralizedTime) => Some(time(r)?),
                    _ => None,
                };
                if !r.is_finished() && r.peek_tag()? == Tag::Sequence {
                    r.tlv_bytes()?; // revokedCertificates: left to webpki, on demand
                }
                let extensions = if r.is_finished() {
                    None
                } else {
                    let explicit = r.tlv_bytes()?;
                    let tag = Tag::ContextSpecific {
                        constructed: true,
                        number: TagNumber::N0,
                    };
                    Some((tag, explicit))
                };
                Ok((issuer, this_update, next_update, extensions))
            })
        })
        .map_err(|e| format!("tbsCertList: {e}"))?;
    let issuer_name = match X509Name::from_der(issuer) {
        Ok((_, name)) => name.to_string(),
        Err(e) => return Err(format!("issuer: {e}")),
    };
    let extensions = match extensions {
        None => Vec::new(),
        Some((tag, explicit)) => crl_extensions(explicit, tag)?,
    };
    Ok(Header {
        tbs,
        algorithm: (algorithm.algorithm, algorithm.parameters.is_some()),
        signature,
        issuer_name,
        this_update,
        next_update,
        extensions,
    })
}

/// `[0] EXPLICIT SEQUENCE OF Extension`, each parsed by x509-parser.
fn crl_extensions<'a>(explicit: &'a [u8], tag: Tag) -> Result<Vec<X509Extension<'a>>, String> {
    let mut r = SliceReader::new(explicit).map_err(|e| e.to_string())?;
    let header = der::Header::decode(&mut r).map_err(|e| e.to_string())?;
    if header.tag != tag {
        return Err(format!("crlExtensions: unexpected tag {}", header.tag));
    }
    let list = r
        .sequence(|seq| {
            let mut items = Vec::new();
            while !seq.is_finished() {
                items.push(seq.tlv_bytes()?);
            }
            Ok(items)
        })
        .map_err(|e| format!("crlExtensions: {e}"))?;
    list.into_iter()
        .map(|tlv| match X509Extension::from_der(tlv) {
            Ok(([], ext)) => match ext.parsed_extension() {
                ParsedExtension::ParseError { error } => {
                    Err(format!("extension {}: {error}", ext.oid))
                }
                _ => Ok(ext),
            },
            Ok(_) => Err("trailing data after an extension".into()),
            Err(e) => Err(format!("extension: {e}")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
        CrlIssuingDistributionPoint, IsCa, Issuer, KeyIdMethod, KeyPair, RevokedCertParams,
        SerialNumber,
    };
    use x509_parser::revocation_list::CertificateRevocationList;

    fn crl(entries: usize, idp: bool) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Header Test CA");
        let issuer = Issuer::new(ca, key);
        let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        CertificateRevocationListParams {
            this_update: now,
            next_update: now + time::Duration::days(1),
            crl_number: SerialNumber::from(42u64),
            issuing_distribution_point: idp.then(|| CrlIssuingDistributionPoint {
                distribution_point: CrlDistributionPoint {
                    uris: vec!["http://example.test/crl/1.crl".into()],
                },
                scope: None,
            }),
            revoked_certs: (0..entries)
                .map(|i| RevokedCertParams {
                    serial_number: SerialNumber::from(u64::try_from(i + 1).unwrap()),
                    revocation_time: now,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&issuer)
        .unwrap()
        .der()
        .to_vec()
    }

    #[test]
    fn reads_what_x509_parser_reads_without_the_entries() {
        for (entries, idp) in [(0, false), (3, true), (500, true)] {
            let der = crl(entries, idp);
            let h = parse(&der).unwrap();
            let (_, full) = CertificateRevocationList::from_der(&der).unwrap();
            assert_eq!(h.tbs, full.tbs_cert_list.as_ref());
            assert_eq!(h.signature, full.signature_value.data.as_ref());
            assert_eq!(h.issuer_name, full.issuer().to_string());
            assert_eq!(h.this_update, full.last_update().timestamp());
            assert_eq!(h.next_update, full.next_update().map(|t| t.timestamp()));
            assert_eq!(h.extensions.len(), full.extensions().len());
            assert!(!h.algorithm.1);
        }
    }

    #[test]
    fn refuses_trailing_data_and_garbage() {
        let mut der = crl(1, false);
        der.push(0);
        assert!(parse(&der).unwrap_err().contains("trailing data"));
        assert!(parse(b"\x30\x03\x02\x01\x01").is_err());
    }
}
