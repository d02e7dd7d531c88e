//! The `kong` provider: its configuration and the list of what it offers.

use crate::actions;
use crate::admin_api;
use crate::data_sources;
use crate::functions;
use crate::kong::AdminSettings;
use crate::resources;
use std::sync::{Arc, RwLock};
use tfplug::{
    async_trait, Action, Ctx, DataSource, Diagnostic, Diagnostics, Function, Provider, Resource,
    Schema, Value,
};

/// Environment variable that makes the provider also serve its test-only
/// resources (used by the acceptance tests, never documented for users).
pub const ENV_TEST_RESOURCES: &str = "TF_KONG_TEST_RESOURCES";

/// What resources share: the provider configuration, once known.
#[derive(Default)]
pub struct ProviderState {
    admin: RwLock<Option<AdminSettings>>,
}

impl ProviderState {
    /// The provider-level Admin API settings. Before `configure` (Terraform
    /// validates configs without configuring) the environment fallbacks
    /// apply.
    pub fn admin_settings(&self) -> Result<AdminSettings, Diagnostic> {
        if let Some(s) = self.admin.read().ok().and_then(|g| g.clone()) {
            return Ok(s);
        }
        admin_api::settings_from_provider_config(&Value::Null)
    }
}

pub struct KongProvider {
    state: Arc<ProviderState>,
    test_resources: bool,
}

impl KongProvider {
    pub fn new() -> Self {
        KongProvider {
            state: Arc::default(),
            test_resources: std::env::var(ENV_TEST_RESOURCES).is_ok_and(|v| v == "1"),
        }
    }
}

impl Default for KongProvider {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Provider for KongProvider {
    fn type_name(&self) -> &'static str {
        "kong"
    }

    fn schema(&self) -> Schema {
        Schema::new(0, admin_api::provider_block())
    }

    async fn validate(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        if !config.is_wholly_known() {
            return Diagnostics::new();
        }
        match admin_api::settings_from_provider_config(config) {
            Ok(_) => Diagnostics::new(),
            Err(d) => d.into(),
        }
    }

    async fn configure(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        if !config.is_wholly_known() {
            // Values known only after apply (e.g. a token from another
            // resource): resources fall back to the environment until then.
            return Diagnostics::new();
        }
        match admin_api::settings_from_provider_config(config) {
            Ok(settings) => {
                if let Ok(mut g) = self.state.admin.write() {
                    *g = Some(settings);
                }
                Diagnostics::new()
            }
            Err(d) => d.into(),
        }
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        let mut out: Vec<Arc<dyn Resource>> = vec![
            Arc::new(resources::kong_upgrade::KongUpgrade::new(
                self.state.clone(),
            )),
            Arc::new(resources::kong_traffic_split::KongTrafficSplit),
        ];
        out.push(Arc::new(
            resources::kong_migration_phase::KongMigrationPhase,
        ));
        if self.test_resources {
            out.push(Arc::new(resources::test_wait::TestWait));
        }
        out
    }

    fn functions(&self) -> Vec<Arc<dyn Function>> {
        vec![
            Arc::new(functions::upgrade_path::UpgradePath),
            Arc::new(functions::version_compare::VersionCompare),
        ]
    }

    fn actions(&self) -> Vec<Arc<dyn Action>> {
        vec![
            Arc::new(actions::kong_abort::KongAbort),
            Arc::new(actions::kong_promote::KongPromote),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![
            Arc::new(data_sources::kong_node::KongNode::new(self.state.clone())),
            Arc::new(data_sources::kong_migrations::KongMigrations),
            Arc::new(data_sources::kong_data_planes::KongDataPlanes::new(
                self.state.clone(),
            )),
            Arc::new(data_sources::kong_upgrade_path::KongUpgradePath),
        ]
    }
}
