//! The CA's own parts, from which the roles are assembled at start: the
//! signer (the only holder of the issuing key), the registry, and the CA's
//! certificates as clients need them. The registration authority, the
//! revocation publisher and the lifecycle signer each take what they need
//! from it; HTTP handlers never see it, so they can neither sign nor write.

use std::sync::Arc;

use robotid_issuer::signer::Signer;

use crate::store::Store;

/// The CA's parts.
pub struct Ca {
    /// The signer.
    pub signer: Arc<Signer>,
    /// The registry.
    pub store: Store,
    /// The CA's certificates.
    pub certs: CaCertificates,
}

/// The CA's certificates, as clients need them.
#[derive(Clone, Debug)]
pub struct CaCertificates {
    /// The CA's name.
    pub name: String,
    /// Trust anchor, DER.
    pub root_der: Vec<u8>,
    /// Issuing CA, DER.
    pub issuing_der: Vec<u8>,
    /// The chain above a robot certificate (issuing CA), PEM.
    pub chain_pem: String,
    /// The trust anchor, PEM.
    pub root_pem: String,
}
