//! Gates: checks that decide whether traffic may move further to cluster Y.
//!
//! A gate is a check ([`GateCheck`]: Prometheus query, HTTP request, command)
//! plus an analysis policy ([`AnalysisPolicy`]: interval, count,
//! failure_limit, consecutive_success_limit, inconclusive handling). Whether
//! an analysis is over is decided by the pure [`decide`]; [`analyse`] is the
//! loop that measures and asks it. Gates know nothing about load balancers.

mod analysis;
mod auth;
mod command;
use kong_upgrade_core::gates::decision;
mod http;
mod json_path;
use kong_upgrade_core::gates::measurement;
mod prometheus;

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod body_tests;

pub use analysis::{analyse, GateRecord, KEPT_MEASUREMENTS};
pub use auth::{BasicAuth, GateAuth};
pub use command::CommandCheck;
pub use decision::{decide, AnalysisPolicy, InconclusivePolicy, Verdict};
pub use http::HttpCheck;
pub use json_path::{JsonPath, JsonPathError};
pub use measurement::{now_rfc3339, rfc3339, Measurement, Outcome};
pub use prometheus::PrometheusCheck;

use std::collections::HashSet;
use std::time::Duration;

/// One named gate as configured in a `gate` block.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSpec {
    /// Unique among a resource's gates; errors and the history name it.
    pub name: String,
    pub check: GateCheck,
    pub policy: AnalysisPolicy,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GateCheck {
    Prometheus(PrometheusCheck),
    Http(HttpCheck),
    Command(CommandCheck),
}

impl GateCheck {
    /// Takes one measurement, bounded by `timeout`. Never fails: a broken
    /// check is an [`Outcome::Error`] measurement, and one that outlives
    /// `timeout` (a server that accepts and never answers, a slow body) is
    /// a "timed out after …" error the moment the timeout passes.
    pub async fn measure(&self, client: &reqwest::Client, timeout: Duration) -> Measurement {
        let measured = async {
            match self {
                GateCheck::Prometheus(check) => check.measure(client, timeout).await,
                GateCheck::Http(check) => check.measure(client, timeout).await,
                GateCheck::Command(check) => check.measure(timeout).await,
            }
        };
        tokio::time::timeout(timeout, measured)
            .await
            .unwrap_or_else(|_| timed_out(timeout))
    }

    /// The block name in HCL (`prometheus`, `http`, `command`).
    pub fn kind(&self) -> &'static str {
        match self {
            GateCheck::Prometheus(_) => "prometheus",
            GateCheck::Http(_) => "http",
            GateCheck::Command(_) => "command",
        }
    }
}

/// A gate configuration that cannot work, found without any I/O.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{attribute}: {message}")]
pub struct GateConfigError {
    /// Path of the attribute at fault relative to the gate block, e.g.
    /// `prometheus.max` or `interval`.
    pub attribute: String,
    /// Index of the gate among those validated together.
    pub gate_index: Option<usize>,
    pub message: String,
}

impl GateSpec {
    /// Checks what can be checked at plan time.
    pub fn validate(&self) -> Result<(), GateConfigError> {
        let fail = |attribute: &str, message: String| {
            Err(GateConfigError {
                attribute: attribute.to_string(),
                gate_index: None,
                message,
            })
        };
        if self.name.trim().is_empty() {
            return fail("name", "a gate needs a name".into());
        }
        if self.policy.interval.is_zero() {
            return fail("interval", "must be longer than zero".into());
        }
        if self.policy.timeout.is_zero() {
            return fail("timeout", "must be longer than zero".into());
        }
        if self.policy.count == Some(0) {
            return fail(
                "count",
                "must be at least 1 (omit it to measure for the whole pause)".into(),
            );
        }
        if self.policy.consecutive_success_limit == Some(0) {
            return fail("consecutive_success_limit", "must be at least 1".into());
        }
        if let (Some(count), Some(streak)) =
            (self.policy.count, self.policy.consecutive_success_limit)
        {
            if streak > count {
                return fail(
                    "consecutive_success_limit",
                    format!("{streak} successes in a row can never happen within count = {count} measurements"),
                );
            }
        }
        match &self.check {
            GateCheck::Prometheus(p) => {
                validate_prometheus(p).and_then(|()| p.auth.validate("prometheus"))
            }
            GateCheck::Http(h) => validate_http(h).and_then(|()| h.auth.validate("http")),
            GateCheck::Command(c) if c.argv.is_empty() || c.argv[0].is_empty() => {
                fail("command.argv", "needs at least the program to run".into())
            }
            GateCheck::Command(_) => Ok(()),
        }
    }
}

/// Validates every gate and that their names are unique.
pub fn validate_gates(gates: &[GateSpec]) -> Result<(), GateConfigError> {
    let mut seen = HashSet::new();
    for (index, gate) in gates.iter().enumerate() {
        gate.validate().map_err(|e| GateConfigError {
            gate_index: Some(index),
            ..e
        })?;
        if !seen.insert(gate.name.as_str()) {
            return Err(GateConfigError {
                attribute: "name".into(),
                gate_index: Some(index),
                message: format!("another gate is already named {:?}", gate.name),
            });
        }
    }
    Ok(())
}

fn validate_prometheus(check: &PrometheusCheck) -> Result<(), GateConfigError> {
    let fail = |attribute: &str, message: String| {
        Err(GateConfigError {
            attribute: attribute.to_string(),
            gate_index: None,
            message,
        })
    };
    if let Err(reason) = tfplug::http_url(&check.url) {
        return fail("prometheus.url", reason);
    }
    if check.query.trim().is_empty() {
        return fail("prometheus.query", "is empty".into());
    }
    match (check.min, check.max) {
        (None, None) => fail(
            "prometheus",
            "set min, max or both: a gate without a threshold always passes".into(),
        ),
        (Some(min), Some(max)) if min > max => fail(
            "prometheus.min",
            format!("min ({min}) is greater than max ({max})"),
        ),
        _ => Ok(()),
    }
}

