//! `traffic { ... }`: how traffic moves from X to Y, parsed into
//! [`TrafficSettings`]: exactly one load-balancer driver, the progression
//! (explicit `steps`, or `step_weight` with `interval`), the gates, and what
//! happens when a gate fails. Shared by `kong_traffic_split` (whose top level
//! is this block's content), `kong_upgrade` and the actions.
//!
//! Also `kong_upgrade.traffic_split_id`, the block's alternative: the id of a
//! `kong_traffic_split` ([`split_locator`]), read but never written through a
//! [`SplitReader`] ([`split_reader`], [`live_weights`]).

use crate::gates::GateSpec;
use crate::kong::AdminSettings;
use crate::traffic::{
    Driver, DriverError, ExternalDriver, HaproxyDriver, KongUpstreamDriver, LocatorError,
    NginxDriver, OnFailure, Progression, RuntimeApiAddress, SplitLocator, SplitReader, StepSpec,
    TrafficDriver, TrafficMove, TrafficWeight, Weights,
};
use std::path::PathBuf;
use std::time::Duration;
use tfplug::{AttrPath, Attribute, Block, Check, Diagnostics, NestedBlock, Type, Value};

pub const BLOCK_NAME: &str = "traffic";
/// `kong_upgrade`'s alternative to the block: the id of a `kong_traffic_split`.
pub const SPLIT_ID: &str = "traffic_split_id";
use super::observe::{observe_block, parse_observe, OBSERVE};
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

pub struct TrafficSettings {
    pub driver: Driver,
    pub progression: Progression,
    pub gates: Vec<GateSpec>,
    pub on_failure: OnFailure,
}

impl TrafficSettings {
    /// The one traffic move on this block's load balancer.
    pub fn traffic_move(&self) -> TrafficMove<'_, Driver> {
        TrafficMove {
            driver: &self.driver,
            progression: &self.progression,
            on_failure: self.on_failure,
            gates: &self.gates,
        }
    }
}

/// The `traffic` block (optional) of `kong_upgrade` and the actions;
/// `write_only` as for [`content`].
pub fn block(write_only: bool) -> NestedBlock {
    NestedBlock::single(BLOCK_NAME, content(write_only))
}

fn driver_blocks() -> Vec<NestedBlock> {
    vec![
        NestedBlock::single(
            "haproxy",
            Block::new()
                .describe("An HAProxy whose runtime API sets the two servers' weights live, without a reload.")
                .attr(Attribute::string("runtime_api").required().describe("Runtime API socket (`stats socket ... level admin`): a unix socket path or `host:port`."))
                .attr(Attribute::string("backend").required().describe("Backend holding both clusters' servers."))
                .attr(Attribute::string("server_x").required().describe("Server name of cluster X in that backend."))
                .attr(Attribute::string("server_y").required().describe("Server name of cluster Y in that backend.")),
        ),
        NestedBlock::single(
            "nginx",
            Block::new()
                .describe("An nginx upstream in an include file the provider owns: written atomically, validated, then reloaded; the previous file is restored if validation fails.")
                .attr(Attribute::string("upstream_file").required().describe("Path of the include file holding the `upstream` block."))
                .attr(Attribute::string("upstream").required().describe("Name of the upstream."))
                .attr(Attribute::string("server_x").required().describe("Address (`host:port`) of cluster X."))
                .attr(Attribute::string("server_y").required().describe("Address (`host:port`) of cluster Y."))
                .attr(Attribute::list_of("reload_command", Type::String).optional().describe("Reload argv. Default `[\"nginx\", \"-s\", \"reload\"]`."))
                .attr(Attribute::list_of("validate_command", Type::String).optional().describe("Validation argv. Default `[\"nginx\", \"-t\"]`."))
                .attr(Attribute::string("pid_file").optional().describe(
                    "nginx's pid file. When set, a weight change returns only once the new workers run and the old ones stopped accepting connections; without it, the change takes effect about 100 ms after the reload. Default: none.",
                )),
        ),
        NestedBlock::single(
            "kong_upstream",
            Block::new()
                .describe("An edge Kong's upstream: the two clusters are targets whose weights are set through the Admin API.")
                .attr(Attribute::string("admin_url").required().check(Check::HttpUrl).describe("Admin API of the edge Kong."))
                .attr(Attribute::string("admin_token").optional().sensitive().describe("RBAC token for that Admin API. Default: none."))
                .attr(Attribute::string("upstream").required().describe("Upstream name or id."))
                .attr(Attribute::string("target_x").required().describe("Target (`host:port`) of cluster X."))
                .attr(Attribute::string("target_y").required().describe("Target (`host:port`) of cluster Y."))
                .attr(Attribute::list_of("serving_admin_urls", Type::String).optional().check(Check::HttpUrl).describe(
                    "Admin APIs of every Kong node that serves the upstream. A weight change returns only once each of them serves it \
                     (`GET /upstreams/{upstream}/health`; nodes pick target changes up every `db_update_frequency`, 5 s by default). \
                     Default: `admin_url` alone.",
                )),
        ),
        NestedBlock::single(
            "external",
            Block::new()
                .describe(
                    "No load balancer: the provider only computes the split; other resources read `weight_x`/`weight_y` (in \
                     `kong_upgrade`, `current_weight_y`) and apply it after this apply ends. Gates need `observe`: each apply \
                     then judges the gates of the weight the previous apply published, once `observe` reports the load \
                     balancer carries it, and publishes the next step. In `kong_upgrade`, the steps after the traffic \
                     (`migrations finish`, stopping or retiring X) never run in the apply that publishes a higher weight: they \
                     wait for a later apply (with `observe`, for 100% observed and its gates passed).",
                )
                .block(observe_block()),
        ),
    ]
}

