//! `action "kong_promote"`: the next traffic step towards Y, with gates:
//! for operators who advance a canary by hand between applies.

use super::{traffic_settings, validate_traffic};
use crate::blocks::traffic::BLOCK_NAME;
use crate::traffic::{Bounds, Destination, TrafficWeight};
use tfplug::{
    async_trait, Action, AttrPath, Attribute, Block, Check, Ctx, Diagnostics, Schema, Value,
};

pub struct KongPromote;

#[async_trait]
impl Action for KongPromote {
    fn type_name(&self) -> &'static str {
        "kong_promote"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new()
                .describe(
                    "Moves traffic one step further towards cluster Y (by the traffic block's `step_weight`, up to `max_weight_y`), \
                     running the traffic block's gates at the new weight and reacting to a failure as `on_failure` says.",
                )
                .attr(Attribute::number("max_weight_y").optional().check(Check::WholeNumber { min: 1, max: 100 }).describe("Never go past this share of traffic on Y. Default `100`."))
                .block(crate::blocks::traffic::block(false)),
        )
    }

    async fn validate(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        validate_traffic(config)
    }

    async fn invoke(
        &self,
        ctx: &Ctx,
        config: &Value,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let traffic = match traffic_settings(config) {
            Ok(t) => t,
            Err(d) => return d,
        };
        let max_weight_y =
            crate::blocks::whole::<i64>(config, "max_weight_y", &AttrPath::default(), &mut diags);
        if diags.has_errors() {
            return diags;
        }
        let max = match TrafficWeight::new(max_weight_y.unwrap_or(100)) {
            Ok(m) => m,
            Err(e) => {
                diags.error_at(
                    AttrPath::root("max_weight_y"),
                    "Invalid max_weight_y",
                    e.to_string(),
                );
                return diags;
            }
        };
        progress("promoting Y one step (the gates run at the new weight)".to_string());
        let bounds = Bounds {
            cancel: &ctx.cancel,
            deadline: None,
        };
        match traffic
            .traffic_move()
            .move_to(Destination::NextStep { max }, None, bounds)
            .await
        {
            Ok(moved) if moved.history.is_empty() => progress(format!(
                "Y already has {} (the most this action may give it)",
                moved.weights.y
            )),
            Ok(moved) => progress(format!(
                "promoted Y from {} to {}",
                moved.from.y, moved.weights.y
            )),
            Err(e) => diags.push(e.diagnostic(BLOCK_NAME)),
        }
        diags
    }
}
