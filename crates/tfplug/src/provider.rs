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
    /// What the Terraform core on the other end can do.
    pub client: ClientCapabilities,
}

/// What the Terraform core on the other end can do.
#[derive(Clone, Debug, Default)]
pub struct ClientCapabilities {
    /// Terraform ≥ 1.11: write-only attributes are honoured.
    pub write_only_attributes_allowed: bool,
    /// Terraform may defer this change to a later plan (not used yet).
    pub deferral_allowed: bool,
    /// Known at ConfigureProvider ("1.15.5"); empty before.
    pub terraform_version: String,
}

/// The provider: its configuration schema and what it offers. One instance serves the whole process.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider's type name, the prefix of every resource (`example` in `example_thing`).
    fn type_name(&self) -> &'static str;
    /// The schema of the `provider` block.
    fn schema(&self) -> Schema;
    /// Checks the provider configuration beyond what its schema declares (runs after the declared checks pass; values may be unknown).
    async fn validate(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Called once per provider instance before any resource call that needs
    /// configuration.
    async fn configure(&self, ctx: &Ctx, config: &Value) -> Diagnostics;
    /// Every managed resource type.
    fn resources(&self) -> Vec<Arc<dyn Resource>>;
    /// Every data source type.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>>;
    /// Provider functions (Terraform ≥ 1.8); none by default.
    fn functions(&self) -> Vec<Arc<dyn Function>> {
        Vec::new()
    }
    /// Actions (Terraform ≥ 1.14); none by default.
    fn actions(&self) -> Vec<Arc<dyn Action>> {
        Vec::new()
    }
}

/// A plan: what the configuration asks, what the state holds, and what Terraform proposes.
pub struct PlanRequest {
    /// The configuration as written (unknowns where values wait for apply).
    pub config: Value,
    /// The prior state; null when creating.
    pub prior: Value,
    /// Terraform's proposed new state: the configuration merged over the prior state; null when destroying.
    pub proposed: Value,
    /// The private state saved with the prior state.
    pub prior_private: Vec<u8>,
}

#[derive(Default)]
/// The provider's plan.
pub struct PlanResponse {
    /// The planned new state; unknown where apply will tell.
    pub planned: Value,
    /// Attributes whose change replaces the resource (added to those declared `requires_replace` on the schema).
    pub requires_replace: Vec<AttrPath>,
    /// Private state carried to apply.
    pub private: Vec<u8>,
    /// Diagnostics; an error stops the plan.
    pub diags: Diagnostics,
}

/// An apply of a planned change.
pub struct ApplyRequest {
    /// The prior state; null when creating.
    pub prior: Value,
    /// The planned new state; null when destroying.
    pub planned: Value,
    /// The configuration as written.
    pub config: Value,
    /// The private state of the plan.
    pub private: Vec<u8>,
}

#[derive(Default)]
/// The outcome of an apply.
pub struct ApplyResponse {
    /// The state reached. On failure, return what exists so far together with
    /// an error diagnostic: Terraform saves it (a create is saved tainted).
    pub new_state: Value,
    /// Private state saved with the new state (checkpoints).
    pub private: Vec<u8>,
    /// Diagnostics; an error marks the apply failed.
    pub diags: Diagnostics,
}

/// A refresh of one resource's state.
pub struct ReadRequest {
    /// The state as saved.
    pub current: Value,
    /// The private state saved with it.
    pub private: Vec<u8>,
}

#[derive(Default)]
/// The refreshed state.
pub struct ReadResponse {
    /// `Value::Null` means the object is gone: Terraform drops it from state.
    pub new_state: Value,
    /// Private state to save.
    pub private: Vec<u8>,
    /// Diagnostics.
    pub diags: Diagnostics,
}

/// What `terraform import` (or an `import` block) passes.
#[derive(Clone, Debug)]
pub enum ImportId {
    /// `terraform import ADDRESS ID`: the ID as typed.
    Id(String),
    /// An `import` block with `identity` (Terraform ≥ 1.12).
    Identity(Value),
}

