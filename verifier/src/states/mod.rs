//! The registry's state machines, as pure functions: which certificate a
//! robot may hold ([`certificate`]) and where a certificate's revocation
//! stands ([`revocation`]). The lifecycle's is
//! [`history::states`](crate::history::states).
//!
//! They live in the crate that owns the rule catalogue, not in the CA's
//! registry, because three parties run them: the registration authority
//! checks a request against them before anything is written, the registry
//! decides again with them under its lock (what it read may have changed
//! meanwhile), and offline tools that replay the registry's history (an
//! auditor, a roll-forward from the log) must reach the same states from
//! the same events. None of them touches a database or a clock: the caller
//! reads the rows and passes the time.

pub mod certificate;
pub mod revocation;

pub use crate::history::states::Refusal;
