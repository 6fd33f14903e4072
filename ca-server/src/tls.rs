//! TLS for the API port: rustls with the ring provider, client certificates
//! requested and validated against the CA's trust anchor.
//!
//! A connection without a certificate, or with an expired one, is let
//! through the handshake so the API can answer with a 401 problem document
//! that says why, instead of a bare TLS alert. Every other failure (unknown
//! issuer, bad signature, wrong key purpose) still ends the handshake.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};
use x509_parser::prelude::{FromDer, X509Certificate};

/// TLS set-up failures.
#[derive(Debug, thiserror::Error)]
#[error("TLS configuration: {0}")]
pub struct TlsError(pub String);

fn err(e: impl std::fmt::Display) -> TlsError {
    TlsError(e.to_string())
}

/// The ring provider: RobotID avoids aws-lc-rs (and its C toolchain).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Server configuration: our certificate chain and key; client certificates
/// requested and checked against `anchor_der`.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    anchor_der: &[u8],
) -> Result<rustls::ServerConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(anchor_der.to_vec()))
        .map_err(err)?;
    let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map_err(err)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_client_cert_verifier(Arc::new(ExpiryTolerant { inner }))
        .with_single_cert(chain, key)
        .map_err(err)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepts an expired (or not yet valid) client certificate if it is
/// otherwise valid at a moment inside its validity; the API refuses it.
#[derive(Debug)]
struct ExpiryTolerant {
    inner: Arc<dyn ClientCertVerifier>,
}

/// Whether `e` says the certificate is expired (Some(true)) or not yet
/// valid (Some(false)).
fn time_error(e: &rustls::Error) -> Option<bool> {
    match e {
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => Some(true),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => Some(false),
        _ => None,
    }
}

impl ClientCertVerifier for ExpiryTolerant {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let result = self
            .inner
            .verify_client_cert(end_entity, intermediates, now);
        match result.as_ref().err().and_then(time_error) {
            Some(expired) => {
                let e = result.err().unwrap_or(rustls::Error::InvalidCertificate(
                    CertificateError::BadEncoding,
                ));
                let (_, cert) = X509Certificate::from_der(end_entity).map_err(|_| {
                    rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
                })?;
                // The last (or first) second it was valid: the rest of the
                // path must have been valid then too.
                let moment = if expired {
                    cert.validity().not_after.timestamp().saturating_sub(1)
                } else {
                    cert.validity().not_before.timestamp().saturating_add(1)
                };
                let inside = u64::try_from(moment).map_err(|_| e.clone())?;
                self.inner.verify_client_cert(
                    end_entity,
                    intermediates,
                    UnixTime::since_unix_epoch(std::time::Duration::from_secs(inside)),
                )
            }
            None => result,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
