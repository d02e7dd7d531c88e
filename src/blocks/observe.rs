//! `external { observe { ... } }` of the `traffic` block: where the live
//! share of Y is read back ([`Observe`]), so the gates of a step judge a
//! split the load balancer really carries.

use super::traffic::{duration, strings};
use crate::gates::{GateAuth, JsonPath};
use crate::traffic::{HttpSource, Observe, ObserveSource};
use std::time::Duration;
use tfplug::{
    AttrPath, Attribute, Block, Check, Constraint, Diagnostics, NestedBlock, Type, Value,
};

pub(super) const OBSERVE: &str = "observe";
const DEFAULT_OBSERVE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const DEFAULT_OBSERVE_INTERVAL: Duration = Duration::from_secs(5);

/// `external { observe { ... } }`: where the live share of Y is read back.
pub(super) fn observe_block() -> NestedBlock {
    NestedBlock::single(
        OBSERVE,
        Block::new()
            .describe(
                "How the provider reads back the share of traffic the load balancer gives cluster Y (a percent, 0–100), so \
                 the gates of a step judge a weight the load balancer really carries. Exactly one of `url` or `command`. Each \
                 reading is bounded to 10s and 64 KiB. Read by `kong_traffic_split` and `kong_upgrade`, which make one move \
                 per apply; the actions move traffic within one invocation and refuse it (and gates with `external`).",
            )
            .constraint(Constraint::ExactlyOneOf(vec!["url".into(), "command".into()]))
            .attr(Attribute::string("url").optional().check(Check::HttpUrl).describe(
                "A URL answering a GET with JSON; `json_path` selects Y's share in it (a number, or a string holding one). Default: none.",
            ))
            .attr(Attribute::string("json_path").optional().describe(
                "With `url`: the path of Y's share in the answer, as `$.key.key[index]` (keys and list indexes only; no \
                 wildcards, filters or slices), e.g. `$.backends[1].share`. Default: none (required with `url`).",
            ))
            .attr(Attribute::map_of("headers", Type::String).optional().sensitive().check(Check::HttpHeaders).describe(
                "With `url`: headers sent with the GET (an API key, `Authorization`). Sensitive: never shown in plans or logs. Default: none.",
            ))
            .attr(Attribute::list_of("command", Type::String).optional().describe(
                "An argv run without a shell (in its own process group, killed after 10s) that prints Y's share on stdout: \
                 the first word of the last line, e.g. `[\"sh\", \"-c\", \"kubectl get httproute kong -o jsonpath='{.spec.rules[0].backendRefs[1].weight}'\"]`. \
                 Default: none.",
            ))
            .attr(Attribute::number("tolerance").optional().check(Check::WholeNumber { min: 0, max: 50 }).describe(
                "How many percentage points the observed share may differ from the published weight and still count as \
                 carried (a share computed from request counts is never exact). Default `1`.",
            ))
            .attr(Attribute::string("timeout").optional().check(Check::Duration).describe(
                "How long an apply waits for the load balancer to carry the published weight before it fails (the \
                 resource's `timeouts` bound it too). Default `5m`.",
            ))
            .attr(Attribute::string("interval").optional().check(Check::Duration).describe(
                "Pause between readings. Default `5s`.",
            )),
    )
}

pub(super) fn parse_observe(
    external: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
) -> Option<Observe> {
    let block = super::first(external.attr(OBSERVE));
    if block.is_null() {
        return None;
    }
    let at = path.clone().attr(OBSERVE);
    let source = match (block.attr("url").as_str(), block.attr("json_path").as_str()) {
        (Some(url), Some(json_path)) => {
            let url = reqwest::Url::parse(url)
                .map_err(|e| {
                    diags.error_at(at.clone().attr("url"), "Invalid observe url", e.to_string())
                })
                .ok()?;
            let json_path = JsonPath::parse(json_path)
                .map_err(|e| {
                    diags.error_at(
                        at.clone().attr("json_path"),
                        "Invalid observe json_path",
                        e.to_string(),
                    )
                })
                .ok()?;
            let headers = super::gate::secret_map(block.attr("headers"));
            ObserveSource::Http(Box::new(HttpSource {
                url,
                json_path,
                auth: GateAuth {
                    headers,
                    ..GateAuth::default()
                },
            }))
        }
        (Some(_), None) => {
            diags.error_at(
                at.attr("json_path"),
                "Missing observe json_path",
                "With url, set json_path to where the answer holds Y's share, e.g. `$.backends[1].share`.",
            );
            return None;
        }
        (None, _) => {
            let argv = strings(block.attr("command"));
            if argv.is_empty() {
                diags.error_at(
                    at.attr("command"),
                    "Empty observe command",
                    "command needs at least the program to run.",
                );
                return None;
            }
            ObserveSource::Command { argv }
        }
    };
    Some(Observe {
        source,
        tolerance: block
            .attr("tolerance")
            .as_i64()
            .and_then(|t| u8::try_from(t).ok())
            .unwrap_or(1),
        timeout: duration(block, "timeout", DEFAULT_OBSERVE_TIMEOUT, &at, diags),
        interval: duration(block, "interval", DEFAULT_OBSERVE_INTERVAL, &at, diags),
    })
}
