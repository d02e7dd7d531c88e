//! Actions (Terraform ≥ 1.14): imperative steps an operator invokes with
//! `terraform apply -invoke=action.TYPE.NAME`, outside the plan/apply cycle
//! of a resource. `kong_upgrade`'s next refresh sees what they changed.

pub mod kong_abort;
pub mod kong_promote;

use crate::blocks::traffic::{self, TrafficSettings};
use tfplug::{AttrPath, Diagnostics, Value};

fn traffic_settings(config: &Value) -> Result<TrafficSettings, Diagnostics> {
    match traffic::parse(config.attr("traffic"), AttrPath::root("traffic"))? {
        Some(t) => Ok(t),
        None => {
            let mut d = Diagnostics::new();
            d.error_at(
                AttrPath::root("traffic"),
                "Missing traffic block",
                "The action needs the load balancer to act on.",
            );
            Err(d)
        }
    }
}
