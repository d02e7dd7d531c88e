//! The tfplugin6 gRPC service: decodes requests, dispatches to the
//! provider's resources, encodes responses. Panics inside provider code are
//! caught and reported as a diagnostic without a backtrace.
//!
//! `mod.rs` wires each RPC to its handler (`provider_rpcs.rs`,
//! `resource.rs`, `data_rpcs.rs`) and answers the RPCs this framework does
//! not offer; `registry.rs` holds what the provider serves and `codec.rs`
//! what lies between the wire and the provider.

mod codec;
mod data_rpcs;
mod provider_rpcs;
mod registry;
mod resource;
#[cfg(test)]
mod tests;

use crate::diag::Diagnostics;
use crate::provider::{ClientCapabilities, Ctx, Provider};
use crate::schema::Schema;
use crate::value::Value;
use magma_protocol::tfplugin6 as pb;
use magma_protocol::tfplugin6::provider_server::Provider as GrpcProvider;
use registry::{build_registry, Registry};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

type Stream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The tfplugin6 service around one provider.
pub struct ProviderServer<P: Provider> {
    provider: Arc<P>,
    /// The provider's display name, for "Internal error in the … provider".
    name: &'static str,
    registry: Arc<Registry>,
    stop: CancellationToken,
    client: Arc<RwLock<ClientCapabilities>>,
}

impl<P: Provider> ProviderServer<P> {
    /// Builds the registry of `provider` once; `stop` is cancelled by
    /// `StopProvider` and by the signals `serve` handles.
    pub fn new(provider: P, name: &'static str, stop: CancellationToken) -> Self {
        let registry = Arc::new(build_registry(&provider));
        ProviderServer {
            provider: Arc::new(provider),
            name,
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

    async fn guarded<T>(
        &self,
        what: &str,
        fut: impl Future<Output = T>,
    ) -> Result<T, crate::diag::Diagnostic> {
        codec::guarded(self.name, what, fut).await
    }

    /// Decodes a configuration sent for validation and judges it: the
    /// checks declared in `schema` first (validators, exactly-one-of,
    /// conflicts), then `target`'s own `validate`, which sees only a
    /// configuration that passed them, so no fault is reported twice.
    async fn validate_config<V: ValidatesConfig + ?Sized>(
        &self,
        what: &str,
        schema: &Schema,
        config: Option<&pb::DynamicValue>,
        ctx: Ctx,
        target: &V,
    ) -> Vec<pb::Diagnostic> {
        let config = match codec::decode(config, &schema.value_type()) {
            Ok(config) => config,
            Err(d) => return codec::one(d),
        };
        let mut diags = schema.validate(&config);
        if !diags.has_errors() {
            match self
                .guarded(what, target.validate_config(&ctx, &config))
                .await
            {
                Ok(d) => diags.extend(d),
                Err(d) => diags.push(d),
            }
        }
        diags.to_proto()
    }
}

/// The future an `async_trait` method returns.
type Checking<'a> = Pin<Box<dyn Future<Output = Diagnostics> + Send + 'a>>;

/// What has a `validate` of its own: the provider, its resources, data
/// sources and actions.
trait ValidatesConfig: Sync {
    fn validate_config<'a>(&'a self, ctx: &'a Ctx, config: &'a Value) -> Checking<'a>;
}

/// Implements `ValidatesConfig` by calling the type's own `validate`.
macro_rules! validates_config {
    ($($t:ty),*) => {$(
        impl ValidatesConfig for $t {
            fn validate_config<'a>(&'a self, ctx: &'a Ctx, config: &'a Value) -> Checking<'a> {
                self.validate(ctx, config)
            }
        }
    )*};
}

validates_config!(
    dyn crate::provider::Resource,
    dyn crate::provider::DataSource,
    dyn crate::provider::Action
);

impl<P: Provider> ValidatesConfig for P {
    fn validate_config<'a>(&'a self, ctx: &'a Ctx, config: &'a Value) -> Checking<'a> {
        self.validate(ctx, config)
    }
}

/// Writes the `GrpcProvider` impl: each handled RPC unwraps its request and
/// calls its handler; each RPC in `unsupported` answers `UNIMPLEMENTED` with
/// its reason; the items in `rest` (streaming RPCs) are copied as written.
macro_rules! grpc_provider {
    (
        handled { $($rpc:ident($req:ty) -> $resp:ty => $handler:ident;)* }
        unsupported { $($stub:ident($sreq:ty) -> $sresp:ty : $why:expr;)* }
        rest { $($rest:tt)* }
    ) => {
        #[tonic::async_trait]
        impl<P: Provider> GrpcProvider for ProviderServer<P> {
            $(
                async fn $rpc(&self, r: Request<$req>) -> Result<Response<$resp>, Status> {
                    self.$handler(r.into_inner()).await.map(Response::new)
                }
            )*
            $(
                async fn $stub(&self, _r: Request<$sreq>) -> Result<Response<$sresp>, Status> {
                    Err(Status::unimplemented($why))
                }
            )*
            $($rest)*
        }
    };
}

const NO_EPHEMERAL: &str = "this provider has no ephemeral resources";
const NO_LIST: &str = "this provider has no list resources";
const NO_STATE_STORE: &str = "this provider has no state stores";

