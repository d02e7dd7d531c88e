//! The pure core of terraform-provider-kong: every upgrade decision that
//! needs no I/O. The planner and its rule tables, Kong versions, traffic
//! weight progression, gate verdicts and the classification of Kong's
//! migration records live here, in a crate whose dependencies include no
//! async runtime, HTTP or database client, so the compiler enforces "no I/O"
//! (`tests/tidy.rs` checks the dependency list).
//!
//! The provider crate re-exports these modules at their old paths
//! (`crate::planner`, `crate::version`, `crate::traffic::progression`, ...).

pub mod gates;
pub mod migrations;
pub mod planner;
pub mod traffic;
pub mod version;
