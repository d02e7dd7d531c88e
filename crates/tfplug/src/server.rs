//! The tfplugin6 gRPC service: decodes requests, dispatches to the
//! provider's resources, encodes responses. Panics inside provider code are
//! caught and reported as a diagnostic without a backtrace.

use crate::diag::{Diagnostic, Diagnostics};
use crate::provider::Action;
use crate::provider::{
    ApplyRequest, ClientCapabilities, Ctx, DataSource, Function, ImportId, PlanRequest, Provider,
    ReadRequest, Resource,
};
use crate::schema::{IdentitySchema, Schema};
use crate::value::{from_msgpack, to_msgpack, Type, Value};
use futures::FutureExt;
use magma_protocol::tfplugin6 as pb;
use magma_protocol::tfplugin6::provider_server::Provider as GrpcProvider;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

type Stream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

struct ResourceEntry {
    imp: Arc<dyn Resource>,
    schema: Schema,
    ty: Type,
    identity: Option<IdentitySchema>,
}

struct DataSourceEntry {
    imp: Arc<dyn DataSource>,
    schema: Schema,
    ty: Type,
}

struct ActionEntry {
    imp: Arc<dyn Action>,
    schema: Schema,
    ty: Type,
}

/// Schemas and implementations, built once per process.
struct Registry {
    provider_type: Type,
    resources: BTreeMap<String, ResourceEntry>,
    data_sources: BTreeMap<String, DataSourceEntry>,
    functions: BTreeMap<String, Arc<dyn Function>>,
    actions: BTreeMap<String, ActionEntry>,
    schema_response: pb::get_provider_schema::Response,
}

pub struct ProviderServer<P: Provider> {
    provider: Arc<P>,
    registry: Arc<Registry>,
    stop: CancellationToken,
    client: Arc<RwLock<ClientCapabilities>>,
}

impl<P: Provider> ProviderServer<P> {
    pub fn new(provider: P, stop: CancellationToken) -> Self {
        let registry = Arc::new(build_registry(&provider));
        ProviderServer {
            provider: Arc::new(provider),
            registry,
            stop,
            client: Arc::default(),
        }
    }

    fn ctx(&self) -> Ctx {
        let client = self.client.read().map(|c| c.clone()).unwrap_or_default();
        Ctx {
            cancel: self.stop.child_token(),
            client,
        }
    }

    fn resource(&self, name: &str) -> Result<&ResourceEntry, UnknownResource> {
        self.registry
            .resources
            .get(name)
            .ok_or_else(|| UnknownResource(name.to_owned()))
    }
}

/// A resource type this provider does not serve; `?` turns it into
/// `NOT_FOUND`. (A `Status` is too large to return from every helper.)
struct UnknownResource(String);

impl From<UnknownResource> for Status {
    fn from(unknown: UnknownResource) -> Status {
        Status::not_found(format!("unknown resource type {}", unknown.0))
    }
}

fn build_registry<P: Provider>(provider: &P) -> Registry {
    let provider_schema = provider.schema();
    let resources: BTreeMap<String, ResourceEntry> = provider
        .resources()
        .into_iter()
        .map(|imp| {
            let schema = imp.schema();
            let ty = schema.value_type();
            let identity = imp.identity_schema();
            (
                imp.type_name().to_string(),
                ResourceEntry {
                    imp,
                    schema,
                    ty,
                    identity,
                },
            )
        })
        .collect();
    let data_sources: BTreeMap<String, DataSourceEntry> = provider
        .data_sources()
        .into_iter()
        .map(|imp| {
            let schema = imp.schema();
            let ty = schema.value_type();
            (
                imp.type_name().to_string(),
                DataSourceEntry { imp, schema, ty },
            )
        })
        .collect();
    let functions: BTreeMap<String, Arc<dyn Function>> = provider
        .functions()
        .into_iter()
        .map(|f| (f.name().to_string(), f))
        .collect();
    let actions: BTreeMap<String, ActionEntry> = provider
        .actions()
        .into_iter()
        .map(|imp| {
            let schema = imp.schema();
            let ty = schema.value_type();
            (imp.type_name().to_string(), ActionEntry { imp, schema, ty })
        })
        .collect();
    let schema_response = pb::get_provider_schema::Response {
        provider: Some(provider_schema.to_proto()),
        resource_schemas: resources
            .iter()
            .map(|(k, e)| (k.clone(), e.schema.to_proto()))
            .collect(),
        data_source_schemas: data_sources
            .iter()
            .map(|(k, e)| (k.clone(), e.schema.to_proto()))
            .collect(),
        functions: functions
            .iter()
            .map(|(k, f)| (k.clone(), function_to_proto(f.as_ref())))
            .collect(),
        action_schemas: actions
            .iter()
            .map(|(k, e)| {
                (
                    k.clone(),
                    pb::ActionSchema {
                        schema: Some(e.schema.to_proto()),
                    },
                )
            })
            .collect(),
        server_capabilities: Some(server_capabilities()),
        ..Default::default()
    };
    Registry {
        provider_type: provider_schema.value_type(),

        resources,
        data_sources,
        functions,
        actions,
        schema_response,
    }
}

