//! `data "kong_node"`: the facts of one Kong node, from its Admin API.

use crate::admin_api;
use crate::kong::{KongClient, NodeInfo};
use crate::provider::ProviderState;
use std::sync::Arc;
use tfplug::{
    async_trait, AttrPath, Attribute, Block, Check, Ctx, DataSource, Diagnostics, Schema, Type,
    Value,
};

pub struct KongNode {
    state: Arc<ProviderState>,
}

impl KongNode {
    pub fn new(state: Arc<ProviderState>) -> Self {
        KongNode { state }
    }
}

fn schema() -> Schema {
    let mut block = Block::new()
        .describe(
            "Reads one Kong Gateway node through its Admin API (`GET /` and `GET /status`): its version, edition, \
             role, database mode and plugins. Works with Kong 2.8 and 3.x response shapes, open-source and Enterprise.",
        )
        .attr(Attribute::string("admin_url").required().check(Check::HttpUrl).describe("Base URL of the node's Admin API, e.g. `http://kong-x:8001`."));
    for a in admin_api::override_attributes() {
        block = block.attr(a);
    }
    let block = block
        .attr(
            Attribute::string("id")
                .computed()
                .describe("The node's `node_id`."),
        )
        .attr(
            Attribute::string("version")
                .computed()
                .describe("Kong version, normalized (`3.4.2`, or `3.10.0.1` for Enterprise)."),
        )
        .attr(
            Attribute::string("edition")
                .computed()
                .describe("`community` or `enterprise`."),
        )
        .attr(
            Attribute::string("hostname")
                .computed()
                .describe("The node's hostname."),
        )
        .attr(
            Attribute::string("node_id")
                .computed()
                .describe("The node's ID (random per start unless configured)."),
        )
        .attr(
            Attribute::string("database")
                .computed()
                .describe("`postgres`, or `off` for DB-less nodes and data planes."),
        )
        .attr(
            Attribute::string("role")
                .computed()
                .describe("`traditional`, `control_plane` or `data_plane`."),
        )
        .attr(
            Attribute::list_of("plugins_available", Type::String)
                .computed()
                .describe("Plugins installed on the node, sorted."),
        )
        .attr(
            Attribute::list_of("plugins_enabled", Type::String)
                .computed()
                .describe("Plugins configured in the cluster, sorted."),
        )
        .attr(
            Attribute::bool("database_reachable")
                .computed()
                .describe("Whether the node reaches its database; null without a database."),
        )
        .attr(Attribute::string("configuration_hash").computed().describe(
            "Hash of the loaded configuration (DB-less nodes and data planes); null otherwise.",
        ));
    Schema::new(0, block)
}

fn node_to_state(config: &Value, n: &NodeInfo) -> Value {
    let mut state = config.clone();
    let strings = |v: &[String]| Value::List(v.iter().map(|s| Value::from(s.as_str())).collect());
    state.set_attr("id", n.node_id.as_str().into());
    state.set_attr("version", n.version.to_string().into());
    state.set_attr("edition", n.edition.as_str().into());
    state.set_attr("hostname", n.hostname.as_str().into());
    state.set_attr("node_id", n.node_id.as_str().into());
    state.set_attr("database", n.database.as_str().into());
    state.set_attr("role", n.role.as_str().into());
    state.set_attr("plugins_available", strings(&n.plugins_available));
    state.set_attr("plugins_enabled", strings(&n.plugins_enabled));
    state.set_attr("database_reachable", n.database_reachable.into());
    state.set_attr("configuration_hash", n.configuration_hash.clone().into());
    state
}

#[async_trait]
impl DataSource for KongNode {
    fn type_name(&self) -> &'static str {
        "kong_node"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let Some(url) = config.attr("admin_url").as_str() else {
            diags.error_at(
                AttrPath::root("admin_url"),
                "Missing admin_url",
                "admin_url must be known to read a node.",
            );
            return (Value::Null, diags);
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
                    admin_api::error_diagnostic(AttrPath::root("admin_url"), &e).into(),
                )
            }
        };
        let info = tokio::select! {
            r = client.node_info() => r,
            _ = ctx.cancel.cancelled() => {
                diags.error("Interrupted", "Terraform asked the provider to stop before the node was read.");
                return (Value::Null, diags);
            }
        };
        match info {
            Ok(n) => {
                tracing::debug!(version = %n.version, role = n.role.as_str(), "read Kong node");
                (node_to_state(config, &n), diags)
            }
            Err(e) => (
                Value::Null,
                admin_api::error_diagnostic(AttrPath::root("admin_url"), &e).into(),
            ),
        }
    }
}
