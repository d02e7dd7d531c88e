//! Provider-level RPCs: metadata, schema, provider validation and
//! configuration, and `StopProvider`.

use super::codec::{client_caps, decode, diags_proto, one};
use super::registry::server_capabilities;
use super::ProviderServer;
use crate::provider::Provider;
use magma_protocol::tfplugin6 as pb;
use tonic::Status;

impl<P: Provider> ProviderServer<P> {
    pub(super) async fn metadata(
        &self,
        _r: pb::get_metadata::Request,
    ) -> Result<pb::get_metadata::Response, Status> {
        let reg = &self.registry;
        Ok(pb::get_metadata::Response {
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
        })
    }

    pub(super) async fn provider_schema(
        &self,
        _r: pb::get_provider_schema::Request,
    ) -> Result<pb::get_provider_schema::Response, Status> {
        Ok(self.registry.schema_response.clone())
    }

    pub(super) async fn validate_provider(
        &self,
        r: pb::validate_provider_config::Request,
    ) -> Result<pb::validate_provider_config::Response, Status> {
        let schema = &self.registry.provider_schema;
        let (config, ctx) = (r.config.as_ref(), self.ctx());
        let diagnostics = self
            .validate_config("provider validation", schema, config, ctx, &*self.provider)
            .await;
        Ok(pb::validate_provider_config::Response { diagnostics })
    }

    pub(super) async fn configure(
        &self,
        r: pb::configure_provider::Request,
    ) -> Result<pb::configure_provider::Response, Status> {
        if let Ok(mut c) = self.client.write() {
            *c = client_caps(r.client_capabilities.as_ref(), &c);
            c.terraform_version = r.terraform_version.clone();
        }
        tracing::debug!(terraform_version = %r.terraform_version, "configuring provider");
        let diagnostics = match decode(r.config.as_ref(), &self.registry.provider_type) {
            Err(d) => one(d),
            Ok(config) => {
                let ctx = self.ctx();
                let configured = self.provider.configure(&ctx, &config);
                match self.guarded("provider configuration", configured).await {
                    Ok(d) => diags_proto(&d),
                    Err(d) => one(d),
                }
            }
        };
        Ok(pb::configure_provider::Response { diagnostics })
    }

    pub(super) async fn stop(
        &self,
        _r: pb::stop_provider::Request,
    ) -> Result<pb::stop_provider::Response, Status> {
        tracing::info!("StopProvider received: cancelling in-flight operations");
        self.stop.cancel();
        Ok(pb::stop_provider::Response {
            error: String::new(),
        })
    }
}
