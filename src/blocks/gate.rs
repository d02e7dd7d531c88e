//! `gate { ... }` inside `traffic`: a named check (`prometheus`, `http` or
//! `command`) with its analysis policy, parsed into [`GateSpec`]s. The
//! `prometheus` and `http` checks share the authentication and TLS
//! attributes ([`with_auth`], [`parse_auth`]).

use super::traffic::{duration, strings};
use super::{first, string_attr, whole};
use crate::gates::{
    AnalysisPolicy, BasicAuth, CommandCheck, GateAuth, GateCheck, GateSpec, HttpCheck,
    InconclusivePolicy, JsonPath, PrometheusCheck,
};
use crate::migrations::Secret;
use std::time::Duration;
use tfplug::{
    AttrPath, Attribute, Block, Check, Constraint, Diagnostics, NestedBlock, Type, Value,
};

/// The write-only twin of `bearer_token` (managed resources only).
const BEARER_TOKEN_WO: &str = "bearer_token_wo";

/// The `gate` list block. With `write_only` (managed resources on
/// Terraform ≥ 1.11), the token may also come from `bearer_token_wo`;
/// actions cannot hold write-only attributes.
pub fn block(write_only: bool) -> NestedBlock {
    NestedBlock::list(
        "gate",
        Block::new()
            .describe("A check run while Y holds a step's weight: one of `prometheus`, `http` or `command`.")
            .attr(Attribute::string("name").required().describe("Unique name; failures and the history name it."))
            .attr(Attribute::string("interval").optional().check(Check::Duration).describe("Time between measurements (Go duration). Default `10s`."))
            .attr(Attribute::number("count").optional().check(Check::WholeNumber { min: 1, max: 4_294_967_295 }).describe("Measurements per step. Default: every interval until the step's pause ends."))
            .attr(Attribute::number("failure_limit").optional().check(Check::WholeNumber { min: 0, max: 4_294_967_295 }).describe("Failures tolerated before the gate fails. Default `0`."))
            .attr(Attribute::number("consecutive_success_limit").optional().check(Check::WholeNumber { min: 1, max: 4_294_967_295 }).describe("Pass as soon as this many measurements in a row succeed. Default: none (measure for the whole step)."))
            .attr(Attribute::string("inconclusive").optional().check(Check::one_of(["fail", "pass", "wait"])).describe("What a measurement without data counts as: `fail` (default), `pass`, or `wait` (halt for a human)."))
            .attr(Attribute::string("timeout").optional().check(Check::Duration).describe("Bound on one measurement. Default `10s`."))
            .block(NestedBlock::single(
                "prometheus",
                with_auth(write_only, Block::new()
                    .attr(Attribute::string("url").required().check(Check::HttpUrl).describe("Base URL of Prometheus (or of a Prometheus-compatible API: Grafana Cloud, Mimir, Thanos, VictoriaMetrics)."))
                    .attr(Attribute::string("query").required().describe("PromQL instant query; every sample must lie within [min, max]."))
                    .attr(Attribute::number("min").optional().describe("Inclusive lower bound. Default: none (unbounded)."))
                    .attr(Attribute::number("max").optional().describe("Inclusive upper bound. Default: none (unbounded)."))),
            ))
            .block(NestedBlock::single(
                "http",
                with_auth(write_only, Block::new()
                    .attr(Attribute::string("url").required().check(Check::HttpUrl).describe("URL to GET."))
                    .attr(Attribute::number("expected_status").optional().check(Check::WholeNumber { min: 100, max: 599 }).describe("Status that passes. Default `200`."))
                    .attr(Attribute::string("json_path").optional().describe("With `expected_value`: where in the JSON body to look, e.g. `$.status`. Default: none (only the status is checked)."))
                    .attr(Attribute::string("expected_value").optional().describe("The JSON value expected there (parsed as JSON, else compared as a string). Default: none."))),
            ))
            .block(NestedBlock::single(
                "command",
                Block::new().attr(Attribute::list_of("argv", Type::String).required().describe("Program and arguments; exit 0 passes.")),
            )),
    )
}

/// The gates of a wholly known `gate` list.
pub fn parse(v: &Value, path: &AttrPath, diags: &mut Diagnostics) -> Vec<GateSpec> {
    v.elements()
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let at = path.clone().index(i as i64);
            let policy = AnalysisPolicy {
                interval: duration(g, "interval", Duration::from_secs(10), &at, diags),
                count: whole::<u32>(g, "count", &at, diags),
                failure_limit: whole::<u32>(g, "failure_limit", &at, diags).unwrap_or(0),
                consecutive_success_limit: whole::<u32>(g, "consecutive_success_limit", &at, diags),
                inconclusive: match g.attr("inconclusive").as_str() {
                    None | Some("fail") => InconclusivePolicy::Fail,
                    Some("pass") => InconclusivePolicy::Pass,
                    Some("wait") => InconclusivePolicy::Wait,
                    Some(other) => {
                        diags.error_at(
                            at.clone().attr("inconclusive"),
                            "Invalid inconclusive",
                            format!("{other:?} is not fail, pass or wait"),
                        );
                        InconclusivePolicy::Fail
                    }
                },
                timeout: duration(g, "timeout", Duration::from_secs(10), &at, diags),
            };
            let check = parse_check(g, &at, diags)?;
            Some(GateSpec {
                name: g.attr("name").as_str().unwrap_or_default().to_string(),
                check,
                policy,
            })
        })
        .collect()
}

