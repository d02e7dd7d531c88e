//! HTTP gate: a GET whose status (and optionally one JSON value) must match.

use super::json_path::JsonPath;
use super::measurement::Measurement;
use super::{read_gate_body, request_error, shown_url, GateAuth};
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct HttpCheck {
    pub url: String,
    pub expected_status: u16,
    /// With `expected_value`: the body must be JSON with this value here.
    pub json_path: Option<JsonPath>,
    pub expected_value: Option<Value>,
    pub auth: GateAuth,
}

impl HttpCheck {
    pub async fn measure(&self, client: &reqwest::Client, timeout: Duration) -> Measurement {
        let shown = shown_url(&self.url);
        let client = match self.auth.client(client) {
            Ok(c) => c,
            Err(e) => return Measurement::error("ca_cert_pem", e),
        };
        let request = client
            .get(&self.url)
            .headers(self.auth.headers())
            .timeout(timeout);
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return request_error(e, timeout, &format!("GET {shown}"), &self.auth),
        };
        let status = response.status().as_u16();
        if status != self.expected_status {
            return Measurement::fail(
                status.to_string(),
                format!(
                    "GET {shown} answered {status}, expected {}",
                    self.expected_status
                ),
            );
        }
        let Some(path) = &self.json_path else {
            return Measurement::pass(status.to_string(), format!("GET {shown} answered {status}"));
        };
        let context = format!("reading the body of GET {shown}");
        let body = match read_gate_body(response, timeout, &context, &self.auth).await {
            Ok(b) => b,
            Err(measurement) => return measurement,
        };
        let document: Value = match serde_json::from_slice(&body) {
            Ok(d) => d,
            Err(e) => {
                return Measurement::fail(
                    "not JSON",
                    format!("GET {shown} did not return JSON: {e}"),
                )
            }
        };
        self.judge_value(path, &document)
    }

    fn judge_value(&self, path: &JsonPath, document: &Value) -> Measurement {
        let Some(found) = path.select(document) else {
            return Measurement::fail(
                "absent",
                format!(
                    "{} is absent from the response of {}",
                    path.as_str(),
                    shown_url(&self.url)
                ),
            );
        };
        let shown = found.to_string();
        match &self.expected_value {
            None => Measurement::pass(shown, format!("{} is present", path.as_str())),
            Some(expected) if values_match(expected, found) => {
                Measurement::pass(shown, format!("{} equals {expected}", path.as_str()))
            }
            Some(expected) => {
                Measurement::fail(shown, format!("{} should be {expected}", path.as_str()))
            }
        }
    }
}

/// Equal as JSON, or equal as text when one side is a string: HCL users
/// write `expected_value = "true"` as often as `true`.
fn values_match(expected: &Value, found: &Value) -> bool {
    if expected == found {
        return true;
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    matches!(
        (expected, found),
        (Value::String(_), _) | (_, Value::String(_))
    ) && text(expected) == text(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::measurement::Outcome;
    use serde_json::json;

    #[test]
    fn compares_json_values_as_json_or_as_text() {
        let check = HttpCheck {
            url: "http://unused".into(),
            expected_status: 200,
            json_path: Some(JsonPath::parse("$.database.reachable").unwrap()),
            expected_value: Some(json!("true")),
            auth: GateAuth::default(),
        };
        let path = check.json_path.clone().unwrap();
        let ok = check.judge_value(&path, &json!({"database": {"reachable": true}}));
        assert_eq!(
            (ok.outcome, ok.value.as_deref()),
            (Outcome::Pass, Some("true"))
        );
        let bad = check.judge_value(&path, &json!({"database": {"reachable": false}}));
        assert_eq!(bad.outcome, Outcome::Fail);
        let absent = check.judge_value(&path, &json!({}));
        assert_eq!(
            (absent.outcome, absent.value.as_deref()),
            (Outcome::Fail, Some("absent"))
        );
        assert!(!values_match(&json!(1), &json!(true)));
    }
}
