//! Data sources: read-only views of Kong nodes, databases and upgrade paths.

pub mod kong_data_planes;
pub mod kong_migrations;
pub mod kong_node;
pub mod kong_upgrade_path;
