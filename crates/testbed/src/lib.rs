//! Real components for tests and the demo, each a plain process on 127.0.0.1
//! in its own temporary directory, stopped when its handle is dropped.
//!
//! Nothing here is a fake: every component is the Debian build of the real
//! program, found on `PATH` or in its usual Debian location.

pub mod postgres;
pub mod process;

pub use postgres::Postgres;
pub use process::{find_program, free_port, reserved_port, wait_for_tcp};
pub mod detached;
pub mod haproxy;
pub mod https_files;
pub mod kongsim;
pub mod nginx;
pub mod prometheus;
pub mod sshd;
pub mod terraform;
pub mod transcript;
