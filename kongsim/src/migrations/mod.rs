//! Kong's database migrations machinery over a real PostgreSQL.

pub mod commands;
pub mod lock;
pub mod run;
pub mod state;
pub mod steps;
pub mod test_catalog;
