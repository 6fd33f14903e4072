//! Path validation with rustls-webpki, and the issuing CAs it proved, kept
//! so that later certificates cost one signature check (see the parent
//! module for why that is safe).

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, TrustAnchor};
use webpki::{EndEntityCert, anchor_from_trusted_cert};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{Inspector, key_usage, unix};
use crate::chain::SIGNATURE_ALGORITHMS;
use crate::report::{Check, rfc3339};

/// An issuing CA found on a validated path.
pub(super) struct Issuer {
    pub(super) der: CertificateDer<'static>,
    /// Its subject in webpki's form, compared with a robot's issuer.
    pub(super) subject: Vec<u8>,
    /// Set when the CA may stand in for its path (see the module docs).
    pub(super) as_anchor: Option<TrustAnchor<'static>>,
    pub(super) name: String,
    pub(super) spki_der: Vec<u8>,
    pub(super) crl_sign: bool,
    /// The chain check's reason, written once.
    pub(super) reason: String,
}

impl Inspector {
    /// Path validation. A certificate outside its validity is still checked
    /// for a path, at the nearest instant it was valid, so that the report
    /// tells a genuine expired robot from a forged one (the validity check
    /// fails it either way).
    pub(super) fn chain(
        &self,
        ee: &EndEntityCert<'_>,
        not_before: i64,
        not_after: i64,
        extra: &[CertificateDer<'_>],
    ) -> (Check, Option<Arc<Issuer>>) {
        const NAME: &str = "chain";
        let in_validity = (not_before..=not_after).contains(&self.at);
        let time = self.at.clamp(not_before, not_after.max(not_before));
        if in_validity
            && self.use_cache
            && let Some(issuer) = self.cached_issuer(ee)
        {
            return (Check::pass(NAME, issuer.reason.clone()), Some(issuer));
        }
        if in_validity
            && self.use_cache
            && let Some(issuer) = self.persisted_issuer(ee, extra)
        {
            return (Check::pass(NAME, issuer.reason.clone()), Some(issuer));
        }
        let joined: Vec<CertificateDer<'_>>;
        let intermediates: &[CertificateDer<'_>] = if extra.is_empty() {
            &self.intermediates
        } else {
            joined = self.intermediates.iter().chain(extra).cloned().collect();
            &joined
        };
        let path = ee.verify_for_usage(
            SIGNATURE_ALGORITHMS,
            &self.anchors,
            intermediates,
            unix(time),
            key_usage(),
            None,
            None,
        );
        match path {
            Ok(path) => {
                let anchor = path.anchor();
                let anchor_index = self.anchors.iter().position(|a| {
                    a.subject == anchor.subject
                        && a.subject_public_key_info == anchor.subject_public_key_info
                });
                let anchor_name = anchor_index
                    .and_then(|i| self.anchor_names.get(i))
                    .cloned()
                    .unwrap_or_default();
                // webpki treats an anchor as a name and a key, never looking
                // at its validity; RFC 5280 leaves that to the relying
                // party, and OpenSSL, Go and x509-limbo's `expired-root`
                // refuse an expired one, as RobotID does.
                if let Some(der) = anchor_index.and_then(|i| self.anchors_der.get(i))
                    && !valid_at(der, time)
                {
                    return (
                        Check::fail(
                            NAME,
                            "ca_validity",
                            format!(
                                "the trust anchor {anchor_name} is outside its validity at {}",
                                rfc3339(time)
                            ),
                        ),
                        None,
                    );
                }
                for ca in path.intermediate_certificates() {
                    if let Err(reason) = crate::chain::issuing_ca_conforms(&ca.der()) {
                        return (Check::fail(NAME, "ca_profile", reason), None);
                    }
                }
                let mut inters = path.intermediate_certificates();
                let issuer_der = match inters.next() {
                    Some(c) => c.der().into_owned(),
                    None => match anchor_index.and_then(|i| self.anchors_der.get(i)) {
                        Some(d) => d.clone(),
                        None => return (Check::pass(NAME, "path to a trust anchor"), None),
                    },
                };
                // Cacheable: anchor -> CA -> robot, at the inspector's time,
                // and no name constraints anywhere above the robot.
                let cacheable = in_validity
                    && anchor_index.is_some_and(|i| self.anchors_der.get(i) != Some(&issuer_der))
                    && inters.next().is_none()
                    && anchor.name_constraints.is_none();
                let mut issuer = match issuer_facts(issuer_der, &anchor_name) {
                    Some(i) => i,
                    None => return (Check::pass(NAME, "path to a trust anchor"), None),
                };
                if !in_validity {
                    issuer.reason.push_str(&format!(
                        " (checked at {}, the nearest time the certificate was valid)",
                        rfc3339(time)
                    ));
                }
                let issuer = Arc::new(issuer);
                if cacheable && self.use_cache && issuer.as_anchor.is_some() {
                    if let Ok(mut cache) = self.issuers.write()
                        && !cache.iter().any(|c| c.der == issuer.der)
                    {
                        cache.push(issuer.clone());
                    }
                    if let (Some(persistent), Some(anchor_der)) = (
                        &self.persistent,
                        anchor_index.and_then(|i| self.anchors_der.get(i)),
                    ) && !persistent.proved(anchor_der, &issuer.der)
                    {
                        // A cache that cannot be written costs only speed.
                        let _ = persistent.record(anchor_der, &issuer.der);
                    }
                }
                (Check::pass(NAME, issuer.reason.clone()), Some(issuer))
            }
            Err(e) => {
                let (code, reason) = chain_failure(&e);
                (Check::fail(NAME, code, reason), None)
            }
        }
    }

    fn cached_issuer(&self, ee: &EndEntityCert<'_>) -> Option<Arc<Issuer>> {
        let cache = self.issuers.read().ok()?;
        cache
            .iter()
            .filter(|i| i.subject == ee.issuer())
            .find(|i| self.issued_by(ee, i))
            .cloned()
    }

    /// Whether `issuer`, standing in as the anchor, validates `ee` at the
    /// inspector's time for the robot-identity key purpose.
    fn issued_by(&self, ee: &EndEntityCert<'_>, issuer: &Issuer) -> bool {
        issuer.as_anchor.as_ref().is_some_and(|anchor| {
            ee.verify_for_usage(
                SIGNATURE_ALGORITHMS,
                std::slice::from_ref(anchor),
                &[],
                unix(self.at),
                key_usage(),
                None,
                None,
            )
            .is_ok()
        })
    }

    /// An issuing CA of `ee` that the persistent cache says was proved
    /// under one of the anchors, valid at the inspector's time, and whose
    /// key verifies `ee` (webpki, with the CA standing in as the anchor).
    fn persisted_issuer(
        &self,
        ee: &EndEntityCert<'_>,
        extra: &[CertificateDer<'_>],
    ) -> Option<Arc<Issuer>> {
        let persistent = self.persistent.as_ref()?;
        for ca in self.intermediates.iter().chain(extra) {
            let Ok(candidate) = EndEntityCert::try_from(ca) else {
                continue;
            };
            if candidate.subject() != ee.issuer() {
                continue;
            }
            let Some(anchor_index) = self
                .anchors_der
                .iter()
                .position(|anchor| persistent.proved(anchor, ca) && valid_at(anchor, self.at))
            else {
                continue;
            };
            let anchor_name = self
                .anchor_names
                .get(anchor_index)
                .cloned()
                .unwrap_or_default();
            let Some(mut issuer) = issuer_facts(ca.clone().into_owned(), &anchor_name) else {
                continue;
            };
            issuer
                .reason
                .push_str(" (the CA's own path proved in an earlier run: --cache)");
            if self.issued_by(ee, &issuer) && valid_at(&issuer.der, self.at) {
                let issuer = Arc::new(issuer);
                if let Ok(mut cache) = self.issuers.write() {
                    cache.push(issuer.clone());
                }
                return Some(issuer);
            }
        }
        None
    }
}

/// Whether the CA certificate `der` is within its validity at `at`: the
/// one fact about the CA that a cache entry cannot vouch for.
fn valid_at(der: &[u8], at: i64) -> bool {
    X509Certificate::from_der(der).is_ok_and(|(_, c)| {
        let v = c.validity();
        (v.not_before.timestamp()..=v.not_after.timestamp()).contains(&at)
    })
}

fn issuer_facts(der: CertificateDer<'static>, anchor_name: &str) -> Option<Issuer> {
    let (_, cert) = X509Certificate::from_der(&der).ok()?;
    let subject = {
        let wcert = EndEntityCert::try_from(&der).ok()?;
        wcert.subject().to_vec()
    };
    let crl_sign = match cert.key_usage() {
        Ok(Some(ku)) => ku.value.crl_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    let name = cert.subject().to_string();
    let as_anchor = anchor_from_trusted_cert(&der)
        .ok()
        .filter(|a| a.name_constraints.is_none())
        .map(|a| a.to_owned());
    Some(Issuer {
        reason: format!(
            "path to trust anchor {anchor_name} via {name}, for key purpose robot identity"
        ),
        subject,
        as_anchor,
        spki_der: cert.public_key().raw.to_vec(),
        crl_sign,
        name,
        der,
    })
}

fn chain_failure(e: &webpki::Error) -> (&'static str, String) {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => (
            "unknown_issuer",
            "no path to a trust anchor: the issuer is neither an anchor nor among the intermediates given (wrong anchor, or --chain missing)".into(),
        ),
        E::InvalidSignatureForPublicKey => (
            "bad_signature",
            "a signature on the path does not verify: the certificate was altered, or its issuer's key did not sign it".into(),
        ),
        E::RequiredEkuNotFoundContext(_) => (
            "key_purpose",
            "the robot-identity key purpose is missing from the certificate or a CA above it".into(),
        ),
        E::CertExpired { .. } | E::CertNotValidYet { .. } => (
            "ca_validity",
            format!("a CA certificate on the path is outside its validity: {e:?}"),
        ),
        E::CaUsedAsEndEntity => (
            "not_end_entity",
            "the certificate is a CA certificate, not a robot's".into(),
        ),
        other => ("path", format!("no valid path to a trust anchor: {other:?}")),
    }
}
