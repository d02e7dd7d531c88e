//! Kong's migration records as data: what Kong's code knows per release,
//! what `schema_meta` says ran, their classification (as
//! `kong/db/migrations/state.lua` does) and the plan of a phase.

#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixtures;
pub mod known;
pub mod phase;
pub mod rollback;
pub mod schema_meta;
pub mod state;
