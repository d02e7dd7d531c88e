//! `data "kong_data_planes"`: the data planes a hybrid control plane knows
//! (`GET /clustering/data-planes`), with their versions and sync status —
//! what the rolling strategy's version-skew guard looks at.

use crate::admin_api;
use crate::kong::KongClient;
use crate::provider::ProviderState;
use std::sync::Arc;
use tfplug::{
    async_trait, AttrPath, Attribute, Block, Check, Ctx, DataSource, Diagnostics, Schema, Type,
    Value,
};

pub struct KongDataPlanes {
    state: Arc<ProviderState>,
}

impl KongDataPlanes {
    pub fn new(state: Arc<ProviderState>) -> Self {
        KongDataPlanes { state }
    }
}

fn data_plane_type() -> Type {
    Type::object([
        ("id", Type::String),
        ("hostname", Type::String),
        ("ip", Type::String),
        ("version", Type::String),
        ("sync_status", Type::String),
        ("config_hash", Type::String),
        ("last_seen", Type::Number),
    ])
}

fn data_plane_value(dp: &serde_json::Value) -> Value {
    let s = |k: &str| Value::from(dp.get(k).and_then(|v| v.as_str()).map(str::to_string));
    Value::object([
        ("id", s("id")),
        ("hostname", s("hostname")),
        ("ip", s("ip")),
        ("version", s("version")),
        ("sync_status", s("sync_status")),
        ("config_hash", s("config_hash")),
        (
            "last_seen",
            Value::from(dp.get("last_seen").and_then(|v| v.as_f64())),
        ),
    ])
}

#[async_trait]
impl DataSource for KongDataPlanes {
    fn type_name(&self) -> &'static str {
        "kong_data_planes"
    }

    fn schema(&self) -> Schema {
        let mut block = Block::new()
            .describe(
                "Lists the data planes connected to a hybrid-mode control plane, from its Admin API \
                 (`GET /clustering/data-planes`, paginated): each one's Kong version, `sync_status` \
                 (`normal`, `kong_version_incompatible`, `plugin_set_incompatible`, ...) and config hash.",
            )
            .attr(Attribute::string("admin_url").required().check(Check::HttpUrl).describe("Admin API of the control plane."));
        for a in admin_api::override_attributes() {
            block = block.attr(a);
        }
        block = block
            .attr(
                Attribute::list_of("data_planes", data_plane_type())
                    .computed()
                    .describe("The data planes, sorted by hostname then id."),
            )
            .attr(
                Attribute::list_of("versions", Type::String)
                    .computed()
                    .describe("Distinct Kong versions the data planes run, sorted."),
            )
            .attr(Attribute::number("incompatible_count").computed().describe(
                "How many data planes the control plane reports as not in `normal` sync.",
            ));
        Schema::new(0, block)
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> (Value, Diagnostics) {
        let Some(url) = config.attr("admin_url").as_str() else {
            return (Value::Null, Diagnostics::new());
        };
        let settings = match self.state.admin_settings() {
            Ok(s) => admin_api::with_overrides(&s, config),
            Err(d) => return (Value::Null, d.into()),
        };
        let client = match KongClient::new(url, &settings) {
            Ok(c) => c,
            Err(e) => {
                return (
                    Value::Null,
                    crate::admin_api::error_diagnostic(AttrPath::root("admin_url"), &e).into(),
                )
            }
        };
        let listed = tokio::select! {
            r = client.paginate("/clustering/data-planes") => r,
            _ = ctx.cancel.cancelled() => return (Value::Null, tfplug::Diagnostic::error("Interrupted", "Terraform asked the provider to stop.").into()),
        };
        let mut dps = match listed {
            Ok(d) => d,
            Err(e) => {
                return (
                    Value::Null,
                    crate::admin_api::error_diagnostic(AttrPath::root("admin_url"), &e).into(),
                )
            }
        };
        let key = |d: &serde_json::Value, k: &str| {
            d.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        dps.sort_by_key(|d| (key(d, "hostname"), key(d, "id")));
        let mut versions: Vec<String> = dps
            .iter()
            .map(|d| key(d, "version"))
            .filter(|v| !v.is_empty())
            .collect();
        versions.sort();
        versions.dedup();
        let incompatible = dps
            .iter()
            .filter(|d| key(d, "sync_status") != "normal")
            .count();
        let mut state = config.clone();
        state.set_attr(
            "data_planes",
            Value::List(dps.iter().map(data_plane_value).collect()),
        );
        state.set_attr(
            "versions",
            Value::List(versions.into_iter().map(Value::from).collect()),
        );
        state.set_attr("incompatible_count", Value::from(incompatible as i64));
        (state, Diagnostics::new())
    }
}
