//! Staging tests: the same requests to X and to Y before Y gets traffic.
//! Differences in status or in selected headers are reported; Y answering
//! differently from X is exactly what an upgrade must not do silently.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagingRequest {
    pub name: String,
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    /// When set, Y must answer with this status (not only the same as X).
    pub expect_status: Option<u16>,
    /// Response headers whose values must match between X and Y.
    pub compare_headers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagingResult {
    pub name: String,
    pub status_x: Option<u16>,
    pub status_y: Option<u16>,
    pub differences: Vec<String>,
}

impl StagingResult {
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
}

async fn send(client: &reqwest::Client, base: &str, r: &StagingRequest) -> Result<Answer, String> {
    let url = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        r.path.trim_start_matches('/')
    );
    let method = reqwest::Method::from_bytes(r.method.as_bytes())
        .map_err(|_| format!("invalid method {:?}", r.method))?;
    let mut req = client.request(method, &url);
    for (k, v) in &r.headers {
        req = req.header(k, v);
    }
    if let Some(b) = &r.body {
        req = req.body(b.clone());
    }
    let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    Ok(Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
    })
}

/// Compares two answers to the same request.
fn differences(
    r: &StagingRequest,
    x: &Result<Answer, String>,
    y: &Result<Answer, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    match (x, y) {
        (_, Err(e)) => out.push(format!("Y did not answer: {e}")),
        (Err(e), Ok(_)) => out.push(format!("X did not answer: {e}")),
        (Ok(x), Ok(y)) => {
            if x.status != y.status {
                out.push(format!("status: X {} vs Y {}", x.status, y.status));
            }
            for h in &r.compare_headers {
                let get = |a: &Answer| {
                    a.headers
                        .get(h)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                if get(x) != get(y) {
                    out.push(format!("header {h}: X {:?} vs Y {:?}", get(x), get(y)));
                }
            }
        }
    }
    if let (Some(want), Ok(y)) = (r.expect_status, y) {
        if y.status != want {
            out.push(format!("Y answered {} where {want} is expected", y.status));
        }
    }
    out
}

/// Runs every request against both proxies.
pub async fn run(
    proxy_x: &str,
    proxy_y: &str,
    requests: &[StagingRequest],
    timeout: Duration,
) -> Vec<StagingResult> {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            return requests
                .iter()
                .map(|r| StagingResult {
                    name: r.name.clone(),
                    status_x: None,
                    status_y: None,
                    differences: vec![e.to_string()],
                })
                .collect()
        }
    };
    let mut results = Vec::with_capacity(requests.len());
    for r in requests {
        let (x, y) = tokio::join!(send(&client, proxy_x, r), send(&client, proxy_y, r));
        results.push(StagingResult {
            name: r.name.clone(),
            status_x: x.as_ref().ok().map(|a| a.status),
            status_y: y.as_ref().ok().map(|a| a.status),
            differences: differences(r, &x, &y),
        });
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> StagingRequest {
        StagingRequest {
            name: "key-auth".into(),
            method: "GET".into(),
            path: "/".into(),
            headers: BTreeMap::new(),
            body: None,
            expect_status: Some(401),
            compare_headers: vec!["www-authenticate".into()],
        }
    }

    fn answer(status: u16, auth: Option<&str>) -> Result<Answer, String> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(a) = auth {
            headers.insert("www-authenticate", a.parse().unwrap());
        }
        Ok(Answer { status, headers })
    }

    #[test]
    fn same_answers_pass_and_differences_are_named() {
        assert!(
            differences(&req(), &answer(401, Some("Key")), &answer(401, Some("Key"))).is_empty()
        );
        let d = differences(&req(), &answer(401, Some("Key")), &answer(200, None));
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d[0].contains("status: X 401 vs Y 200"));
        let d = differences(&req(), &answer(401, None), &Err("refused".into()));
        assert_eq!(d, vec!["Y did not answer: refused"]);
    }
}
