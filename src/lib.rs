//! terraform-provider-kong: Kong Gateway upgrades as Terraform resources.
//!
//! See ARCHITECTURE.md for the map. In short: `tfplug` (a separate crate)
//! speaks the Terraform plugin protocol and knows nothing about Kong; this
//! crate holds the provider (resources, data sources, functions, actions),
//! the pure upgrade planner, and the edges that touch the world (Kong client,
//! PostgreSQL, runners, load-balancer drivers, gates).

pub mod actions;
pub mod admin_api;
pub mod blocks;
pub mod data_sources;
pub mod functions;
pub mod gates;
pub mod kong;
pub mod migrations;
pub use kong_upgrade_core::planner;
pub mod platform;
pub mod provider;
pub mod resources;
pub mod runner;
pub mod steps;
pub mod traffic;
pub use kong_upgrade_core::version;
