//! What the provider offers, built once per process: every resource, data
//! source, function and action with its schema and value type, and the
//! `GetProviderSchema` answer derived from them.

use crate::provider::{Action, DataSource, Function, Provider, Resource};
use crate::schema::{IdentitySchema, Schema};
use crate::value::Type;
use magma_protocol::tfplugin6 as pb;
use std::collections::BTreeMap;
use std::sync::Arc;
use tonic::Status;

pub(super) struct ResourceEntry {
    pub(super) imp: Arc<dyn Resource>,
    pub(super) schema: Schema,
    pub(super) ty: Type,
    pub(super) identity: Option<IdentitySchema>,
}

pub(super) struct DataSourceEntry {
    pub(super) imp: Arc<dyn DataSource>,
    pub(super) schema: Schema,
    pub(super) ty: Type,
}

pub(super) struct ActionEntry {
    pub(super) imp: Arc<dyn Action>,
    pub(super) schema: Schema,
    pub(super) ty: Type,
}

/// Schemas and implementations, built once per process.
pub(super) struct Registry {
    pub(super) provider_schema: Schema,
    pub(super) provider_type: Type,
    pub(super) resources: BTreeMap<String, ResourceEntry>,
    pub(super) data_sources: BTreeMap<String, DataSourceEntry>,
    pub(super) functions: BTreeMap<String, Arc<dyn Function>>,
    pub(super) actions: BTreeMap<String, ActionEntry>,
    pub(super) schema_response: pb::get_provider_schema::Response,
}

/// A type name this provider does not serve; `?` turns it into
/// `NOT_FOUND`. (A `Status` is too large to return from every helper.)
pub(super) struct Unknown {
    kind: &'static str,
    name: String,
}

impl From<Unknown> for Status {
    fn from(unknown: Unknown) -> Status {
        Status::not_found(format!("unknown {} {}", unknown.kind, unknown.name))
    }
}

fn lookup<'a, T>(
    map: &'a BTreeMap<String, T>,
    kind: &'static str,
    name: &str,
) -> Result<&'a T, Unknown> {
    map.get(name).ok_or_else(|| Unknown {
        kind,
        name: name.to_owned(),
    })
}

impl Registry {
    pub(super) fn resource(&self, name: &str) -> Result<&ResourceEntry, Unknown> {
        lookup(&self.resources, "resource type", name)
    }

    pub(super) fn data_source(&self, name: &str) -> Result<&DataSourceEntry, Unknown> {
        lookup(&self.data_sources, "data source", name)
    }

    pub(super) fn function(&self, name: &str) -> Result<&Arc<dyn Function>, Unknown> {
        lookup(&self.functions, "function", name)
    }

    pub(super) fn action(&self, name: &str) -> Result<&ActionEntry, Unknown> {
        lookup(&self.actions, "action", name)
    }
}

pub(super) fn build_registry<P: Provider>(provider: &P) -> Registry {
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
        provider_schema,
        resources,
        data_sources,
        functions,
        actions,
        schema_response,
    }
}

pub(super) fn server_capabilities() -> pb::ServerCapabilities {
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
