//! What the end-to-end tests of the server share: the kit's [`setup`]
//! (`robotid_tests::setup`), under the name the test files use.
//!
//! [`setup`]: robotid_tests::setup

pub use robotid_tests::setup::*;
