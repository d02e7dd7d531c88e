//! tfplug: a small framework for Terraform providers on plugin protocol 6
//! (6.10 bindings from `magma-protocol`).
//!
//! It does the protocol work — go-plugin handshake, AutoMTLS, msgpack/JSON
//! values with unknowns, schemas, diagnostics with attribute paths,
//! cancellation on `StopProvider`, hclog-JSON logging — and knows nothing
//! about what the provider manages.

#![warn(missing_docs)]

pub mod diag;
mod log;
mod platform;
mod plugin;
pub mod provider;
pub mod schema;
pub mod serve;
mod server;
pub mod timeouts;
mod tls;
pub mod typed;
pub mod validate;
pub mod value;

pub use async_trait::async_trait;
pub use diag::{AttrPath, Diagnostic, Diagnostics, Severity};
pub use provider::{
    default_plan, Action, ApplyRequest, ApplyResponse, ClientCapabilities, Ctx, DataSource,
    Function, FunctionError, FunctionParam, FunctionSignature, ImportId, ImportResponse,
    PlanRequest, PlanResponse, Provider, ProviderName, ReadRequest, ReadResponse, Resource,
};
pub use schema::{
    Attribute, Block, BlockNesting, IdentitySchema, NestedBlock, Nesting, Presence, Schema,
};
pub use serve::serve;
pub use tokio_util::sync::CancellationToken;
pub use typed::{read, FromValue, Known};
pub use validate::{http_url, url_for_messages, Check, Constraint, PemKind};
pub use value::{Type, Value};
