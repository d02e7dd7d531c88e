//! Managed resource RPCs: validate, state and identity upgrades, read, plan,
//! apply and import.

use super::codec::{
    client_caps, decode, diags_proto, encode, encode_identity, one, strip_write_only,
};
use super::ProviderServer;
use crate::diag::{Diagnostic, Diagnostics};
use crate::provider::{ApplyRequest, ImportId, PlanRequest, Provider, ReadRequest};
use crate::value::Value;
use magma_protocol::tfplugin6 as pb;
use std::collections::HashMap;
use tonic::Status;

impl<P: Provider> ProviderServer<P> {
    pub(super) async fn validate_resource(
        &self,
        r: pb::validate_resource_config::Request,
    ) -> Result<pb::validate_resource_config::Response, Status> {
        let entry = self.registry.resource(&r.type_name)?;
        let mut ctx = self.ctx();
        ctx.client = client_caps(r.client_capabilities.as_ref(), &ctx.client);
        let config = r.config.as_ref();
        let diagnostics = self
            .validate_config("validation", &entry.schema, config, ctx, &*entry.imp)
            .await;
        Ok(pb::validate_resource_config::Response { diagnostics })
    }

    pub(super) async fn upgrade_state(
        &self,
        r: pb::upgrade_resource_state::Request,
    ) -> Result<pb::upgrade_resource_state::Response, Status> {
        let entry = self.registry.resource(&r.type_name)?;
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
        Ok(match result {
            Ok(dv) => pb::upgrade_resource_state::Response {
                upgraded_state: Some(dv),
                diagnostics: vec![],
            },
            Err(d) => pb::upgrade_resource_state::Response {
                upgraded_state: None,
                diagnostics: diags_proto(&d),
            },
        })
    }

    pub(super) async fn identity_schemas(
        &self,
        _r: pb::get_resource_identity_schemas::Request,
    ) -> Result<pb::get_resource_identity_schemas::Response, Status> {
        let identity_schemas: HashMap<String, pb::ResourceIdentitySchema> = self
            .registry
            .resources
            .iter()
            .filter_map(|(k, e)| e.identity.as_ref().map(|i| (k.clone(), i.to_proto())))
            .collect();
        Ok(pb::get_resource_identity_schemas::Response {
            identity_schemas,
            diagnostics: vec![],
        })
    }

    pub(super) async fn upgrade_identity(
        &self,
        r: pb::upgrade_resource_identity::Request,
    ) -> Result<pb::upgrade_resource_identity::Response, Status> {
        let entry = self.registry.resource(&r.type_name)?;
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
        Ok(match upgraded {
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
        })
    }

    pub(super) async fn read_resource_rpc(
        &self,
        r: pb::read_resource::Request,
    ) -> Result<pb::read_resource::Response, Status> {
        let entry = self.registry.resource(&r.type_name)?;
        let current = match decode(r.current_state.as_ref(), &entry.ty) {
            Ok(v) => v,
            Err(d) => {
                return Ok(pb::read_resource::Response {
                    diagnostics: one(d),
                    ..Default::default()
                })
            }
        };
        let mut ctx = self.ctx();
        ctx.client = client_caps(r.client_capabilities.as_ref(), &ctx.client);
        tracing::debug!(resource = %r.type_name, "read");
        let req = ReadRequest {
            current: current.clone(),
            private: r.private.clone(),
        };
        let resp = match self.guarded("read", entry.imp.read(&ctx, req)).await {
            Ok(resp) => resp,
            Err(d) => {
                return Ok(pb::read_resource::Response {
                    new_state: r.current_state,
                    private: r.private,
                    diagnostics: one(d),
                    ..Default::default()
                })
            }
        };
        let new_state = strip_write_only(&entry.schema, resp.new_state, &ctx.client);
        let mut diags = resp.diags;
        let encoded = encode(&new_state, &entry.ty)
            .map_err(|d| diags.push(d))
            .ok();
        Ok(pb::read_resource::Response {
            new_identity: encode_identity(entry.imp.identity(&new_state), entry.identity.as_ref()),
            new_state: encoded,
            diagnostics: diags_proto(&diags),
            private: resp.private,
            deferred: None,
        })
    }

