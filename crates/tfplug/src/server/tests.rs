//! The RPC handlers driven directly (no socket, no Terraform) with a tiny
//! provider: one resource whose apply panics on request.

use super::ProviderServer;
use crate::diag::Diagnostics;
use crate::provider::{
    ApplyRequest, ApplyResponse, Ctx, DataSource, Provider, ReadRequest, ReadResponse, Resource,
};
use crate::schema::{Attribute, Block, Schema};
use crate::validate::{Check, Constraint};
use crate::value::{to_msgpack, Value};
use async_trait::async_trait;
use magma_protocol::tfplugin6 as pb;
use magma_protocol::tfplugin6::provider_server::Provider as GrpcProvider;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request};

struct Demo;
struct Thing;

fn thing_schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .attr(Attribute::string("id").computed())
            .attr(Attribute::string("name").required().requires_replace())
            .attr(
                Attribute::number("count")
                    .optional()
                    .check(Check::WholeNumber { min: 1, max: 10 }),
            )
            .attr(Attribute::string("url").optional().check(Check::HttpUrl))
            .attr(Attribute::string("secret").optional().sensitive())
            .attr(Attribute::string("secret_file").optional())
            .constraint(Constraint::ExactlyOneOf(vec![
                "secret".into(),
                "secret_file".into(),
            ])),
    )
}

#[async_trait]
impl Provider for Demo {
    fn type_name(&self) -> &'static str {
        "demo"
    }
    fn schema(&self) -> Schema {
        Schema::new(0, Block::new())
    }
    async fn configure(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Thing)]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }
}

#[async_trait]
impl Resource for Thing {
    fn type_name(&self) -> &'static str {
        "demo_thing"
    }
    fn schema(&self) -> Schema {
        thing_schema()
    }
    async fn validate(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if config.attr("name").as_str() == Some("reserved") {
            d.warning("Reserved name", "custom validation ran");
        }
        d
    }
    async fn apply(&self, _ctx: &Ctx, req: ApplyRequest) -> ApplyResponse {
        if req.planned.attr("name").as_str() == Some("boom") {
            panic!("the test resource panics on request");
        }
        let mut state = req.planned;
        state.set_attr("id", "thing-1".into());
        ApplyResponse {
            new_state: state,
            ..Default::default()
        }
    }
    async fn read(&self, _ctx: &Ctx, req: ReadRequest) -> ReadResponse {
        ReadResponse {
            new_state: req.current,
            ..Default::default()
        }
    }
}

fn server() -> ProviderServer<Demo> {
    ProviderServer::new(Demo, "Demo", CancellationToken::new())
}

fn thing(name: &str, extra: &[(&str, Value)]) -> Value {
    let mut v = Value::object([
        ("id", Value::Null),
        ("name", Value::from(name)),
        ("count", Value::Null),
        ("url", Value::Null),
        ("secret", Value::from("s")),
        ("secret_file", Value::Null),
    ]);
    for (k, x) in extra {
        v.set_attr(k, x.clone());
    }
    v
}

fn dv(v: &Value) -> Option<pb::DynamicValue> {
    let msgpack = to_msgpack(v, &thing_schema().value_type()).expect("encodable");
    Some(pb::DynamicValue {
        msgpack,
        json: vec![],
    })
}

fn decoded(dv: Option<pb::DynamicValue>) -> Value {
    let ty = thing_schema().value_type();
    crate::value::from_msgpack(&dv.expect("a value").msgpack, &ty).expect("decodable")
}

/// (summary, dotted attribute path) of each diagnostic.
fn faults(diags: &[pb::Diagnostic]) -> Vec<(String, String)> {
    use pb::attribute_path::step::Selector;
    diags
        .iter()
        .map(|d| {
            let path = d.attribute.as_ref().map_or_else(String::new, |a| {
                a.steps
                    .iter()
                    .map(|s| match &s.selector {
                        Some(Selector::AttributeName(n)) => n.clone(),
                        Some(Selector::ElementKeyString(k)) => format!("[{k:?}]"),
                        Some(Selector::ElementKeyInt(i)) => format!("[{i}]"),
                        None => String::new(),
                    })
                    .collect::<Vec<_>>()
                    .join(".")
            });
            (d.summary.clone(), path)
        })
        .collect()
}

async fn validate(config: Value) -> Vec<(String, String)> {
    let r = pb::validate_resource_config::Request {
        type_name: "demo_thing".into(),
        config: dv(&config),
        ..Default::default()
    };
    let resp = server()
        .validate_resource_config(Request::new(r))
        .await
        .expect("served");
    faults(&resp.into_inner().diagnostics)
}

#[tokio::test]
async fn the_schema_lists_the_resource_with_descriptions_from_its_checks() {
    let resp = server()
        .get_provider_schema(Request::new(Default::default()))
        .await
        .expect("served")
        .into_inner();
    let block = resp.resource_schemas["demo_thing"]
        .block
        .clone()
        .expect("block");
    let count = block
        .attributes
        .iter()
        .find(|a| a.name == "count")
        .expect("count");
    assert_eq!(
        count.description,
        "Must be a whole number from `1` to `10`."
    );
    let name = block
        .attributes
        .iter()
        .find(|a| a.name == "name")
        .expect("name");
    assert!(name.required && name.description.contains("replaces the resource"));
    assert!(block
        .description
        .contains("Exactly one of `secret`, `secret_file`"));
}