/// The block's content: drivers, progression, gates, on_failure. With
/// `write_only` (managed resources), gates may take write-only
/// credentials ([`super::gate::block`]).
pub fn content(write_only: bool) -> Block {
    let mut b = Block::new()
        .describe("How traffic moves from cluster X to cluster Y: exactly one driver block, the progression and the gates.")
        .attr(Attribute::number("step_weight").optional().check(Check::WholeNumber { min: 1, max: 100 }).describe("Percent added per step towards Y (with `interval`). Default: one step straight to the target."))
        .attr(Attribute::string("interval").optional().check(Check::Duration).describe("Pause after each `step_weight` step, as a Go duration. Default `30s`."))
        .attr(Attribute::string("on_failure").optional().check(Check::one_of(["rollback", "halt"])).describe(
            "When a gate fails: `rollback` (default: all traffic back to X at once, then error) or `halt` (stay at the last good weight, then error).",
        ))
        .block(NestedBlock::list(
            "steps",
            Block::new()
                .describe("Explicit steps (instead of `step_weight`): each a weight for Y, a pause, and whether the gates run.")
                .attr(Attribute::number("weight").required().check(Check::WholeNumber { min: 0, max: 100 }).describe("Y's share at this step."))
                .attr(Attribute::string("pause").optional().check(Check::DurationOrZero).describe("How long to hold this weight. Default `0s`."))
                .attr(Attribute::bool("analysis").optional().describe("Run the gates at this step. Default `true`.")),
        ))
        .block(super::gate::block(write_only));
    for d in driver_blocks() {
        b = b.block(d);
    }
    b
}

pub(super) fn duration(
    v: &Value,
    attr: &str,
    default: Duration,
    path: &AttrPath,
    diags: &mut Diagnostics,
) -> Duration {
    match v.attr(attr).as_str() {
        None => default,
        Some(t) => tfplug::timeouts::parse_duration(t).unwrap_or_else(|e| {
            diags.error_at(path.clone().attr(attr), format!("Invalid {attr}"), e);
            default
        }),
    }
}

fn weight(
    v: &Value,
    attr: &str,
    path: &AttrPath,
    diags: &mut Diagnostics,
) -> Option<TrafficWeight> {
    let n = super::whole::<i64>(v, attr, path, diags)?;
    TrafficWeight::new(n)
        .map_err(|e| {
            diags.error_at(
                path.clone().attr(attr),
                "Weight out of range",
                e.to_string(),
            )
        })
        .ok()
}

