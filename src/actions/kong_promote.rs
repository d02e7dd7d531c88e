//! `action "kong_promote"`: the next traffic step towards Y, with gates:
//! for operators who advance a canary by hand between applies.

use super::{traffic_settings, validate_traffic};
use crate::traffic::{plan_shift, shift, Progression, TrafficDriver, TrafficWeight};
use tfplug::{
    async_trait, Action, AttrPath, Attribute, Block, Check, Ctx, Diagnostics, Schema, Value,
};

pub struct KongPromote;

/// The next weight after `current`: `current + step_weight`, capped at `max`.
fn next_weight(
    current: TrafficWeight,
    progression: &Progression,
    max: TrafficWeight,
) -> TrafficWeight {
    let step = match progression {
        Progression::Linear { step_weight, .. } => step_weight.percent(),
        Progression::Steps(steps) => {
            return steps
                .iter()
                .map(|s| s.weight)
                .find(|w| *w > current)
                .unwrap_or(max)
                .min(max);
        }
        Progression::Direct => 100,
    };
    TrafficWeight::new(i64::from(current.percent()) + i64::from(step))
        .unwrap_or(max)
        .min(max)
}

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
                .block(crate::blocks::traffic::block()),
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
        let current = match traffic.driver.read_weights().await {
            Ok(w) => w.y,
            Err(e) => {
                diags.error_at(
                    AttrPath::root("traffic"),
                    "Cannot read the load balancer",
                    e.to_string(),
                );
                return diags;
            }
        };
        let next = next_weight(current, &traffic.progression, max);
        if next <= current {
            progress(format!(
                "Y already has {}% (the most this action may give it)",
                current.percent()
            ));
            return diags;
        }
        let plan = match plan_shift(current, next, &Progression::Direct, traffic.on_failure) {
            Ok(p) => p,
            Err(e) => {
                diags.error_at(
                    AttrPath::root("traffic"),
                    "Invalid progression",
                    e.to_string(),
                );
                return diags;
            }
        };
        progress(format!(
            "promoting Y from {}% to {}%",
            current.percent(),
            next.percent()
        ));
        match shift(&traffic.driver, &plan, &traffic.gates, &ctx.cancel, |_| {}).await {
            Ok(o) => progress(format!("Y now has {}%", o.weights.y.percent())),
            Err(e) => diags.error_at(
                AttrPath::root("traffic"),
                "Promotion stopped",
                e.to_string(),
            ),
        }
        diags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn w(n: i64) -> TrafficWeight {
        TrafficWeight::new(n).unwrap()
    }

    #[test]
    fn next_weight_steps_and_caps() {
        let linear = Progression::Linear {
            step_weight: w(25),
            interval: Duration::from_secs(1),
        };
        assert_eq!(next_weight(w(0), &linear, w(100)), w(25));
        assert_eq!(next_weight(w(90), &linear, w(100)), w(100));
        assert_eq!(next_weight(w(25), &linear, w(40)), w(40));
        assert_eq!(next_weight(w(10), &Progression::Direct, w(100)), w(100));
    }
}