grpc_provider! {
    handled {
        get_metadata(pb::get_metadata::Request) -> pb::get_metadata::Response => metadata;
        get_provider_schema(pb::get_provider_schema::Request)
            -> pb::get_provider_schema::Response => provider_schema;
        validate_provider_config(pb::validate_provider_config::Request)
            -> pb::validate_provider_config::Response => validate_provider;
        configure_provider(pb::configure_provider::Request)
            -> pb::configure_provider::Response => configure;
        stop_provider(pb::stop_provider::Request) -> pb::stop_provider::Response => stop;
        validate_resource_config(pb::validate_resource_config::Request)
            -> pb::validate_resource_config::Response => validate_resource;
        upgrade_resource_state(pb::upgrade_resource_state::Request)
            -> pb::upgrade_resource_state::Response => upgrade_state;
        get_resource_identity_schemas(pb::get_resource_identity_schemas::Request)
            -> pb::get_resource_identity_schemas::Response => identity_schemas;
        upgrade_resource_identity(pb::upgrade_resource_identity::Request)
            -> pb::upgrade_resource_identity::Response => upgrade_identity;
        read_resource(pb::read_resource::Request) -> pb::read_resource::Response => read_resource_rpc;
        plan_resource_change(pb::plan_resource_change::Request)
            -> pb::plan_resource_change::Response => plan_resource;
        apply_resource_change(pb::apply_resource_change::Request)
            -> pb::apply_resource_change::Response => apply_resource;
        import_resource_state(pb::import_resource_state::Request)
            -> pb::import_resource_state::Response => import_resource;
        validate_data_resource_config(pb::validate_data_resource_config::Request)
            -> pb::validate_data_resource_config::Response => validate_data_source;
        read_data_source(pb::read_data_source::Request) -> pb::read_data_source::Response => read_data;
        get_functions(pb::get_functions::Request) -> pb::get_functions::Response => functions_rpc;
        call_function(pb::call_function::Request) -> pb::call_function::Response => call;
        validate_action_config(pb::validate_action_config::Request)
            -> pb::validate_action_config::Response => validate_action;
        plan_action(pb::plan_action::Request) -> pb::plan_action::Response => plan_action_rpc;
    }
    unsupported {
        move_resource_state(pb::move_resource_state::Request) -> pb::move_resource_state::Response
            : "moving state between resource types is not supported";
        generate_resource_config(pb::generate_resource_config::Request)
            -> pb::generate_resource_config::Response : "config generation is not supported";
        validate_ephemeral_resource_config(pb::validate_ephemeral_resource_config::Request)
            -> pb::validate_ephemeral_resource_config::Response : NO_EPHEMERAL;
        open_ephemeral_resource(pb::open_ephemeral_resource::Request)
            -> pb::open_ephemeral_resource::Response : NO_EPHEMERAL;
        renew_ephemeral_resource(pb::renew_ephemeral_resource::Request)
            -> pb::renew_ephemeral_resource::Response : NO_EPHEMERAL;
        close_ephemeral_resource(pb::close_ephemeral_resource::Request)
            -> pb::close_ephemeral_resource::Response : NO_EPHEMERAL;
        validate_list_resource_config(pb::validate_list_resource_config::Request)
            -> pb::validate_list_resource_config::Response : NO_LIST;
        validate_state_store_config(pb::validate_state_store::Request)
            -> pb::validate_state_store::Response : NO_STATE_STORE;
        configure_state_store(pb::configure_state_store::Request)
            -> pb::configure_state_store::Response : NO_STATE_STORE;
        lock_state(pb::lock_state::Request) -> pb::lock_state::Response : NO_STATE_STORE;
        unlock_state(pb::unlock_state::Request) -> pb::unlock_state::Response : NO_STATE_STORE;
        get_states(pb::get_states::Request) -> pb::get_states::Response : NO_STATE_STORE;
        delete_state(pb::delete_state::Request) -> pb::delete_state::Response : NO_STATE_STORE;
        write_state_bytes(tonic::Streaming<pb::write_state_bytes::RequestChunk>)
            -> pb::write_state_bytes::Response : NO_STATE_STORE;
    }
    rest {
        type ListResourceStream = Stream<pb::list_resource::Event>;

        async fn list_resource(
            &self,
            _r: Request<pb::list_resource::Request>,
        ) -> Result<Response<Self::ListResourceStream>, Status> {
            Err(Status::unimplemented(NO_LIST))
        }

        type ReadStateBytesStream = Stream<pb::read_state_bytes::Response>;

        async fn read_state_bytes(
            &self,
            _r: Request<pb::read_state_bytes::Request>,
        ) -> Result<Response<Self::ReadStateBytesStream>, Status> {
            Err(Status::unimplemented(NO_STATE_STORE))
        }

        type InvokeActionStream = data_rpcs::ActionEvents;

        async fn invoke_action(
            &self,
            r: Request<pb::invoke_action::Request>,
        ) -> Result<Response<Self::InvokeActionStream>, Status> {
            self.invoke(r.into_inner()).await.map(Response::new)
        }
    }
}
