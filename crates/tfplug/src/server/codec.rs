//! Between the wire and the provider: decoding Terraform's dynamic values,
//! encoding the provider's, client capabilities, write-only attributes, and
//! the panic guard around provider code.

use crate::diag::{Diagnostic, Diagnostics};
use crate::provider::ClientCapabilities;
use crate::schema::{IdentitySchema, Schema};
use crate::value::{from_msgpack, to_msgpack, Type, Value};
use futures::FutureExt;
use magma_protocol::tfplugin6 as pb;
use std::future::Future;
use std::panic::AssertUnwindSafe;

pub(super) fn decode(dv: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, Diagnostic> {
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

pub(super) fn encode(v: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostic> {
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

pub(super) fn encode_identity(
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

/// Runs provider code, turning a panic into an error diagnostic naming
/// `provider` (its display name, given to `serve`). The panic hook (see
/// `log::init`) logs the details; the user sees no backtrace.
pub(super) async fn guarded<T, F>(provider: &str, what: &str, fut: F) -> Result<T, Diagnostic>
where
    F: Future<Output = T>,
{
    AssertUnwindSafe(fut).catch_unwind().await.map_err(|_| {
        Diagnostic::error(
            format!("Internal error in the {provider} provider"),
            format!("The provider hit a bug while running {what}. The provider log (TF_LOG=DEBUG) has the details; please report it."),
        )
    })
}

/// Nulls write-only attributes, which Terraform ≥ 1.11 refuses in plan or
/// state. On older cores the flag is not honoured, so values stay.
pub(super) fn strip_write_only(
    schema: &Schema,
    mut v: Value,
    client: &ClientCapabilities,
) -> Value {
    if !client.write_only_attributes_allowed || v.is_null() {
        return v;
    }
    schema.block.null_write_only(&mut v);
    v
}

pub(super) fn client_caps(
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

pub(super) fn diags_proto(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.to_proto()
}

pub(super) fn one(d: Diagnostic) -> Vec<pb::Diagnostic> {
    vec![d.to_proto()]
}
