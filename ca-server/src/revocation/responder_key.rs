//! The delegated OCSP signer: a short-lived certificate from the issuing CA
//! (id-kp-OCSPSigning, ocsp-nocheck) and its key, in the CA folder, kept
//! and rotated by [`crate::delegated::DelegatedSigner::ocsp`], the same
//! type as the lifecycle signer's. The server replaces it when a third of
//! its life is left, so that no response outlives the certificate that
//! signs it.

pub use crate::delegated::{DelegatedError as ResponderKeyError, DelegatedKey as ResponderKey};