fn server_capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: false,
        move_resource_state: false,
        generate_resource_config: false,
    }
}

fn function_to_proto(f: &dyn Function) -> pb::Function {
    let sig = f.signature();
    pb::Function {
        parameters: sig
            .params
            .iter()
            .map(|p| pb::function::Parameter {
                name: p.name.clone(),
                r#type: p.ty.to_json_bytes(),
                allow_null_value: p.allow_null,
                allow_unknown_values: false,
                description: p.description.clone(),
                description_kind: pb::StringKind::Markdown as i32,
            })
            .collect(),
        variadic_parameter: None,
        r#return: Some(pb::function::Return {
            r#type: sig.returns.to_json_bytes(),
        }),
        summary: sig.summary,
        description: sig.description,
        description_kind: pb::StringKind::Markdown as i32,
        deprecation_message: String::new(),
    }
}

// ------------------------------------------------------------ codec helpers

fn decode(dv: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, Diagnostic> {
    let Some(dv) = dv else { return Ok(Value::Null) };
    if !dv.msgpack.is_empty() {
        return from_msgpack(&dv.msgpack, ty)
            .map_err(|e| Diagnostic::error("Invalid value from Terraform", e.to_string()));
    }
    if !dv.json.is_empty() {
        let json: serde_json::Value = serde_json::from_slice(&dv.json)
            .map_err(|e| Diagnostic::error("Invalid JSON value from Terraform", e.to_string()))?;
        return Value::from_json(&json, ty)
            .map_err(|e| Diagnostic::error("Invalid value from Terraform", e.to_string()));
    }
    Ok(Value::Null)
}

fn encode(v: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostic> {
    to_msgpack(v, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| {
            Diagnostic::error(
                "Provider produced a value that does not match its schema",
                e.to_string(),
            )
        })
}

fn encode_identity(
    id: Option<Value>,
    schema: Option<&IdentitySchema>,
) -> Option<pb::ResourceIdentityData> {
    let (id, schema) = (id?, schema?);
    encode(&id, &schema.value_type())
        .ok()
        .map(|dv| pb::ResourceIdentityData {
            identity_data: Some(dv),
        })
}

/// Runs provider code, turning a panic into an error diagnostic. The panic
/// hook (see `serve`) logs the details; the user sees no backtrace.
async fn guarded<T, F>(what: &str, fut: F) -> Result<T, Diagnostic>
where
    F: Future<Output = T>,
{
    AssertUnwindSafe(fut).catch_unwind().await.map_err(|_| {
        Diagnostic::error(
            "Internal error in the Kong provider",
            format!("The provider hit a bug while running {what}. The provider log (TF_LOG=DEBUG) has the details; please report it."),
        )
    })
}

/// Nulls write-only attributes, which Terraform ≥ 1.11 refuses in plan or
/// state. On older cores the flag is not honoured, so values stay.
fn strip_write_only(schema: &Schema, mut v: Value, client: &ClientCapabilities) -> Value {
    if !client.write_only_attributes_allowed || v.is_null() {
        return v;
    }
    for path in schema.block.write_only_attributes() {
        null_at(&mut v, &path);
    }
    v
}

fn null_at(v: &mut Value, path: &[String]) {
    match path {
        [] => {}
        [last] => v.set_attr(last, Value::Null),
        [first, rest @ ..] => {
            if let Some(next) = v.attr_mut(first) {
                null_at(next, rest);
            }
        }
    }
}

fn client_caps(
    c: Option<&pb::ClientCapabilities>,
    base: &ClientCapabilities,
) -> ClientCapabilities {
    let mut out = base.clone();
    if let Some(c) = c {
        out.write_only_attributes_allowed = c.write_only_attributes_allowed;
        out.deferral_allowed = c.deferral_allowed;
    }
    out
}

fn diags_proto(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.to_proto()
}

fn one(d: Diagnostic) -> Vec<pb::Diagnostic> {
    vec![d.to_proto()]
}

#[tonic::async_trait]
impl<P: Provider> GrpcProvider for ProviderServer<P> {
    async fn get_metadata(
        &self,
        _r: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        let reg = &self.registry;
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(server_capabilities()),
            diagnostics: vec![],
            data_sources: reg
                .data_sources
                .keys()
                .map(|k| pb::get_metadata::DataSourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            resources: reg
                .resources
                .keys()
                .map(|k| pb::get_metadata::ResourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            functions: reg
                .functions
                .keys()
                .map(|k| pb::get_metadata::FunctionMetadata { name: k.clone() })
                .collect(),
            actions: reg
                .actions
                .keys()
                .map(|k| pb::get_metadata::ActionMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _r: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(self.registry.schema_response.clone()))
    }

    async fn validate_provider_config(
        &self,
        r: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let r = r.into_inner();
        let diagnostics = match decode(r.config.as_ref(), &self.registry.provider_type) {
            Err(d) => one(d),
            Ok(config) => {
                let ctx = self.ctx();
                match guarded("provider validation", self.provider.validate(&ctx, &config)).await {
                    Ok(d) => diags_proto(&d),
                    Err(d) => one(d),
                }
            }
        };
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics,
        }))
    }

    async fn validate_resource_config(
        &self,
        r: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let r = r.into_inner();
        let entry = self.resource(&r.type_name)?;
        let diagnostics = match decode(r.config.as_ref(), &entry.ty) {
            Err(d) => one(d),
            Ok(config) => {
                let mut ctx = self.ctx();
                ctx.client = client_caps(r.client_capabilities.as_ref(), &ctx.client);
                match guarded("validation", entry.imp.validate(&ctx, &config)).await {
                    Ok(d) => diags_proto(&d),
                    Err(d) => one(d),
                }
            }
        };
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics,
        }))
    }

    async fn validate_data_resource_config(
        &self,
        r: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let r = r.into_inner();
        let entry = self
            .registry
            .data_sources
            .get(&r.type_name)
            .ok_or_else(|| Status::not_found(format!("unknown data source {}", r.type_name)))?;
        let diagnostics = match decode(r.config.as_ref(), &entry.ty) {
            Err(d) => one(d),
            Ok(config) => {
                match guarded("validation", entry.imp.validate(&self.ctx(), &config)).await {
                    Ok(d) => diags_proto(&d),
                    Err(d) => one(d),
                }
            }
        };
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics,
        }))
    }

    async fn upgrade_resource_state(
        &self,
        r: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let r = r.into_inner();
        let entry = self.resource(&r.type_name)?;
        let raw = r.raw_state.map(|s| s.json).unwrap_or_default();
        let result = (|| -> Result<pb::DynamicValue, Diagnostics> {
            let json: serde_json::Value = if raw.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_slice(&raw).map_err(|e| {
                    Diagnostics::from(Diagnostic::error("State is not valid JSON", e.to_string()))
                })?
            };
            let json = if r.version < entry.schema.version {
                entry.imp.upgrade_state(r.version, json)?
            } else {
                json
            };
            let value = Value::from_json(&json, &entry.ty).map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot read the resource's state",
                    format!("The state of {} does not fit its schema: {e}", r.type_name),
                ))
            })?;
            encode(&value, &entry.ty).map_err(Diagnostics::from)
        })();
        Ok(Response::new(match result {
            Ok(dv) => pb::upgrade_resource_state::Response {
                upgraded_state: Some(dv),
                diagnostics: vec![],
            },
            Err(d) => pb::upgrade_resource_state::Response {
                upgraded_state: None,
                diagnostics: diags_proto(&d),
            },
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _r: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        let identity_schemas: HashMap<String, pb::ResourceIdentitySchema> = self
            .registry
            .resources
            .iter()
            .filter_map(|(k, e)| e.identity.as_ref().map(|i| (k.clone(), i.to_proto())))
            .collect();
        Ok(Response::new(pb::get_resource_identity_schemas::Response {
            identity_schemas,
            diagnostics: vec![],
        }))
    }

    async fn upgrade_resource_identity(
        &self,
        r: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        let r = r.into_inner();
        let entry = self.resource(&r.type_name)?;
        let Some(schema) = entry.identity.as_ref() else {
            return Err(Status::not_found(format!(
                "{} has no identity",
                r.type_name
            )));
        };
        let raw = r.raw_identity.map(|s| s.json).unwrap_or_default();
        let ty = schema.value_type();
        let upgraded = serde_json::from_slice::<serde_json::Value>(&raw)
            .map_err(|e| Diagnostic::error("Identity is not valid JSON", e.to_string()))
            .and_then(|j| {
                Value::from_json(&j, &ty)
                    .map_err(|e| Diagnostic::error("Invalid identity", e.to_string()))
            })
            .and_then(|v| encode(&v, &ty));
        Ok(Response::new(match upgraded {
            Ok(dv) => pb::upgrade_resource_identity::Response {
                upgraded_identity: Some(pb::ResourceIdentityData {
                    identity_data: Some(dv),
                }),
                diagnostics: vec![],
            },
            Err(d) => pb::upgrade_resource_identity::Response {
                upgraded_identity: None,
                diagnostics: one(d),
            },
        }))
    }

    async fn configure_provider(
        &self,
        r: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let r = r.into_inner();
        if let Ok(mut c) = self.client.write() {
            *c = client_caps(r.client_capabilities.as_ref(), &c);
            c.terraform_version = r.terraform_version.clone();
        }
        tracing::debug!(terraform_version = %r.terraform_version, "configuring provider");
        let diagnostics = match decode(r.config.as_ref(), &self.registry.provider_type) {
            Err(d) => one(d),
            Ok(config) => match guarded(
                "provider configuration",
                self.provider.configure(&self.ctx(), &config),
            )
            .await
            {
                Ok(d) => diags_proto(&d),
                Err(d) => one(d),
            },
        };
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics,
        }))
    }

    async fn read_resource(
        &self,
        r: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let r = r.into_inner();
        let entry = self.resource(&r.type_name)?;
        let current = match decode(r.current_state.as_ref(), &entry.ty) {
            Ok(v) => v,
            Err(d) => {
                return Ok(Response::new(pb::read_resource::Response {
                    diagnostics: one(d),
                    ..Default::default()
                }))
            }
        };
        let mut ctx = self.ctx();
        ctx.client = client_caps(r.client_capabilities.as_ref(), &ctx.client);
        tracing::debug!(resource = %r.type_name, "read");
        let req = ReadRequest {
            current: current.clone(),
            private: r.private.clone(),
        };
        let resp = match guarded("read", entry.imp.read(&ctx, req)).await {
            Ok(resp) => resp,
            Err(d) => {
                return Ok(Response::new(pb::read_resource::Response {
                    new_state: r.current_state,
                    private: r.private,
                    diagnostics: one(d),
                    ..Default::default()
                }))
            }
        };
        let new_state = strip_write_only(&entry.schema, resp.new_state, &ctx.client);
        let mut diags = resp.diags;
        let encoded = encode(&new_state, &entry.ty)
            .map_err(|d| diags.push(d))
            .ok();
        Ok(Response::new(pb::read_resource::Response {
            new_identity: encode_identity(entry.imp.identity(&new_state), entry.identity.as_ref()),
            new_state: encoded,
            diagnostics: diags_proto(&diags),
            private: resp.private,
            deferred: None,
        }))
    }

    async fn plan_resource_change(
        &self,
        r: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let r = r.into_inner();
        let entry = self.resource(&r.type_name)?;
        let decoded = (|| {
            Ok::<_, Diagnostic>((
                decode(r.config.as_ref(), &entry.ty)?,
                decode(r.prior_state.as_ref(), &entry.ty)?,
                decode(r.proposed_new_state.as_ref(), &entry.ty)?,
            ))
        })();
        let (config, prior, proposed) = match decoded {
            Ok(v) => v,
            Err(d) => {
                return Ok(Response::new(pb::plan_resource_change::Response {
                    diagnostics: one(d),
                    ..Default::default()
                }))
            }
        };
        let mut ctx = self.ctx();
        ctx.client = client_caps(r.client_capabilities.as_ref(), &ctx.client);
        tracing::debug!(resource = %r.type_name, "plan");
        let req = PlanRequest {
            config,
            prior,
            proposed,
            prior_private: r.prior_private,
        };
        let resp = match guarded("plan", entry.imp.plan(&ctx, req)).await {
            Ok(resp) => resp,
            Err(d) => {
                return Ok(Response::new(pb::plan_resource_change::Response {
                    diagnostics: one(d),
                    ..Default::default()
                }))
            }
        };
        let planned = strip_write_only(&entry.schema, resp.planned, &ctx.client);
        let mut diags = resp.diags;
        let encoded = encode(&planned, &entry.ty).map_err(|d| diags.push(d)).ok();
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_identity: encode_identity(
                entry.imp.identity(&planned),
                entry.identity.as_ref(),
            )
            .filter(|_| planned.is_wholly_known()),
            planned_state: encoded,
            requires_replace: resp.requires_replace.iter().map(|p| p.to_proto()).collect(),
            planned_private: resp.private,
            diagnostics: diags_proto(&diags),
            legacy_type_system: false,
            deferred: None,
        }))
    }

    async fn apply_resource_change(
        &self,
        r: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let r = r.into_inner();
        let entry = self.resource(&r.type_name)?;
        let decoded = (|| {
            Ok::<_, Diagnostic>((
                decode(r.prior_state.as_ref(), &entry.ty)?,
                decode(r.planned_state.as_ref(), &entry.ty)?,
                decode(r.config.as_ref(), &entry.ty)?,
            ))
        })();
        let (prior, planned, config) = match decoded {
            Ok(v) => v,
            Err(d) => {
                return Ok(Response::new(pb::apply_resource_change::Response {
                    new_state: r.prior_state,
                    diagnostics: one(d),
                    ..Default::default()
                }))
            }
        };
        let ctx = self.ctx();
        tracing::debug!(resource = %r.type_name, "apply");
        let req = ApplyRequest {
            prior: prior.clone(),
            planned,
            config,
            private: r.planned_private,
        };
        let resp = match guarded("apply", entry.imp.apply(&ctx, req)).await {
            Ok(resp) => resp,
            Err(d) => {
                return Ok(Response::new(pb::apply_resource_change::Response {
                    new_state: r.prior_state,
                    diagnostics: one(d),
                    ..Default::default()
                }))
            }
        };
        // State must be wholly known, even after a failure part-way.
        let new_state = strip_write_only(
            &entry.schema,
            resp.new_state.unknowns_to_null(),
            &ctx.client,
        );
        let mut diags = resp.diags;
        let encoded = encode(&new_state, &entry.ty)
            .map_err(|d| diags.push(d))
            .ok();
        Ok(Response::new(pb::apply_resource_change::Response {
            new_identity: encode_identity(entry.imp.identity(&new_state), entry.identity.as_ref()),
            new_state: encoded,
            private: resp.private,
            diagnostics: diags_proto(&diags),
            legacy_type_system: false,
        }))
    }

    async fn import_resource_state(
        &self,
        r: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let r = r.into_inner();
        let entry = self.resource(&r.type_name)?;
        let id = match (
            r.id.is_empty(),
            r.identity.as_ref().and_then(|i| i.identity_data.as_ref()),
            &entry.identity,
        ) {
            (true, Some(data), Some(schema)) => match decode(Some(data), &schema.value_type()) {
                Ok(v) => ImportId::Identity(v),
                Err(d) => {
                    return Ok(Response::new(pb::import_resource_state::Response {
                        diagnostics: one(d),
                        ..Default::default()
                    }))
                }
            },
            _ => ImportId::Id(r.id.clone()),
        };
        let ctx = self.ctx();
        let resp = match guarded("import", entry.imp.import(&ctx, id)).await {
            Ok(resp) => resp,
            Err(d) => {
                return Ok(Response::new(pb::import_resource_state::Response {
                    diagnostics: one(d),
                    ..Default::default()
                }))
            }
        };
        let mut diags = resp.diags;
        let mut imported_resources = Vec::new();
        if !diags.has_errors() {
            if let Ok(state) = encode(&resp.state, &entry.ty).map_err(|d| diags.push(d)) {
                imported_resources.push(pb::import_resource_state::ImportedResource {
                    type_name: r.type_name.clone(),
                    state: Some(state),
                    private: resp.private,
                    identity: encode_identity(
                        entry.imp.identity(&resp.state),
                        entry.identity.as_ref(),
                    ),
                });
            }
        }
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources,
            diagnostics: diags_proto(&diags),
            deferred: None,
        }))
    }

    async fn move_resource_state(
        &self,
        _r: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        Err(Status::unimplemented(
            "moving state between resource types is not supported",
        ))
    }

    async fn read_data_source(
        &self,
        r: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let r = r.into_inner();
        let entry = self
            .registry
            .data_sources
            .get(&r.type_name)
            .ok_or_else(|| Status::not_found(format!("unknown data source {}", r.type_name)))?;
        let config = match decode(r.config.as_ref(), &entry.ty) {
            Ok(v) => v,
            Err(d) => {
                return Ok(Response::new(pb::read_data_source::Response {
                    diagnostics: one(d),
                    ..Default::default()
                }))
            }
        };
        tracing::debug!(data_source = %r.type_name, "read");
        let (state, mut diags) =
            match guarded("data source read", entry.imp.read(&self.ctx(), &config)).await {
                Ok(out) => out,
                Err(d) => (Value::Null, Diagnostics::from(d)),
            };
        let state = if diags.has_errors() {
            None
        } else {
            encode(&state, &entry.ty).map_err(|d| diags.push(d)).ok()
        };
        Ok(Response::new(pb::read_data_source::Response {
            state,
            diagnostics: diags_proto(&diags),
            deferred: None,
        }))
    }

    async fn generate_resource_config(
        &self,
        _r: Request<pb::generate_resource_config::Request>,
    ) -> Result<Response<pb::generate_resource_config::Response>, Status> {
        Err(Status::unimplemented("config generation is not supported"))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        _r: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        Err(Status::unimplemented(
            "this provider has no ephemeral resources",
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        _r: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        Err(Status::unimplemented(
            "this provider has no ephemeral resources",
        ))
    }

    async fn renew_ephemeral_resource(
        &self,
        _r: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        Err(Status::unimplemented(
            "this provider has no ephemeral resources",
        ))
    }

    async fn close_ephemeral_resource(
        &self,
        _r: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        Err(Status::unimplemented(
            "this provider has no ephemeral resources",
        ))
    }

    type ListResourceStream = Stream<pb::list_resource::Event>;

    async fn list_resource(
        &self,
        _r: Request<pb::list_resource::Request>,
    ) -> Result<Response<Self::ListResourceStream>, Status> {
        Err(Status::unimplemented("this provider has no list resources"))
    }

    async fn validate_list_resource_config(
        &self,
        _r: Request<pb::validate_list_resource_config::Request>,
    ) -> Result<Response<pb::validate_list_resource_config::Response>, Status> {
        Err(Status::unimplemented("this provider has no list resources"))
    }

    async fn get_functions(
        &self,
        _r: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(pb::get_functions::Response {
            functions: self.registry.schema_response.functions.clone(),
            diagnostics: vec![],
        }))
    }

    async fn call_function(
        &self,
        r: Request<pb::call_function::Request>,
    ) -> Result<Response<pb::call_function::Response>, Status> {
        let r = r.into_inner();
        let f = self
            .registry
            .functions
            .get(&r.name)
            .ok_or_else(|| Status::not_found(format!("unknown function {}", r.name)))?;
        let sig = f.signature();
        let fail = |text: String, arg: Option<i64>| {
            Response::new(pb::call_function::Response {
                result: None,
                error: Some(pb::FunctionError {
                    text,
                    function_argument: arg,
                }),
            })
        };
        let mut args = Vec::with_capacity(r.arguments.len());
        for (i, (dv, p)) in r.arguments.iter().zip(&sig.params).enumerate() {
            match decode(Some(dv), &p.ty) {
                Ok(v) => args.push(v),
                Err(d) => return Ok(fail(d.detail, Some(i as i64))),
            }
        }
        let returns = sig.returns.clone();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| f.call(&args)));
        match outcome {
            Ok(Ok(v)) => match encode(&v, &returns) {
                Ok(dv) => Ok(Response::new(pb::call_function::Response {
                    result: Some(dv),
                    error: None,
                })),
                Err(d) => Ok(fail(d.detail, None)),
            },
            Ok(Err(e)) => Ok(fail(e.text, e.argument)),
            Err(_) => Ok(fail(format!("internal error in function {}", r.name), None)),
        }
    }

    async fn validate_state_store_config(
        &self,
        _r: Request<pb::validate_state_store::Request>,
    ) -> Result<Response<pb::validate_state_store::Response>, Status> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn configure_state_store(
        &self,
        _r: Request<pb::configure_state_store::Request>,
    ) -> Result<Response<pb::configure_state_store::Response>, Status> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    type ReadStateBytesStream = Stream<pb::read_state_bytes::Response>;

    async fn read_state_bytes(
        &self,
        _r: Request<pb::read_state_bytes::Request>,
    ) -> Result<Response<Self::ReadStateBytesStream>, Status> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn write_state_bytes(
        &self,
        _r: Request<tonic::Streaming<pb::write_state_bytes::RequestChunk>>,
    ) -> Result<Response<pb::write_state_bytes::Response>, Status> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn lock_state(
        &self,
        _r: Request<pb::lock_state::Request>,
    ) -> Result<Response<pb::lock_state::Response>, Status> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn unlock_state(
        &self,
        _r: Request<pb::unlock_state::Request>,
    ) -> Result<Response<pb::unlock_state::Response>, Status> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn get_states(
        &self,
        _r: Request<pb::get_states::Request>,
    ) -> Result<Response<pb::get_states::Response>, Status> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn delete_state(
        &self,
        _r: Request<pb::delete_state::Request>,
    ) -> Result<Response<pb::delete_state::Response>, Status> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn plan_action(
        &self,
        r: Request<pb::plan_action::Request>,
    ) -> Result<Response<pb::plan_action::Response>, Status> {
        let r = r.into_inner();
        let entry = self
            .registry
            .actions
            .get(&r.action_type)
            .ok_or_else(|| Status::not_found(format!("unknown action {}", r.action_type)))?;
        let diagnostics = match decode(r.config.as_ref(), &entry.ty) {
            Err(d) => one(d),
            Ok(config) => {
                match guarded("action plan", entry.imp.plan(&self.ctx(), &config)).await {
                    Ok(d) => diags_proto(&d),
                    Err(d) => one(d),
                }
            }
        };
        Ok(Response::new(pb::plan_action::Response {
            diagnostics,
            deferred: None,
        }))
    }

    type InvokeActionStream = Stream<pb::invoke_action::Event>;

    async fn invoke_action(
        &self,
        r: Request<pb::invoke_action::Request>,
    ) -> Result<Response<Self::InvokeActionStream>, Status> {
        use pb::invoke_action::event::{Completed, Progress, Type as Ev};
        let r = r.into_inner();
        let entry = self
            .registry
            .actions
            .get(&r.action_type)
            .ok_or_else(|| Status::not_found(format!("unknown action {}", r.action_type)))?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let imp = entry.imp.clone();
        let ctx = self.ctx();
        let config = decode(r.config.as_ref(), &entry.ty);
        tokio::spawn(async move {
            let diags = match config {
                Err(d) => Diagnostics::from(d),
                Ok(config) => {
                    let progress_tx = tx.clone();
                    let progress = move |message: String| {
                        let _ = progress_tx.send(Ok(pb::invoke_action::Event {
                            r#type: Some(Ev::Progress(Progress { message })),
                        }));
                    };
                    guarded("action", imp.invoke(&ctx, &config, &progress))
                        .await
                        .unwrap_or_else(Diagnostics::from)
                }
            };
            let _ = tx.send(Ok(pb::invoke_action::Event {
                r#type: Some(Ev::Completed(Completed {
                    diagnostics: diags_proto(&diags),
                })),
            }));
        });
        let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn validate_action_config(
        &self,
        r: Request<pb::validate_action_config::Request>,
    ) -> Result<Response<pb::validate_action_config::Response>, Status> {
        let r = r.into_inner();
        let entry = self
            .registry
            .actions
            .get(&r.type_name)
            .ok_or_else(|| Status::not_found(format!("unknown action {}", r.type_name)))?;
        let diagnostics = match decode(r.config.as_ref(), &entry.ty) {
            Err(d) => one(d),
            Ok(config) => match guarded(
                "action validation",
                entry.imp.validate(&self.ctx(), &config),
            )
            .await
            {
                Ok(d) => diags_proto(&d),
                Err(d) => one(d),
            },
        };
        Ok(Response::new(pb::validate_action_config::Response {
            diagnostics,
        }))
    }

    async fn stop_provider(
        &self,
        _r: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        tracing::info!("StopProvider received: cancelling in-flight operations");
        self.stop.cancel();
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}
