//! Actions (Terraform ≥ 1.14): imperative steps an operator invokes with
//! `terraform apply -invoke=action.TYPE.NAME`, outside the plan/apply cycle
//! of a resource. `kong_upgrade`'s next refresh sees what they changed.

pub mod kong_abort;
pub mod kong_promote;

use crate::blocks::traffic::{self, TrafficSettings};
use tfplug::{AttrPath, Diagnostics, Value};

/// An action's checks that need no I/O, for `terraform validate` (actions
/// are validated like resources): its `traffic` block parses as it will at
/// invoke time. Unknown values wait for invoke.
fn validate_traffic(config: &Value) -> Diagnostics {
    if !config.is_wholly_known() {
        return Diagnostics::new();
    }
    traffic_settings(config).err().unwrap_or_default()
}

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
