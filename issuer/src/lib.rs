//! RobotID's CA core, the part the server calls to issue a certificate.
//!
//! The roles are separate modules, as in Let's Encrypt's Boulder:
//! - [`csr`] takes a PKCS#10 request and checks its signature (proof of
//!   possession) and its `RobotIdentity`;
//! - [`vetting`] is the registration authority's judgement: it checks the
//!   request against registry facts and is the only way to make a
//!   [`vetting::VettedRequest`];
//! - [`signer`] builds the certificate from vetted data only, lints a
//!   precertificate signed with a throwaway key, and signs the real one by
//!   redeeming a single-use token; it is the one place that uses the CA key;
//! - [`ceremony`] creates the CA (root, issuing CA, OCSP signer);
//! - [`key`] is what the signer signs with ([`key::CaKey`]: a software key
//!   or, through [`pkcs11`], a key on a PKCS#11 token);
//! - [`keys`] writes and reads key files;
//! - [`credentials`] and [`delegated`] own the templates of the server's
//!   own certificates (client credentials, TLS, OCSP and lifecycle signers).
//!
//! The signer's entry points are the only way to have the issuing key sign:
//! robot certificates, credentials, delegated signers and CRLs, each built
//! from the issuer's template and linted before it is signed.

pub mod ceremony;
pub mod credentials;
pub mod csr;
pub mod delegated;
pub mod key;
pub mod keys;
pub mod pem;
pub mod pkcs11;
pub mod signer;
pub mod vetting;

mod extensions;
mod lint;
mod template;
