//! The revocation service: OCSP responses signed ahead of requests, CRLs
//! regenerated off the request path, and the index both are built from.

mod background;
pub mod index;
pub mod ocsp;
pub mod responder_key;
pub mod service;