#[derive(Default)]
/// The outcome of an import.
pub struct ImportResponse {
    /// The imported state; Terraform then calls `read` with it.
    pub state: Value,
    /// Private state to save with it.
    pub private: Vec<u8>,
    /// Diagnostics; an error aborts the import.
    pub diags: Diagnostics,
}

/// A managed resource type.
#[async_trait]
pub trait Resource: Send + Sync {
    /// The resource type name, prefixed with the provider's (`example_thing`).
    fn type_name(&self) -> &'static str;
    /// The resource's schema.
    fn schema(&self) -> Schema;
    /// The identity schema, when the resource has one (Terraform ≥ 1.12).
    fn identity_schema(&self) -> Option<IdentitySchema> {
        None
    }
    /// The identity of the object a state describes (when an identity schema
    /// is declared).
    fn identity(&self, _state: &Value) -> Option<Value> {
        None
    }
    /// Checks a configuration beyond what the schema declares (runs after the declared checks pass; values may be unknown).
    async fn validate(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Default: the proposed state with null computed attributes unknown on
    /// create, and the prior values kept otherwise.
    async fn plan(&self, _ctx: &Ctx, req: PlanRequest) -> PlanResponse {
        default_plan(&self.schema(), req)
    }
    /// Creates, updates or destroys (planned null) the object.
    async fn apply(&self, ctx: &Ctx, req: ApplyRequest) -> ApplyResponse;
    /// Refreshes the state from the world; a null new state means the object is gone.
    async fn read(&self, ctx: &Ctx, req: ReadRequest) -> ReadResponse;
    /// Reads an existing object into state; by default import is refused.
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

/// A data source type.
#[async_trait]
pub trait DataSource: Send + Sync {
    /// The data source type name, prefixed with the provider's.
    fn type_name(&self) -> &'static str;
    /// The data source's schema.
    fn schema(&self) -> Schema;
    /// Checks a configuration beyond what the schema declares (runs after the declared checks pass; values may be unknown).
    async fn validate(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Returns the full state (config plus computed attributes).
    async fn read(&self, ctx: &Ctx, config: &Value) -> (Value, Diagnostics);
}

/// One parameter of a provider function.
pub struct FunctionParam {
    /// Its name, in documentation and errors.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Markdown description.
    pub description: String,
    /// Whether null is accepted.
    pub allow_null: bool,
}

/// A provider function's parameters, return type and documentation.
pub struct FunctionSignature {
    /// The parameters in order.
    pub params: Vec<FunctionParam>,
    /// The return type.
    pub returns: Type,
    /// One-line summary.
    pub summary: String,
    /// Markdown description.
    pub description: String,
}

/// A function error: text, and the argument at fault when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionError {
    /// What went wrong.
    pub text: String,
    /// The zero-based index of the argument at fault.
    pub argument: Option<i64>,
}

/// A provider function (Terraform ≥ 1.8): `provider::PROVIDER::NAME(...)`.
pub trait Function: Send + Sync {
    /// The function's name (`provider::NAME::this`).
    fn name(&self) -> &'static str;
    /// Its signature.
    fn signature(&self) -> FunctionSignature;
    /// Runs the function on decoded arguments.
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError>;
}

/// An action (Terraform ≥ 1.14): `terraform apply -invoke=action.TYPE.NAME`.
/// An action type (Terraform ≥ 1.14).
#[async_trait]
pub trait Action: Send + Sync {
    /// The action type name, prefixed with the provider's.
    fn type_name(&self) -> &'static str;
    /// The action's schema.
    fn schema(&self) -> Schema;
    /// Checks a configuration beyond what the schema declares (runs after the declared checks pass; values may be unknown).
    async fn validate(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Checks before the action runs, at plan time (may read the world).
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
