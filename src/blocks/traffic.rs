//! `traffic { ... }`: how traffic moves from X to Y — the load-balancer
//! driver, the progression and the gates — parsed into [`TrafficSettings`].
//! Shared by `kong_traffic_split` and `kong_upgrade`.
//!
//! INTERIM: drivers `haproxy` and `external`, linear or direct progression,
//! no gates yet; the full block (nginx, kong_upstream, steps, gates) replaces
//! this file.

use crate::traffic::{Driver, ExternalDriver, HaproxyDriver, OnFailure, Progression, RuntimeApiAddress, TrafficWeight, Weights};
use std::time::Duration;
use tfplug::{AttrPath, Attribute, Block, Diagnostics, NestedBlock, Value};

pub const BLOCK_NAME: &str = "traffic";

pub struct TrafficSettings {
    pub driver: Driver,
    pub progression: Progression,
    pub gates: Vec<crate::gates::GateSpec>,
    pub on_failure: OnFailure,
}

pub fn block() -> NestedBlock {
    NestedBlock::single(BLOCK_NAME, attributes())
}

fn attributes() -> Block {
    Block::new()
        .describe("How traffic moves from cluster X to cluster Y: exactly one driver block, and how fast.")
        .attr(Attribute::number("step_weight").optional().describe("Percent added per step when moving towards Y. Default: straight to the target."))
        .attr(Attribute::string("interval").optional().describe("Pause after each step, as a Go duration. Default `30s`."))
        .attr(Attribute::string("on_failure").optional().describe("`rollback` (default) or `halt`."))
        .block(NestedBlock::single(
            "haproxy",
            Block::new()
                .describe("An HAProxy whose runtime API sets the servers' weights live.")
                .attr(Attribute::string("runtime_api").required().describe("Runtime API socket: a unix socket path or `host:port`."))
                .attr(Attribute::string("backend").required().describe("Backend holding both clusters' servers."))
                .attr(Attribute::string("server_x").required().describe("Server name of cluster X."))
                .attr(Attribute::string("server_y").required().describe("Server name of cluster Y.")),
        ))
        .block(NestedBlock::single("external", Block::new().describe("No load balancer: the weights are exposed for other resources.")))
}

/// `None` when the block is absent.
pub fn parse(block: &Value, path: AttrPath) -> Result<Option<TrafficSettings>, Diagnostics> {
    if block.is_null() {
        return Ok(None);
    }
    let mut diags = Diagnostics::new();
    let on_failure = match block.attr("on_failure").as_str() {
        None | Some("rollback") => OnFailure::Rollback,
        Some("halt") => OnFailure::Halt,
        Some(other) => {
            diags.error_at(path.clone().attr("on_failure"), "Invalid on_failure", format!("{other:?} is not rollback or halt"));
            OnFailure::Rollback
        }
    };
    let interval = match block.attr("interval").as_str() {
        None => Duration::from_secs(30),
        Some(t) => tfplug::timeouts::parse_duration(t).unwrap_or_else(|e| {
            diags.error_at(path.clone().attr("interval"), "Invalid interval", e);
            Duration::from_secs(30)
        }),
    };
    let progression = match block.attr("step_weight").as_i64() {
        None => Progression::Direct,
        Some(w) => match TrafficWeight::new(w) {
            Ok(step_weight) => Progression::Linear { step_weight, interval },
            Err(e) => {
                diags.error_at(path.clone().attr("step_weight"), "Invalid step_weight", e.to_string());
                Progression::Direct
            }
        },
    };
    let haproxy = block.attr("haproxy");
    let driver = if !haproxy.is_null() {
        let s = |k: &str| haproxy.attr(k).as_str().unwrap_or_default().to_string();
        let api = s("runtime_api");
        let socket = if api.starts_with('/') { RuntimeApiAddress::Unix(api.into()) } else { RuntimeApiAddress::Tcp(api) };
        match HaproxyDriver::new(socket, &s("backend"), &s("server_x"), &s("server_y")) {
            Ok(d) => Some(Driver::Haproxy(d)),
            Err(e) => {
                diags.error_at(path.clone().attr("haproxy"), "Invalid haproxy driver", e.to_string());
                None
            }
        }
    } else if !block.attr("external").is_null() {
        Some(Driver::External(ExternalDriver::new(Weights::with_y(TrafficWeight::ZERO))))
    } else {
        diags.error_at(path.clone(), "No traffic driver", "Set exactly one driver block: haproxy or external.");
        None
    };
    match (driver, diags.has_errors()) {
        (Some(driver), false) => Ok(Some(TrafficSettings { driver, progression, gates: Vec::new(), on_failure })),
        _ => Err(diags),
    }
}
