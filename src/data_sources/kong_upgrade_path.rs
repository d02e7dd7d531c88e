//! `data "kong_upgrade_path"`: is `from → to` a supported Kong upgrade, and
//! if not, which releases to go through first.

use crate::functions::upgrade_path::answer_value;
use crate::planner;
use crate::version::KongVersion;
use tfplug::{
    async_trait, AttrPath, Attribute, Block, Check, Ctx, DataSource, Diagnostics, Schema, Type,
    Value,
};

pub struct KongUpgradePath;

fn parse_version(config: &Value, name: &str, diags: &mut Diagnostics) -> Option<KongVersion> {
    let text = config.attr(name).as_str()?;
    match text.parse::<KongVersion>() {
        Ok(v) => Some(v),
        Err(e) => {
            diags.error_at(AttrPath::root(name), "Invalid Kong version", e.to_string());
            None
        }
    }
}

#[async_trait]
impl DataSource for KongUpgradePath {
    fn type_name(&self) -> &'static str {
        "kong_upgrade_path"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new()
                .describe(
                    "Checks an upgrade from one Kong Gateway version to another against Kong's documented upgrade paths \
                     (patch, adjacent minor, LTS pairs 2.8→3.4→3.10→3.14, and the older bridges such as 2.1+→3.0). \
                     Pure computation: it reads nothing from any cluster.",
                )
                .attr(Attribute::string("from").required().describe("The version running now."))
                .attr(Attribute::string("to").required().describe("The version to upgrade to."))
                .attr(Attribute::string("strategy").optional().check(Check::one_of(planner::Strategy::ALL.iter().map(|s| s.as_str()))).describe(
                    "Narrow the answer to a strategy (`in_place`, `blue_green`, `dual_cluster`, `rolling`) for a traditional-mode deployment: e.g. blue-green is supported only between patches and from 2.8.2 before 3.x. Default: none (any strategy).",
                ))
                .attr(Attribute::bool("supported").computed().describe("Whether Kong supports going straight from `from` to `to`."))
                .attr(Attribute::string("kind").computed().describe("`same_version`, `patch`, `adjacent_minor`, `lts`, `bridge`, `needs_stops`, `downgrade` or `no_documented_path`."))
                .attr(Attribute::list_of("hops", Type::String).computed().describe("Releases to go through first, in order (e.g. `[\"2.8.x\"]`)."))
                .attr(Attribute::list_of("warnings", Type::String).computed().describe("What to know about this path."))
                .attr(Attribute::string("summary").computed().describe("One line for humans.")),
        )
    }

    async fn validate(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        parse_version(config, "from", &mut diags);
        parse_version(config, "to", &mut diags);
        diags
    }

    async fn read(&self, _ctx: &Ctx, config: &Value) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let from = parse_version(config, "from", &mut diags);
        let to = parse_version(config, "to", &mut diags);
        let (Some(from), Some(to)) = (from, to) else {
            return (Value::Null, diags);
        };
        let answer = match config.attr("strategy").as_str() {
            None => planner::upgrade_path(&from, &to),
            Some(name) => match name.parse::<planner::Strategy>() {
                Ok(strategy) => planner::upgrade_path_for_strategy(&from, &to, strategy),
                Err(e) => {
                    diags.error_at(
                        AttrPath::root("strategy"),
                        "Invalid strategy",
                        e.to_string(),
                    );
                    return (Value::Null, diags);
                }
            },
        };
        let answer = answer_value(&answer);
        let mut state = config.clone();
        for key in ["supported", "kind", "hops", "warnings", "summary"] {
            state.set_attr(key, answer.attr(key).clone());
        }
        (state, diags)
    }
}
