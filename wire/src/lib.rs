//! The JSON bodies of RobotID's API, shared by the CA server
//! (`robotid-ca`, which serializes answers and reads requests) and its
//! clients (`robotid`, the end-to-end tests, the benchmarks), so the two
//! sides cannot drift apart field by field.
//!
//! One module per endpoint group. Requests refuse unknown fields, as the
//! server always has; answers are read leniently by clients. The lifecycle
//! export bundle is `robotid_verifier::history::bundle::Bundle`: the
//! verifier reads it offline, so it is defined there, not here.

pub mod admin;
pub mod enroll;
pub mod lifecycle;
pub mod problem;
pub mod revocation;
pub mod status;

pub use problem::ProblemDocument;