fn validate_http(check: &HttpCheck) -> Result<(), GateConfigError> {
    let fail = |attribute: &str, message: String| {
        Err(GateConfigError {
            attribute: attribute.to_string(),
            gate_index: None,
            message,
        })
    };
    if let Err(reason) = tfplug::http_url(&check.url) {
        return fail("http.url", reason);
    }
    if !(100..=599).contains(&check.expected_status) {
        return fail(
            "http.expected_status",
            format!("{} is not an HTTP status", check.expected_status),
        );
    }
    if check.expected_value.is_some() && check.json_path.is_none() {
        return fail(
            "http.expected_value",
            "needs json_path: which value should equal it?".into(),
        );
    }
    Ok(())
}

/// The measurement of a check that did not finish within `timeout`.
pub(crate) fn timed_out(timeout: Duration) -> Measurement {
    Measurement::error(
        "timeout",
        format!("timed out after {}", shown_duration(timeout)),
    )
}

/// `5s`, `1.5s`, `250ms`: as a user writes it in a gate's `timeout`.
pub(crate) fn shown_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// A failed request as a measurement: "timed out after …" when the
/// timeout ran out, else what went wrong, without the URL (it may carry
/// credentials) and with the check's secrets redacted.
pub(crate) fn request_error(
    e: reqwest::Error,
    timeout: Duration,
    context: &str,
    auth: &GateAuth,
) -> Measurement {
    if e.is_timeout() {
        return timed_out(timeout);
    }
    let e = e.without_url();
    let mut causes = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        source = cause.source();
    }
    let detail = auth.redact(&causes.join(": "));
    Measurement::error("url", format!("{context}: {detail}"))
}

/// Largest response body a `prometheus` or `http` gate reads: a query
/// answer or a health document is a few KiB; anything past this is a
/// misconfigured endpoint (a dashboard, a log dump), refused before it
/// fills memory.
pub const MAX_GATE_BODY_BYTES: usize = 1024 * 1024;

/// A gate's response body, read whole up to [`MAX_GATE_BODY_BYTES`]; a
/// longer one or a broken read is an error measurement (counted like any
/// other failed read under the gate's policy).
pub(crate) async fn read_gate_body(
    response: reqwest::Response,
    timeout: Duration,
    context: &str,
    auth: &GateAuth,
) -> Result<Vec<u8>, Measurement> {
    crate::kong::read_body_capped(response, MAX_GATE_BODY_BYTES)
        .await
        .map_err(|e| match e {
            crate::kong::BodyError::TooLarge => Measurement::error(
                "url",
                format!(
                    "{context}: the answer is larger than {} MiB, the most a gate reads",
                    MAX_GATE_BODY_BYTES / (1024 * 1024)
                ),
            ),
            crate::kong::BodyError::Transport(e) => request_error(e, timeout, context, auth),
        })
}

/// `url` as gates show it in messages and history: without user info or
/// query values, which may hold credentials.
pub(crate) fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            let had_query = parsed.query().is_some();
            parsed.set_query(None);
            if had_query {
                format!("{parsed}?…")
            } else {
                parsed.to_string()
            }
        }
        Err(_) => "(invalid URL)".to_string(),
    }
}

/// The HTTP client gates measure with: rustls, no proxy from the
/// environment (gates talk to loopback and in-cluster endpoints).
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    auth::base_client_builder().build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prometheus_gate(name: &str, min: Option<f64>, max: Option<f64>) -> GateSpec {
        GateSpec {
            name: name.into(),
            check: GateCheck::Prometheus(PrometheusCheck {
                url: "http://127.0.0.1:9090".into(),
                query: "up".into(),
                min,
                max,
                auth: GateAuth::default(),
            }),
            policy: AnalysisPolicy::default(),
        }
    }

    #[test]
    fn urls_in_messages_carry_no_credentials() {
        assert_eq!(
            shown_url("https://user:pw@prom:9090/api?token=t"),
            "https://prom:9090/api?…"
        );
        assert_eq!(shown_url("http://prom:9090"), "http://prom:9090/");
    }

    #[test]
    fn validation_points_at_the_attribute_at_fault() {
        assert!(validate_gates(&[prometheus_gate("a", None, Some(0.05))]).is_ok());
        let e = validate_gates(&[prometheus_gate("a", Some(2.0), Some(1.0))]).unwrap_err();
        assert_eq!(
            (e.attribute.as_str(), e.gate_index),
            ("prometheus.min", Some(0))
        );
        let e = validate_gates(&[
            prometheus_gate("a", None, Some(1.0)),
            prometheus_gate("a", None, Some(1.0)),
        ])
        .unwrap_err();
        assert_eq!((e.attribute.as_str(), e.gate_index), ("name", Some(1)));
        let mut counted = prometheus_gate("b", None, Some(1.0));
        counted.policy.count = Some(2);
        counted.policy.consecutive_success_limit = Some(3);
        assert_eq!(
            counted.validate().unwrap_err().attribute,
            "consecutive_success_limit"
        );
        let http = GateSpec {
            check: GateCheck::Http(HttpCheck {
                url: "not a url".into(),
                expected_status: 200,
                json_path: None,
                expected_value: None,
                auth: GateAuth::default(),
            }),
            ..prometheus_gate("c", None, None)
        };
        assert_eq!(http.validate().unwrap_err().attribute, "http.url");
    }
}