pub(super) fn strings(v: &Value) -> Vec<String> {
    v.elements()
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// The `traffic_split_id` attribute of `config` (`None` when unset), which
/// may not be combined with a `traffic` block. Needs no I/O, so validation
/// and plan report a malformed id, or one that cannot be read (the external
/// driver), on the attribute.
pub fn split_locator(config: &Value) -> Result<Option<SplitLocator>, Diagnostics> {
    let Some(id) = config.attr(SPLIT_ID).as_str() else {
        return Ok(None);
    };
    let mut diags = Diagnostics::new();
    let at = AttrPath::root(SPLIT_ID);
    if !super::first(config.attr(BLOCK_NAME)).is_null() {
        diags.error_at(
            at.clone(),
            "Conflicting traffic settings",
            "Set either a traffic block (this upgrade moves traffic itself) or traffic_split_id (a kong_traffic_split \
             moves it and this upgrade only verifies the weights), not both.",
        );
        return Err(diags);
    }
    match id.parse::<SplitLocator>() {
        Ok(SplitLocator::External) => {
            diags.error_at(
                at,
                "Traffic split cannot be verified",
                LocatorError::External.to_string(),
            );
            Err(diags)
        }
        Ok(locator) => Ok(Some(locator)),
        Err(e) => {
            diags.error_at(at, "Invalid traffic_split_id", e.to_string());
            Err(diags)
        }
    }
}

/// A read-only view of the split `traffic_split_id` refers to. A
/// `kong_upstream` split is read with the provider's Admin API token: the id
/// carries no secret.
pub fn split_reader(
    config: &Value,
    provider: &AdminSettings,
) -> Result<Option<SplitReader>, Diagnostics> {
    let Some(locator) = split_locator(config)? else {
        return Ok(None);
    };
    let token = provider.token.as_ref().map(|t| t.expose().to_string());
    locator.reader(token).map(Some).map_err(|e| {
        let mut diags = Diagnostics::new();
        diags.error_at(
            AttrPath::root(SPLIT_ID),
            "Traffic split cannot be read",
            e.to_string(),
        );
        diags
    })
}

/// The split the load balancer applies now, for drift, from the inline block
/// or from `traffic_split_id`; `None` when neither configures a load balancer
/// (no traffic, or the external driver, whose split lives in state).
pub async fn live_weights(
    state: &Value,
    provider: &AdminSettings,
) -> Option<Result<Weights, DriverError>> {
    if let Ok(Some(reader)) = split_reader(state, provider) {
        return Some(reader.read_weights().await);
    }
    let inline = parse(state.attr(BLOCK_NAME), AttrPath::root(BLOCK_NAME)).ok()??;
    match inline.driver {
        Driver::External(_) => None,
        driver => Some(driver.read_weights().await),
    }
}

/// `None` when the block is absent. `block` may be the block's object or, for
/// `kong_traffic_split`, the resource's whole configuration. For the
/// actions, which move traffic within one invocation.
pub fn parse(block: &Value, path: AttrPath) -> Result<Option<TrafficSettings>, Diagnostics> {
    parse_block(block, path, Observing::NotSupported)
}

/// Like [`parse`], for `kong_upgrade`, whose planner walks an observed
/// `external` split one move per apply as `kong_traffic_split` does.
pub fn parse_observable(
    block: &Value,
    path: AttrPath,
) -> Result<Option<TrafficSettings>, Diagnostics> {
    parse_block(block, path, Observing::Supported)
}

fn parse_block(
    block: &Value,
    path: AttrPath,
    observing: Observing,
) -> Result<Option<TrafficSettings>, Diagnostics> {
    let block = super::first(block);
    if block.is_null() {
        return Ok(None);
    }
    parse_settings(
        block,
        &path,
        Weights::with_y(TrafficWeight::ZERO),
        observing,
    )
    .map(Some)
}

/// Whether the block's user runs the one-move-per-apply walk `observe`
/// needs: `kong_traffic_split` and `kong_upgrade` do; the actions move
/// traffic within one invocation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Observing {
    Supported,
    NotSupported,
}

/// Parses the content; `applied` seeds the external driver with the split
/// recorded in state.
pub fn parse_content(
    block: &Value,
    path: &AttrPath,
    applied: Weights,
) -> Result<TrafficSettings, Diagnostics> {
    parse_settings(block, path, applied, Observing::Supported)
}