    pub(super) async fn plan_resource(
        &self,
        r: pb::plan_resource_change::Request,
    ) -> Result<pb::plan_resource_change::Response, Status> {
        let entry = self.registry.resource(&r.type_name)?;
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
                return Ok(pb::plan_resource_change::Response {
                    diagnostics: one(d),
                    ..Default::default()
                })
            }
        };
        let mut ctx = self.ctx();
        ctx.client = client_caps(r.client_capabilities.as_ref(), &ctx.client);
        tracing::debug!(resource = %r.type_name, "plan");
        let prior_for_replace = prior.clone();
        let req = PlanRequest {
            config,
            prior,
            proposed,
            prior_private: r.prior_private,
        };
        let resp = match self.guarded("plan", entry.imp.plan(&ctx, req)).await {
            Ok(resp) => resp,
            Err(d) => {
                return Ok(pb::plan_resource_change::Response {
                    diagnostics: one(d),
                    ..Default::default()
                })
            }
        };
        let planned = strip_write_only(&entry.schema, resp.planned, &ctx.client);
        let mut requires_replace = resp.requires_replace;
        for path in entry.schema.replaced_paths(&prior_for_replace, &planned) {
            if !requires_replace.contains(&path) {
                requires_replace.push(path);
            }
        }
        let mut diags = resp.diags;
        let encoded = encode(&planned, &entry.ty).map_err(|d| diags.push(d)).ok();
        Ok(pb::plan_resource_change::Response {
            planned_identity: encode_identity(
                entry.imp.identity(&planned),
                entry.identity.as_ref(),
            )
            .filter(|_| planned.is_wholly_known()),
            planned_state: encoded,
            requires_replace: requires_replace.iter().map(|p| p.to_proto()).collect(),
            planned_private: resp.private,
            diagnostics: diags_proto(&diags),
            legacy_type_system: false,
            deferred: None,
        })
    }

    pub(super) async fn apply_resource(
        &self,
        r: pb::apply_resource_change::Request,
    ) -> Result<pb::apply_resource_change::Response, Status> {
        let entry = self.registry.resource(&r.type_name)?;
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
                return Ok(pb::apply_resource_change::Response {
                    new_state: r.prior_state,
                    diagnostics: one(d),
                    ..Default::default()
                })
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
        let resp = match self.guarded("apply", entry.imp.apply(&ctx, req)).await {
            Ok(resp) => resp,
            Err(d) => {
                return Ok(pb::apply_resource_change::Response {
                    new_state: r.prior_state,
                    diagnostics: one(d),
                    ..Default::default()
                })
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
        Ok(pb::apply_resource_change::Response {
            new_identity: encode_identity(entry.imp.identity(&new_state), entry.identity.as_ref()),
            new_state: encoded,
            private: resp.private,
            diagnostics: diags_proto(&diags),
            legacy_type_system: false,
        })
    }

    pub(super) async fn import_resource(
        &self,
        r: pb::import_resource_state::Request,
    ) -> Result<pb::import_resource_state::Response, Status> {
        let entry = self.registry.resource(&r.type_name)?;
        let id = match (
            r.id.is_empty(),
            r.identity.as_ref().and_then(|i| i.identity_data.as_ref()),
            &entry.identity,
        ) {
            (true, Some(data), Some(schema)) => match decode(Some(data), &schema.value_type()) {
                Ok(v) => ImportId::Identity(v),
                Err(d) => {
                    return Ok(pb::import_resource_state::Response {
                        diagnostics: one(d),
                        ..Default::default()
                    })
                }
            },
            _ => ImportId::Id(r.id.clone()),
        };
        let ctx = self.ctx();
        let resp = match self.guarded("import", entry.imp.import(&ctx, id)).await {
            Ok(resp) => resp,
            Err(d) => {
                return Ok(pb::import_resource_state::Response {
                    diagnostics: one(d),
                    ..Default::default()
                })
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
        Ok(pb::import_resource_state::Response {
            imported_resources,
            diagnostics: diags_proto(&diags),
            deferred: None,
        })
    }
}