/// Refuses `bearer_token_wo` in any gate of `gates` (a `gate` list found at
/// `path`) when this Terraform cannot keep a value out of the state
/// (`write_only_allowed`, the client's capability): before 1.11 it would
/// store it. Tolerant of unknown values.
pub fn validate_write_only(
    gates: &Value,
    path: &AttrPath,
    write_only_allowed: bool,
) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if write_only_allowed {
        return diags;
    }
    for (i, g) in gates.elements().iter().enumerate() {
        for kind in ["prometheus", "http"] {
            if !first(g.attr(kind)).attr(BEARER_TOKEN_WO).is_null() {
                diags.push(super::write_only_needs_terraform_1_11(
                    path.clone()
                        .index(i as i64)
                        .attr(kind)
                        .attr(BEARER_TOKEN_WO),
                    "bearer token",
                    BEARER_TOKEN_WO,
                    "bearer_token",
                ));
            }
        }
    }
    diags
}

fn parse_check(g: &Value, at: &AttrPath, diags: &mut Diagnostics) -> Option<GateCheck> {
    let (p, h, c) = (
        first(g.attr("prometheus")),
        first(g.attr("http")),
        first(g.attr("command")),
    );
    let present = [!p.is_null(), !h.is_null(), !c.is_null()]
        .iter()
        .filter(|x| **x)
        .count();
    if present != 1 {
        diags.error_at(
            at.clone(),
            "Invalid gate",
            "A gate needs exactly one of prometheus, http or command.",
        );
        return None;
    }
    if !p.is_null() {
        return Some(GateCheck::Prometheus(PrometheusCheck {
            url: p.attr("url").as_str().unwrap_or_default().to_string(),
            query: p.attr("query").as_str().unwrap_or_default().to_string(),
            min: p.attr("min").as_f64(),
            max: p.attr("max").as_f64(),
            auth: parse_auth(p),
        }));
    }
    if !h.is_null() {
        let json_path = match h.attr("json_path").as_str() {
            None => None,
            Some(text) => match JsonPath::parse(text) {
                Ok(p) => Some(p),
                Err(e) => {
                    diags.error_at(
                        at.clone().attr("http").attr("json_path"),
                        "Invalid json_path",
                        e.to_string(),
                    );
                    None
                }
            },
        };
        let expected_value = h
            .attr("expected_value")
            .as_str()
            .map(|t| serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::from(t)));
        return Some(GateCheck::Http(HttpCheck {
            url: h.attr("url").as_str().unwrap_or_default().to_string(),
            expected_status: whole::<u16>(h, "expected_status", &at.clone().attr("http"), diags)
                .unwrap_or(200),
            json_path,
            expected_value,
            auth: parse_auth(h),
        }));
    }
    Some(GateCheck::Command(CommandCheck {
        argv: strings(c.attr("argv")),
    }))
}

/// Adds the authentication and TLS attributes to a check's block.
fn with_auth(write_only: bool, block: Block) -> Block {
    let block = if write_only {
        block
            .attr(Attribute::string("bearer_token").optional().sensitive().describe(
                "Sent as `Authorization: Bearer <token>` (a Grafana Cloud access policy token, a service account token). Sensitive, but stored in state; on Terraform ≥ 1.11 prefer `bearer_token_wo`. Conflicts with `bearer_token_wo`, `basic_auth` and an `Authorization` header. Default: none.",
            ))
            .attr(Attribute::string("bearer_token_wo").optional().sensitive().write_only().describe(
                "Write-only `bearer_token` (Terraform ≥ 1.11): read from the configuration at every plan and apply, never stored in plan or state. Conflicts with `bearer_token`, `basic_auth` and an `Authorization` header. Default: none.",
            ))
            .constraint(Constraint::Conflicting(vec![
                "bearer_token".into(),
                BEARER_TOKEN_WO.into(),
            ]))
    } else {
        block.attr(Attribute::string("bearer_token").optional().sensitive().describe(
            "Sent as `Authorization: Bearer <token>` (a Grafana Cloud access policy token, a service account token). Sensitive. Conflicts with `basic_auth` and an `Authorization` header. Default: none.",
        ))
    };
    block
        .attr(Attribute::map_of("headers", Type::String).optional().sensitive().check(Check::HttpHeaders).describe(
            "Headers sent with every request, e.g. `{ \"X-Scope-OrgID\" = \"tenant-1\" }` or an API key. Sensitive: never shown in plans or logs. Default: none.",
        ))
        .block(NestedBlock::single(
            "basic_auth",
            Block::new()
                .describe("HTTP basic authentication (`Authorization: Basic ...`).")
                .attr(Attribute::string("username").required().describe("User name (for Grafana Cloud: the instance id)."))
                .attr(Attribute::string("password").required().sensitive().describe("Password or token. Sensitive.")),
        ))
        .attr(Attribute::string("ca_cert_pem").optional().check(Check::Pem(tfplug::PemKind::Certificate)).describe(
            "PEM CA certificates trusted for this endpoint's TLS, on top of the Web PKI roots. Default: none (the Web PKI roots only).",
        ))
        .attr(Attribute::bool("insecure_skip_verify").optional().describe(
            "Skip TLS certificate verification. For tests only; prefer `ca_cert_pem`. Default `false`.",
        ))
}

