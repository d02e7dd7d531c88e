//! `kong_test_wait`: a test-only resource whose apply waits, so acceptance
//! tests can interrupt an apply (Ctrl-C) at a known point. Served only when
//! `TF_KONG_TEST_RESOURCES=1`; not part of the documented provider.

use std::time::{Duration, Instant};
use tfplug::{
    async_trait, ApplyRequest, ApplyResponse, Attribute, Block, Ctx, ReadRequest, ReadResponse,
    Resource, Schema, Value,
};

pub struct TestWait;

#[async_trait]
impl Resource for TestWait {
    fn type_name(&self) -> &'static str {
        "kong_test_wait"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new()
                .describe("Test-only: waits `seconds` during create, returning early when Terraform stops the provider.")
                .attr(Attribute::number("seconds").required())
                .attr(Attribute::string("id").computed())
                .attr(Attribute::bool("completed").computed())
                .attr(Attribute::number("waited_ms").computed()),
        )
    }

    async fn apply(&self, ctx: &Ctx, req: ApplyRequest) -> ApplyResponse {
        if req.planned.is_null() {
            return ApplyResponse::default();
        }
        let seconds = req.planned.attr("seconds").as_f64().unwrap_or(0.0).max(0.0);
        let start = Instant::now();
        let interrupted = tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(seconds)) => false,
            _ = ctx.cancel.cancelled() => true,
        };
        let mut state = req.planned.clone();
        state.set_attr("id", "wait".into());
        state.set_attr("completed", (!interrupted).into());
        state.set_attr("waited_ms", Value::from(start.elapsed().as_millis() as i64));
        let mut resp = ApplyResponse {
            new_state: state,
            ..Default::default()
        };
        if interrupted {
            resp.diags.error(
                "Interrupted",
                "Terraform asked the provider to stop; the wait ended early and its state was saved.",
            );
        }
        resp
    }

    async fn read(&self, _ctx: &Ctx, req: ReadRequest) -> ReadResponse {
        ReadResponse {
            new_state: req.current,
            private: req.private,
            ..Default::default()
        }
    }
}