fn parse_settings(
    block: &Value,
    path: &AttrPath,
    applied: Weights,
    observing: Observing,
) -> Result<TrafficSettings, Diagnostics> {
    let mut diags = Diagnostics::new();
    let on_failure = match block.attr("on_failure").as_str() {
        None | Some("rollback") => OnFailure::Rollback,
        Some("halt") => OnFailure::Halt,
        Some(other) => {
            diags.error_at(
                path.clone().attr("on_failure"),
                "Invalid on_failure",
                format!("{other:?} is not `rollback` or `halt`"),
            );
            OnFailure::Rollback
        }
    };
    let progression = parse_progression(block, path, &mut diags);
    let gates = super::gate::parse(block.attr("gate"), &path.clone().attr("gate"), &mut diags);
    let driver = parse_driver(block, path, applied, &mut diags);
    if let Err(e) = crate::gates::validate_gates(&gates) {
        let at = match e.gate_index {
            Some(i) => path.clone().attr("gate").index(i as i64),
            None => path.clone().attr("gate"),
        };
        diags.error_at(
            AttrPath(
                at.0.into_iter()
                    .chain(AttrPath::parse(&e.attribute).0)
                    .collect(),
            ),
            "Invalid gate",
            e.message,
        );
    }
    let Some(driver) = driver else {
        return Err(diags);
    };
    let settings = TrafficSettings {
        driver,
        progression,
        gates,
        on_failure,
    };
    refuse_unjudgeable_gates(&settings, path, observing, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(settings)
}

fn parse_progression(block: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Progression {
    let steps = block.attr("steps").elements();
    if !steps.is_empty() {
        if !block.attr("step_weight").is_null() {
            diags.error_at(
                path.clone().attr("step_weight"),
                "Conflicting progression",
                "Use either steps or step_weight, not both.",
            );
        }
        let specs: Vec<StepSpec> = steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let at = path.clone().attr("steps").index(i as i64);
                Some(StepSpec {
                    weight: weight(s, "weight", &at, diags)?,
                    pause: duration(s, "pause", Duration::ZERO, &at, diags),
                    analysis: s.attr("analysis").as_bool().unwrap_or(true),
                })
            })
            .collect();
        let progression = Progression::Steps(specs);
        if let Err(e) = progression.validate() {
            diags.error_at(
                AttrPath(
                    path.0
                        .iter()
                        .cloned()
                        .chain(AttrPath::parse(&e.attribute()).0)
                        .collect(),
                ),
                "Invalid steps",
                e.to_string(),
            );
        }
        return progression;
    }
    let interval = duration(block, "interval", DEFAULT_INTERVAL, path, diags);
    match weight(block, "step_weight", path, diags) {
        Some(w) if w == TrafficWeight::ZERO => {
            diags.error_at(
                path.clone().attr("step_weight"),
                "Invalid step_weight",
                "step_weight must be at least 1 (percent).",
            );
            Progression::Direct
        }
        Some(step_weight) => Progression::Linear {
            step_weight,
            interval,
        },
        None => Progression::Direct,
    }
}

