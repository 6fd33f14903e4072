//! RobotID's identity profile and the rules every robot certificate must meet.
//!
//! This crate owns the format: the `RobotIdentity` extension and its ASN.1
//! types, robot IDs with their check character, the identity manifest, and
//! the checks the CA runs on every certificate before release and that an
//! inspector runs offline. It has no network code and no async runtime.

pub mod chain;
pub mod challenge;
pub mod components;
pub mod conforming;
pub mod crl;
pub mod history;
pub mod identity;
pub mod input;
pub mod inspect;
pub mod manifest;
pub mod oid;
pub mod parameters;
pub mod policy;
pub mod profile;
pub mod report;
pub mod robot_id;
pub mod rule;
pub mod rules;
pub mod states;
pub mod text;