/// A sensitive `map(string)` (`headers`) as secrets.
pub(super) fn secret_map(map: &Value) -> std::collections::BTreeMap<String, Secret> {
    map.entries()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), Secret::new(s))))
                .collect()
        })
        .unwrap_or_default()
}

/// The authentication and TLS settings of a `prometheus`/`http` block;
/// their consistency is checked by [`GateAuth::validate`].
fn parse_auth(check: &Value) -> GateAuth {
    let basic = first(check.attr("basic_auth"));
    GateAuth {
        headers: secret_map(check.attr("headers")),
        bearer_token_write_only: !check.attr(BEARER_TOKEN_WO).is_null(),
        bearer_token: string_attr(check, BEARER_TOKEN_WO)
            .or_else(|| string_attr(check, "bearer_token"))
            .map(Secret::new),
        basic_auth: (!basic.is_null()).then(|| BasicAuth {
            username: string_attr(basic, "username").unwrap_or_default(),
            password: Secret::new(string_attr(basic, "password").unwrap_or_default()),
        }),
        ca_cert_pem: string_attr(check, "ca_cert_pem"),
        insecure_skip_verify: check
            .attr("insecure_skip_verify")
            .as_bool()
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `gate` list holding an `http` gate with these `http` attributes.
    fn gates(http: &[(&str, Value)]) -> Value {
        let http = Value::object(
            http.iter()
                .cloned()
                .chain([("url", "http://127.0.0.1:9".into())]),
        );
        Value::List(vec![Value::object([
            ("name", "g".into()),
            ("http", http),
            ("prometheus", Value::Null),
            ("command", Value::Null),
        ])])
    }

    fn has_write_only_token(block: &NestedBlock) -> bool {
        block.block.blocks.iter().any(|b| {
            b.block
                .attribute(BEARER_TOKEN_WO)
                .is_some_and(|a| a.write_only && a.sensitive)
        })
    }

    #[test]
    fn only_managed_resources_get_the_write_only_token() {
        assert!(has_write_only_token(&block(true)));
        assert!(
            !has_write_only_token(&block(false)),
            "actions hold no write-only attribute"
        );
    }

    #[test]
    fn the_write_only_token_is_parsed_and_refused_where_terraform_would_store_it() {
        let path = AttrPath::root("traffic").attr("gate");
        let wo = gates(&[("bearer_token_wo", "t0ken".into())]);
        let mut diags = Diagnostics::new();
        let parsed = parse(&wo, &path, &mut diags);
        let GateCheck::Http(http) = &parsed[0].check else {
            panic!("an http gate: {parsed:?}");
        };
        assert_eq!(http.auth.bearer_token, Some(Secret::new("t0ken")));
        assert!(http.auth.bearer_token_write_only);
        assert!(validate_write_only(&wo, &path, true).is_empty());
        let refused = validate_write_only(&wo, &path, false);
        let d = &refused.iter().collect::<Vec<_>>()[..];
        assert_eq!(d.len(), 1, "{refused:?}");
        assert_eq!(
            d[0].path.as_ref().map(ToString::to_string).as_deref(),
            Some("traffic.gate[0].http.bearer_token_wo")
        );
        assert!(
            d[0].detail.contains("Use bearer_token (sensitive) instead"),
            "{}",
            d[0].detail
        );
        let sensitive = gates(&[("bearer_token", "t0ken".into())]);
        assert!(validate_write_only(&sensitive, &path, false).is_empty());
        let parsed = parse(&sensitive, &path, &mut diags);
        let GateCheck::Http(http) = &parsed[0].check else {
            panic!("an http gate");
        };
        assert!(!http.auth.bearer_token_write_only);
    }
}