fn parse_driver(
    block: &Value,
    path: &AttrPath,
    applied: Weights,
    diags: &mut Diagnostics,
) -> Option<Driver> {
    let named: Vec<(&str, &Value)> = ["haproxy", "nginx", "kong_upstream", "external"]
        .into_iter()
        .map(|n| (n, super::first(block.attr(n))))
        .filter(|(_, v)| !v.is_null())
        .collect();
    let [(name, d)] = named.as_slice() else {
        diags.error_at(
            path.clone(),
            "One traffic driver needed",
            "Set exactly one of the blocks haproxy, nginx, kong_upstream or external.",
        );
        return None;
    };
    let at = path.clone().attr(name);
    let s = |k: &str| d.attr(k).as_str().unwrap_or_default().to_string();
    let built = match *name {
        "haproxy" => {
            let socket = RuntimeApiAddress::from_setting(&s("runtime_api"));
            HaproxyDriver::new(socket, &s("backend"), &s("server_x"), &s("server_y"))
                .map(Driver::Haproxy)
        }
        "nginx" => {
            let reload = strings(d.attr("reload_command"));
            let validate = strings(d.attr("validate_command"));
            NginxDriver::new(
                PathBuf::from(s("upstream_file")),
                &s("upstream"),
                &s("server_x"),
                &s("server_y"),
            )
            .and_then(|n| {
                if reload.is_empty() {
                    Ok(n)
                } else {
                    n.with_reload_argv(reload)
                }
            })
            .and_then(|n| {
                if validate.is_empty() {
                    Ok(n)
                } else {
                    n.with_validate_argv(validate)
                }
            })
            .map(|n| match d.attr("pid_file").as_str() {
                Some(pid) => n.with_pid_file(PathBuf::from(pid)),
                None => n,
            })
            .map(Driver::Nginx)
        }
        "kong_upstream" => KongUpstreamDriver::new(
            &s("admin_url"),
            &s("upstream"),
            &s("target_x"),
            &s("target_y"),
        )
        .map(|k| match d.attr("admin_token").as_str() {
            Some(t) => k.with_admin_token(t.to_string()),
            None => k,
        })
        .and_then(|k| {
            let nodes = strings(d.attr("serving_admin_urls"))
                .iter()
                .map(|u| {
                    let invalid = |message| DriverError::InvalidConfig {
                        attribute: "serving_admin_urls",
                        message,
                    };
                    tfplug::http_url(u).map_err(invalid)?;
                    reqwest::Url::parse(u).map_err(|e| invalid(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(k.with_serving_nodes(nodes))
        })
        .map(Driver::KongUpstream),
        _ => {
            let external = ExternalDriver::new(applied);
            Ok(Driver::External(match parse_observe(d, &at, diags) {
                Some(observe) => external.with_observe(observe),
                None => external,
            }))
        }
    };
    built
        .map_err(|e| diags.error_at(at, format!("Invalid {name} driver"), e.to_string()))
        .ok()
}

/// Gates with the `external` driver need `observe` (and a resource that
/// walks one move per apply): without it they would judge a split no load
/// balancer carries yet.
fn refuse_unjudgeable_gates(
    settings: &TrafficSettings,
    path: &AttrPath,
    observing: Observing,
    diags: &mut Diagnostics,
) {
    let Driver::External(external) = &settings.driver else {
        return;
    };
    let why = "Another resource applies weight_x/weight_y only after this apply ends, so gates judged in this apply \
               would measure a split the load balancer does not carry yet.";
    match (observing, external.observe().is_some()) {
        (Observing::Supported, false) if !settings.gates.is_empty() => diags.error_at(
            path.clone().attr("external"),
            "Gates need observe with the external driver",
            format!(
                "{why} Add `observe {{ url = ..., json_path = ... }}` or `observe {{ command = [...] }}` inside the external \
                 block so the provider can read the live share back (the gates of each step are then judged in the next \
                 apply), or remove the gate blocks."
            ),
        ),
        (Observing::NotSupported, _) if !settings.gates.is_empty() => diags.error_at(
            path.clone().attr("gate"),
            "Gates cannot judge an external split here",
            format!(
                "{why} An action moves traffic within one invocation. Move the traffic and its gates to a kong_upgrade or a \
                 kong_traffic_split with `external {{ observe {{ ... }} }}`, which judge each step's gates in the next \
                 apply, or remove the gate blocks."
            ),
        ),
        (Observing::NotSupported, true) => diags.error_at(
            path.clone().attr("external").attr(OBSERVE),
            "observe is read by kong_upgrade and kong_traffic_split only",
            "Only kong_upgrade and kong_traffic_split walk an external split one move per apply. Move the traffic to one \
             of them with this external block, or remove observe.",
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade_config(split_id: &str, with_block: bool) -> Value {
        let traffic = if with_block {
            Value::object([("external", Value::object(Vec::<(&str, Value)>::new()))])
        } else {
            Value::Null
        };
        Value::object([(SPLIT_ID, Value::from(split_id)), (BLOCK_NAME, traffic)])
    }

    /// `(on traffic_split_id, summary, detail)` of the single error.
    fn only_error(diags: Diagnostics) -> (bool, String, String) {
        let all: Vec<_> = diags.iter().collect();
        assert_eq!(all.len(), 1, "{all:?}");
        let d = all[0];
        let on_attribute = d.path == Some(AttrPath::root(SPLIT_ID));
        (on_attribute, d.summary.clone(), d.detail.clone())
    }

    const HAPROXY_ID: &str =
        "haproxy?runtime_api=%2Frun%2Fhaproxy.sock&backend=kong&server_x=x&server_y=y";

    #[test]
    fn a_split_id_parses_into_its_locator_and_is_optional() {
        let locator = split_locator(&upgrade_config(HAPROXY_ID, false))
            .unwrap()
            .unwrap();
        assert_eq!(locator.kind(), "haproxy");
        assert!(split_locator(&Value::object([(SPLIT_ID, Value::Null)]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_split_id_and_a_traffic_block_conflict_on_the_attribute() {
        let (at, summary, _) =
            only_error(split_locator(&upgrade_config(HAPROXY_ID, true)).unwrap_err());
        assert!(at);
        assert_eq!(summary, "Conflicting traffic settings");
    }

    #[test]
    fn an_external_or_malformed_split_id_is_refused_on_the_attribute() {
        let (at, summary, detail) =
            only_error(split_locator(&upgrade_config("external", false)).unwrap_err());
        assert!(at);
        assert_eq!(summary, "Traffic split cannot be verified");
        assert!(detail.contains("external driver"), "{detail}");

        let (_, summary, detail) = only_error(
            split_locator(&upgrade_config("haproxy:/run/haproxy.sock", false)).unwrap_err(),
        );
        assert_eq!(summary, "Invalid traffic_split_id");
        assert!(
            detail.contains("earlier version of the provider"),
            "{detail}"
        );
    }

    #[test]
    fn a_kong_upstream_split_is_read_with_the_provider_token_not_one_from_the_id() {
        let id = "kong_upstream?admin_url=http%3A%2F%2F127.0.0.1%3A1%2F&upstream=u&target_x=a%3A1&target_y=b%3A1";
        let provider = AdminSettings {
            token: Some(crate::kong::Secret::new("from-the-provider")),
            ..AdminSettings::default()
        };
        let reader = split_reader(&upgrade_config(id, false), &provider)
            .unwrap()
            .unwrap();
        let shown = format!("{reader:?}");
        assert!(
            shown.contains("<redacted>"),
            "the provider token is used: {shown}"
        );
        assert!(!shown.contains("from-the-provider"), "{shown}");
        let anonymous = split_reader(&upgrade_config(id, false), &AdminSettings::default())
            .unwrap()
            .unwrap();
        assert!(format!("{anonymous:?}").contains("admin_token: None"));
    }

    fn external_with(observe: bool, gate: bool) -> Value {
        let mut external = Vec::<(&str, Value)>::new();
        if observe {
            external.push((
                OBSERVE,
                Value::object([("command", Value::List(vec!["echo".into(), "10".into()]))]),
            ));
        }
        let mut block = vec![("external", Value::object(external))];
        if gate {
            block.push((
                "gate",
                Value::List(vec![Value::object([
                    ("name", Value::from("errors")),
                    (
                        "command",
                        Value::object([("argv", Value::List(vec!["true".into()]))]),
                    ),
                ])]),
            ));
        }
        Value::object(block)
    }

    /// `(path, summary)` of each error.
    fn errors(diags: Diagnostics) -> Vec<(String, String)> {
        diags
            .iter()
            .map(|d| (format!("{:?}", d.path), d.summary.clone()))
            .collect()
    }

    #[test]
    fn external_gates_are_judged_only_where_observe_is_read() {
        let split = |observe, gate| {
            parse_content(
                &external_with(observe, gate),
                &AttrPath::default(),
                Weights::all_on_x(),
            )
        };
        assert!(split(true, true).is_ok());
        assert!(split(false, false).is_ok());
        let refused = errors(split(false, true).err().unwrap());
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].1, "Gates need observe with the external driver");
        assert!(refused[0].0.contains("external"), "{refused:?}");

        // kong_upgrade walks one observed move per apply too.
        let upgrade = |observe, gate| {
            parse_observable(&external_with(observe, gate), AttrPath::root(BLOCK_NAME))
        };
        assert!(upgrade(true, true).unwrap().is_some());
        assert!(upgrade(false, false).unwrap().is_some());
        let refused = errors(upgrade(false, true).err().unwrap());
        assert_eq!(refused[0].1, "Gates need observe with the external driver");
        assert!(refused[0].0.contains("external"), "{refused:?}");

        // The actions move traffic within one invocation.
        let action =
            |observe, gate| parse(&external_with(observe, gate), AttrPath::root(BLOCK_NAME));
        assert!(action(false, false).unwrap().is_some());
        let gates = errors(action(false, true).err().unwrap());
        assert_eq!(gates[0].1, "Gates cannot judge an external split here");
        let observed = errors(action(true, false).err().unwrap());
        assert_eq!(
            observed[0].1,
            "observe is read by kong_upgrade and kong_traffic_split only"
        );
        assert!(observed[0].0.contains("observe"), "{observed:?}");
    }
}