#[tokio::test]
async fn validation_refuses_each_fault_on_its_attribute() {
    assert_eq!(validate(thing("ok", &[])).await, vec![]);
    assert_eq!(
        validate(thing("ok", &[("count", Value::Number(0.5))])).await,
        vec![("Invalid count".to_string(), "count".to_string())]
    );
    assert_eq!(
        validate(thing("ok", &[("count", Value::Number(11.0))])).await,
        vec![("Invalid count".to_string(), "count".to_string())]
    );
    for bad in [
        "javascript:alert(1)",
        "http://user:pw@h/",
        "https://",
        "h:80",
    ] {
        assert_eq!(
            validate(thing("ok", &[("url", bad.into())])).await,
            vec![("Invalid url".to_string(), "url".to_string())],
            "{bad}"
        );
    }
    assert_eq!(
        validate(thing("ok", &[("secret_file", "/f".into())])).await,
        vec![(
            "Invalid combination of attributes".to_string(),
            "secret_file".to_string()
        )]
    );
    assert_eq!(
        validate(thing("ok", &[("secret", Value::Null)])).await,
        vec![(
            "Invalid combination of attributes".to_string(),
            "secret".to_string()
        )]
    );
}

#[tokio::test]
async fn unknown_values_are_not_judged_and_custom_validation_runs_after_the_checks() {
    let unknown = thing(
        "reserved",
        &[("count", Value::Unknown), ("secret", Value::Unknown)],
    );
    assert_eq!(
        validate(unknown).await,
        vec![("Reserved name".to_string(), String::new())]
    );
    // A config refused by its declared checks is not shown to the custom one.
    let refused = thing("reserved", &[("count", Value::Number(0.0))]);
    assert_eq!(
        validate(refused).await,
        vec![("Invalid count".to_string(), "count".to_string())]
    );
}

async fn plan(prior: Value, config: Value) -> pb::plan_resource_change::Response {
    let r = pb::plan_resource_change::Request {
        type_name: "demo_thing".into(),
        prior_state: dv(&prior),
        proposed_new_state: dv(&config),
        config: dv(&config),
        ..Default::default()
    };
    server()
        .plan_resource_change(Request::new(r))
        .await
        .expect("served")
        .into_inner()
}

#[tokio::test]
async fn plan_marks_computed_unknown_and_a_changed_replace_attribute() {
    let created = plan(Value::Null, thing("a", &[])).await;
    assert!(created.requires_replace.is_empty());
    assert!(decoded(created.planned_state).attr("id").is_unknown());

    let prior = thing("a", &[("id", "thing-1".into())]);
    let renamed = plan(prior.clone(), thing("b", &[])).await;
    let paths = faults(
        &renamed
            .requires_replace
            .into_iter()
            .map(|p| pb::Diagnostic {
                attribute: Some(p),
                ..Default::default()
            })
            .collect::<Vec<_>>(),
    );
    assert_eq!(paths, vec![(String::new(), "name".to_string())]);

    let recounted = plan(prior, thing("a", &[("count", Value::Number(2.0))])).await;
    assert!(recounted.requires_replace.is_empty());
}

async fn apply(name: &str) -> pb::apply_resource_change::Response {
    let r = pb::apply_resource_change::Request {
        type_name: "demo_thing".into(),
        prior_state: dv(&Value::Null),
        planned_state: dv(&thing(name, &[("id", Value::Unknown)])),
        config: dv(&thing(name, &[])),
        ..Default::default()
    };
    server()
        .apply_resource_change(Request::new(r))
        .await
        .expect("served")
        .into_inner()
}

#[tokio::test]
async fn apply_returns_the_new_state() {
    let resp = apply("a").await;
    assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
    assert_eq!(decoded(resp.new_state).attr("id").as_str(), Some("thing-1"));
}

#[tokio::test]
async fn a_panic_becomes_an_internal_error_naming_the_provider_and_keeps_the_prior_state() {
    let resp = apply("boom").await;
    let [d] = &resp.diagnostics[..] else {
        panic!("one diagnostic expected: {:?}", resp.diagnostics)
    };
    assert_eq!(d.summary, "Internal error in the Demo provider");
    assert!(d.detail.contains("while running apply"), "{}", d.detail);
    assert!(
        !d.detail.contains("panics on request"),
        "no panic text: {}",
        d.detail
    );
    assert!(
        decoded(resp.new_state).is_null(),
        "the prior (null) state comes back"
    );
}

#[tokio::test]
async fn unknown_types_are_not_found_and_unsupported_rpcs_unimplemented() {
    let r = pb::validate_resource_config::Request {
        type_name: "demo_other".into(),
        ..Default::default()
    };
    let err = server()
        .validate_resource_config(Request::new(r))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("demo_other"));

    let err = server()
        .open_ephemeral_resource(Request::new(Default::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    let err = server()
        .get_states(Request::new(Default::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
}

#[tokio::test]
async fn stop_provider_cancels_the_contexts_handed_out() {
    let s = server();
    let ctx = s.ctx();
    s.stop_provider(Request::new(Default::default()))
        .await
        .expect("served");
    assert!(ctx.cancel.is_cancelled());
}
