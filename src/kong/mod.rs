//! The Kong Admin API client (edge): HTTP with the provider's TLS, token and
//! header settings, Kong's pagination, the shapes of `GET /` and
//! `GET /status` across 2.8 and 3.x, and a DB-less node's `GET /config`.

mod client;
mod declarative;
mod node;
mod pages;
mod settings;

pub(crate) use client::parse_ca_pem;
pub(crate) use client::{read_body_capped, BodyError};
pub use client::{KongClient, KongError};
pub use node::{NodeInfo, Role};
pub use pages::{set_page_size, WalkSummary, MAX_PAGE_SIZE, PAGE_LIST};
pub use settings::{AdminSettings, Secret, TlsSettings};
