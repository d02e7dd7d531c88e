//! Upgrade step executors that are neither migrations (`migrations/`,
//! `runner/`) nor traffic (`traffic/`, `gates/`): each does one thing the
//! planner asked for, and reports what it did as data for the resource's
//! history.

pub mod backup;
pub mod backup_stream;
pub mod freeze;
pub mod hooks;
pub mod lock;
pub mod migrate;
pub mod pg_tools;
pub mod readiness;
pub mod staging;
