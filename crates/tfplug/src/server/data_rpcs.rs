//! Data source, function and action RPCs.

use super::codec::{decode, diags_proto, encode, one};
use super::ProviderServer;
use crate::diag::Diagnostics;
use crate::provider::Provider;
use crate::value::Value;
use magma_protocol::tfplugin6 as pb;
use std::panic::AssertUnwindSafe;
use tonic::Status;

/// The stream `InvokeAction` answers with.
pub(super) type ActionEvents = super::Stream<pb::invoke_action::Event>;

impl<P: Provider> ProviderServer<P> {
    pub(super) async fn validate_data_source(
        &self,
        r: pb::validate_data_resource_config::Request,
    ) -> Result<pb::validate_data_resource_config::Response, Status> {
        let entry = self.registry.data_source(&r.type_name)?;
        let (config, ctx) = (r.config.as_ref(), self.ctx());
        let diagnostics = self
            .validate_config("validation", &entry.schema, config, ctx, &*entry.imp)
            .await;
        Ok(pb::validate_data_resource_config::Response { diagnostics })
    }

    pub(super) async fn read_data(
        &self,
        r: pb::read_data_source::Request,
    ) -> Result<pb::read_data_source::Response, Status> {
        let entry = self.registry.data_source(&r.type_name)?;
        let config = match decode(r.config.as_ref(), &entry.ty) {
            Ok(v) => v,
            Err(d) => {
                return Ok(pb::read_data_source::Response {
                    diagnostics: one(d),
                    ..Default::default()
                })
            }
        };
        tracing::debug!(data_source = %r.type_name, "read");
        let ctx = self.ctx();
        let (state, mut diags) = match self
            .guarded("data source read", entry.imp.read(&ctx, &config))
            .await
        {
            Ok(out) => out,
            Err(d) => (Value::Null, Diagnostics::from(d)),
        };
        let state = if diags.has_errors() {
            None
        } else {
            encode(&state, &entry.ty).map_err(|d| diags.push(d)).ok()
        };
        Ok(pb::read_data_source::Response {
            state,
            diagnostics: diags_proto(&diags),
            deferred: None,
        })
    }

    pub(super) async fn functions_rpc(
        &self,
        _r: pb::get_functions::Request,
    ) -> Result<pb::get_functions::Response, Status> {
        Ok(pb::get_functions::Response {
            functions: self.registry.schema_response.functions.clone(),
            diagnostics: vec![],
        })
    }

    pub(super) async fn call(
        &self,
        r: pb::call_function::Request,
    ) -> Result<pb::call_function::Response, Status> {
        let f = self.registry.function(&r.name)?;
        let sig = f.signature();
        let fail = |text: String, arg: Option<i64>| pb::call_function::Response {
            result: None,
            error: Some(pb::FunctionError {
                text,
                function_argument: arg,
            }),
        };
        let mut args = Vec::with_capacity(r.arguments.len());
        for (i, (dv, p)) in r.arguments.iter().zip(&sig.params).enumerate() {
            match decode(Some(dv), &p.ty) {
                Ok(v) => args.push(v),
                Err(d) => return Ok(fail(d.detail, Some(i as i64))),
            }
        }
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| f.call(&args)));
        Ok(match outcome {
            Ok(Ok(v)) => match encode(&v, &sig.returns) {
                Ok(dv) => pb::call_function::Response {
                    result: Some(dv),
                    error: None,
                },
                Err(d) => fail(d.detail, None),
            },
            Ok(Err(e)) => fail(e.text, e.argument),
            Err(_) => fail(format!("internal error in function {}", r.name), None),
        })
    }

    pub(super) async fn validate_action(
        &self,
        r: pb::validate_action_config::Request,
    ) -> Result<pb::validate_action_config::Response, Status> {
        let entry = self.registry.action(&r.type_name)?;
        let (config, ctx) = (r.config.as_ref(), self.ctx());
        let diagnostics = self
            .validate_config("action validation", &entry.schema, config, ctx, &*entry.imp)
            .await;
        Ok(pb::validate_action_config::Response { diagnostics })
    }

    pub(super) async fn plan_action_rpc(
        &self,
        r: pb::plan_action::Request,
    ) -> Result<pb::plan_action::Response, Status> {
        let entry = self.registry.action(&r.action_type)?;
        let diagnostics = match decode(r.config.as_ref(), &entry.ty) {
            Err(d) => one(d),
            Ok(config) => {
                let ctx = self.ctx();
                match self
                    .guarded("action plan", entry.imp.plan(&ctx, &config))
                    .await
                {
                    Ok(d) => diags_proto(&d),
                    Err(d) => one(d),
                }
            }
        };
        Ok(pb::plan_action::Response {
            diagnostics,
            deferred: None,
        })
    }

    /// Runs the action on its own task, streaming its progress lines and
    /// ending with one `Completed` event carrying its diagnostics.
    pub(super) async fn invoke(
        &self,
        r: pb::invoke_action::Request,
    ) -> Result<ActionEvents, Status> {
        use pb::invoke_action::event::{Completed, Progress, Type as Ev};
        let entry = self.registry.action(&r.action_type)?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let imp = entry.imp.clone();
        let ctx = self.ctx();
        let name = self.name;
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
                    let invoked = imp.invoke(&ctx, &config, &progress);
                    super::codec::guarded(name, "action", invoked)
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
        Ok(Box::pin(stream))
    }
}
