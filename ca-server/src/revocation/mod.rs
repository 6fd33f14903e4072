//! Revocation: OCSP responses signed ahead of requests, CRLs built off the
//! request path, and the index both are built from.
//!
//! - [`index`]: every certificate's revocation rows and supersession, in
//!   memory.
//! - [`follower`]: reads the registry's changes into the index (its only
//!   writer) and tells the other two.
//! - [`ocsp_cache`]: presigned OCSP responses, refreshed before they
//!   expire, and requests answered from them.
//! - [`crl_publisher`]: builds, signs and holds the current CRL.
//! - [`service`]: assembles the three for the server.
//!
//! Imports run one way: service → follower → {ocsp_cache, crl_publisher}
//! → {index, ocsp, responder_key, background}.

mod background;
pub mod crl_publisher;
pub mod follower;
pub mod index;
pub mod ocsp;
pub mod ocsp_cache;
pub mod responder_key;
pub mod service;
#[cfg(test)]
mod testing;
