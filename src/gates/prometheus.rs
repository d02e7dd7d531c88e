//! Prometheus gate: an instant PromQL query whose every sample must fall in
//! a threshold range.

use super::measurement::Measurement;
use super::{read_gate_body, request_error, shown_url, GateAuth};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusCheck {
    /// Base URL of the Prometheus server (`http://prometheus:9090`).
    pub url: String,
    /// An instant query returning a vector or a scalar.
    pub query: String,
    /// Inclusive lower bound on every sample.
    pub min: Option<f64>,
    /// Inclusive upper bound on every sample.
    pub max: Option<f64>,
    pub auth: GateAuth,
}

#[derive(Debug, Deserialize)]
struct QueryResponse {
    status: String,
    #[serde(default)]
    data: Option<QueryData>,
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum QueryData {
    Vector(Vec<VectorSample>),
    Scalar((f64, String)),
    Matrix(serde::de::IgnoredAny),
    String(serde::de::IgnoredAny),
}

#[derive(Debug, Deserialize)]
struct VectorSample {
    #[serde(default)]
    metric: std::collections::BTreeMap<String, String>,
    value: (f64, String),
}

/// One sample: its labels as `{a="b"}` (empty for a scalar) and its value.
struct Sample {
    labels: String,
    raw: String,
    value: f64,
}

impl PrometheusCheck {
    pub async fn measure(&self, client: &reqwest::Client, timeout: Duration) -> Measurement {
        let endpoint = format!("{}/api/v1/query", self.url.trim_end_matches('/'));
        let shown = shown_url(&endpoint);
        let client = match self.auth.client(client) {
            Ok(c) => c,
            Err(e) => return Measurement::error("ca_cert_pem", e),
        };
        let request = client
            .get(&endpoint)
            .query(&[("query", self.query.as_str())])
            .headers(self.auth.headers())
            .timeout(timeout);
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let context = format!("cannot query Prometheus at {shown}");
                return request_error(e, timeout, &context, &self.auth);
            }
        };
        let status = response.status();
        let context = format!("reading Prometheus' answer from {shown}");
        let body = match read_gate_body(response, timeout, &context, &self.auth).await {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(measurement) => return measurement,
        };
        match serde_json::from_str::<QueryResponse>(&body) {
            Ok(parsed) => self.judge(parsed),
            Err(_) => Measurement::error(
                "url",
                format!(
                    "{shown} answered {status}{} with something that is not a Prometheus API response: {}",
                    credentials_hint(status),
                    self.auth.redact(&snippet(&body))
                ),
            ),
        }
    }

    fn judge(&self, response: QueryResponse) -> Measurement {
        if response.status != "success" {
            let kind = response.error_type.unwrap_or_else(|| "error".into());
            let message = response.error.unwrap_or_default();
            return Measurement::error(
                "query",
                format!("Prometheus rejected the query ({kind}): {message}"),
            );
        }
        let samples = match response.data {
            Some(QueryData::Vector(v)) => {
                v.into_iter().map(Sample::from_vector).collect::<Vec<_>>()
            }
            Some(QueryData::Scalar((_, raw))) => vec![Sample::from_raw(String::new(), raw)],
            Some(QueryData::Matrix(_)) | Some(QueryData::String(_)) | None => {
                return Measurement::error(
                    "query",
                    "the query must return an instant vector or a scalar (drop the range selector, or wrap it in rate()/avg_over_time())",
                );
            }
        };
        // NaN is what a ratio over zero requests yields: no evidence either way.
        let numbers: Vec<&Sample> = samples.iter().filter(|s| !s.value.is_nan()).collect();
        if numbers.is_empty() {
            return Measurement::inconclusive(format!(
                "no data: `{}` returned no samples",
                self.query
            ));
        }
        match numbers.iter().find(|s| !self.in_range(s.value)) {
            Some(bad) => Measurement::fail(
                bad.raw.clone(),
                format!(
                    "{}{} is outside {}",
                    self.query_label(),
                    bad.labels,
                    self.range_text()
                ),
            ),
            None => Measurement::pass(
                numbers[0].raw.clone(),
                format!("{} within {}", self.query_label(), self.range_text()),
            ),
        }
    }

    fn in_range(&self, value: f64) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }

    fn range_text(&self) -> String {
        match (self.min, self.max) {
            (Some(min), Some(max)) => format!("[{min}, {max}]"),
            (Some(min), None) => format!("[{min}, +inf)"),
            (None, Some(max)) => format!("(-inf, {max}]"),
            (None, None) => "any value".to_string(),
        }
    }

    fn query_label(&self) -> String {
        format!("`{}`", self.query)
    }
}

impl Sample {
    fn from_vector(s: VectorSample) -> Sample {
        let labels = if s.metric.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = s
                .metric
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            format!("{{{}}}", pairs.join(","))
        };
        Sample::from_raw(labels, s.value.1)
    }

    fn from_raw(labels: String, raw: String) -> Sample {
        // Prometheus writes "NaN", "+Inf", "-Inf", which f64 parses.
        let value = raw.parse::<f64>().unwrap_or(f64::NAN);
        Sample { labels, raw, value }
    }
}

/// What a 401/403 from a proxy in front of Prometheus usually means.
fn credentials_hint(status: reqwest::StatusCode) -> &'static str {
    match status.as_u16() {
        401 => " (credentials missing or refused: see headers, bearer_token and basic_auth)",
        403 => " (the credentials are not allowed to query)",
        _ => "",
    }
}

fn snippet(body: &str) -> String {
    let trimmed = body.trim();
    match trimmed.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::measurement::Outcome;

    fn check(min: Option<f64>, max: Option<f64>) -> PrometheusCheck {
        PrometheusCheck {
            url: "http://unused".into(),
            query: "q".into(),
            min,
            max,
            auth: GateAuth::default(),
        }
    }

    fn judge(check: &PrometheusCheck, json: &str) -> Measurement {
        check.judge(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn judges_vectors_scalars_empty_results_and_errors() {
        let c = check(Some(0.0), Some(0.05));
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"y"},"value":[1,"0.31"]}]}}"#;
        let m = judge(&c, vector);
        assert_eq!(
            (m.outcome, m.value.as_deref()),
            (Outcome::Fail, Some("0.31"))
        );
        assert!(
            m.detail.contains("job=\"y\"") && m.detail.contains("[0, 0.05]"),
            "{}",
            m.detail
        );
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"0.01"]}}"#;
        assert_eq!(judge(&c, scalar).outcome, Outcome::Pass);
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(judge(&c, empty).outcome, Outcome::Inconclusive);
        let nan = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}"#;
        assert_eq!(judge(&c, nan).outcome, Outcome::Inconclusive);
        let error = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        let m = judge(&c, error);
        assert_eq!(
            (m.outcome, m.fault.as_deref()),
            (Outcome::Error, Some("query"))
        );
        assert!(m.detail.contains("bad_data") && m.detail.contains("parse error"));
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert_eq!(judge(&c, matrix).outcome, Outcome::Error);
    }

    #[test]
    fn open_ended_ranges_bound_one_side_only() {
        let at_least = check(Some(1.0), None);
        let one = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"+Inf"]}}"#;
        assert_eq!(judge(&at_least, one).outcome, Outcome::Pass);
        let at_most = check(None, Some(1.0));
        assert_eq!(judge(&at_most, one).outcome, Outcome::Fail);
    }
}
