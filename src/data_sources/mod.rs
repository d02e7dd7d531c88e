//! Data sources: read-only views of Kong nodes, databases and upgrade paths.

pub mod kong_node;
