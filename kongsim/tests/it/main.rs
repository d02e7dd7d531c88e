//! kongsim against real PostgreSQL clusters and real HTTP clients: the
//! behaviour other tests rely on when they use kongsim in place of Kong.

mod helpers;
mod memberships;
mod migrations;
mod server;
