//! What a provider implements: the provider itself, its resources, data
//! sources, functions and actions. Values arrive decoded; diagnostics leave
//! as values, never as panics.

use crate::diag::{AttrPath, Diagnostics};
use crate::schema::{IdentitySchema, Schema};
use crate::value::{Type, Value};
use async_trait::async_trait;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How the framework names the provider it serves, given to `serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProviderName {
    /// hclog's `@module` on every log line, usually the provider's type name.
    pub module: &'static str,
    /// The name in "Internal error in the … provider" diagnostics.
    pub display: &'static str,
    /// The prefix of the provider crate's `tracing` targets (its crate name,
    /// e.g. `env!("CARGO_CRATE_NAME")`): its events show at every level,
    /// while library internals show only at TRACE (and always their
    /// warnings).
    pub log_target: &'static str,
}

/// Per-call context.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Cancelled when Terraform calls `StopProvider` (the user pressed
    /// Ctrl-C) or the process is asked to terminate. Long operations must
    /// await it and return the state reached so far.
    pub cancel: CancellationToken,
    pub client: ClientCapabilities,
}

/// What the Terraform core on the other end can do.
#[derive(Clone, Debug, Default)]
pub struct ClientCapabilities {
    /// Terraform ≥ 1.11: write-only attributes are honoured.
    pub write_only_attributes_allowed: bool,
    pub deferral_allowed: bool,
    /// Known at ConfigureProvider ("1.15.5"); empty before.
    pub terraform_version: String,
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider's type name, the prefix of every resource ("kong").
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    async fn validate(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Called once per provider instance before any resource call that needs
    /// configuration.
    async fn configure(&self, ctx: &Ctx, config: &Value) -> Diagnostics;
    fn resources(&self) -> Vec<Arc<dyn Resource>>;
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>>;
    fn functions(&self) -> Vec<Arc<dyn Function>> {
        Vec::new()
    }
    fn actions(&self) -> Vec<Arc<dyn Action>> {
        Vec::new()
    }
}

pub struct PlanRequest {
    pub config: Value,
    pub prior: Value,
    pub proposed: Value,
    pub prior_private: Vec<u8>,
}

#[derive(Default)]
pub struct PlanResponse {
    pub planned: Value,
    pub requires_replace: Vec<AttrPath>,
    pub private: Vec<u8>,
    pub diags: Diagnostics,
}

pub struct ApplyRequest {
    pub prior: Value,
    pub planned: Value,
    pub config: Value,
    pub private: Vec<u8>,
}

#[derive(Default)]
pub struct ApplyResponse {
    /// The state reached. On failure, return what exists so far together with
    /// an error diagnostic: Terraform saves it (a create is saved tainted).
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diags: Diagnostics,
}

pub struct ReadRequest {
    pub current: Value,
    pub private: Vec<u8>,
}

#[derive(Default)]
pub struct ReadResponse {
    /// `Value::Null` means the object is gone: Terraform drops it from state.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diags: Diagnostics,
}

/// What `terraform import` (or an `import` block) passes.
#[derive(Clone, Debug)]
pub enum ImportId {
    Id(String),
    Identity(Value),
}

#[derive(Default)]
pub struct ImportResponse {
    /// The imported state; Terraform then calls `read` with it.
    pub state: Value,
    pub private: Vec<u8>,
    pub diags: Diagnostics,
}

#[async_trait]
pub trait Resource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn identity_schema(&self) -> Option<IdentitySchema> {
        None
    }
    /// The identity of the object a state describes (when an identity schema
    /// is declared).
    fn identity(&self, _state: &Value) -> Option<Value> {
        None
    }
    async fn validate(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Default: the proposed state with null computed attributes unknown on
    /// create, and the prior values kept otherwise.
    async fn plan(&self, _ctx: &Ctx, req: PlanRequest) -> PlanResponse {
        default_plan(&self.schema(), req)
    }
    async fn apply(&self, ctx: &Ctx, req: ApplyRequest) -> ApplyResponse;
    async fn read(&self, ctx: &Ctx, req: ReadRequest) -> ReadResponse;
    async fn import(&self, _ctx: &Ctx, _id: ImportId) -> ImportResponse {
        let mut diags = Diagnostics::new();
        diags.error(
            "Import not supported",
            format!("{} cannot be imported.", self.type_name()),
        );
        ImportResponse {
            diags,
            ..Default::default()
        }
    }
    /// Migrates a JSON state written under schema `from_version`.
    fn upgrade_state(
        &self,
        _from_version: i64,
        json: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        Ok(json)
    }
}

/// The framework's default plan (see `Resource::plan`).
pub fn default_plan(schema: &Schema, req: PlanRequest) -> PlanResponse {
    if req.proposed.is_null() {
        return PlanResponse {
            planned: Value::Null,
            ..Default::default()
        };
    }
    let mut planned = req.proposed.clone();
    if req.prior.is_null() || req.proposed != req.prior {
        schema
            .block
            .mark_computed_unknown(&req.config, &mut planned, &req.prior, &["id"]);
    }
    PlanResponse {
        planned,
        private: req.prior_private,
        ..Default::default()
    }
}

#[async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    async fn validate(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Returns the full state (config plus computed attributes).
    async fn read(&self, ctx: &Ctx, config: &Value) -> (Value, Diagnostics);
}

pub struct FunctionParam {
    pub name: String,
    pub ty: Type,
    pub description: String,
    pub allow_null: bool,
}

pub struct FunctionSignature {
    pub params: Vec<FunctionParam>,
    pub returns: Type,
    pub summary: String,
    pub description: String,
}

/// A function error: text, and the argument at fault when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionError {
    pub text: String,
    pub argument: Option<i64>,
}

/// A provider function (Terraform ≥ 1.8): `provider::kong::NAME(...)`.
pub trait Function: Send + Sync {
    fn name(&self) -> &'static str;
    fn signature(&self) -> FunctionSignature;
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError>;
}

/// An action (Terraform ≥ 1.14): `terraform apply -invoke=action.TYPE.NAME`.
#[async_trait]
pub trait Action: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    async fn validate(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    async fn plan(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Runs the action, reporting progress lines as it goes.
    async fn invoke(
        &self,
        ctx: &Ctx,
        config: &Value,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Diagnostics;
}
