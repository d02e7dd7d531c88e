//! `external { observe { ... } }`: how the provider learns which share of
//! traffic the load balancer it does not drive gives cluster Y, so the gates
//! of a step judge a split the load balancer really carries (the move each
//! apply makes is `kong_upgrade_core::traffic::observed`).
//!
//! Two sources, each bounded in time and output size:
//! - `url` + `json_path` (+ sensitive `headers`): a GET answering JSON; the
//!   value at the path (a number, or a string holding one) is Y's percent.
//! - `command`: an argv, run by [`crate::platform::run_briefly`] (no
//!   shell, its own process group), printing the percent on stdout (the
//!   first word of the last line).
//!
//! [`wait_until_carried`] polls the source until the share is within
//! `tolerance` of the published weight, or fails with the last reading.

use crate::gates::{GateAuth, JsonPath};
use crate::kong::{read_body_capped, BodyError};
use crate::platform::run_briefly;
use crate::traffic::TrafficWeight;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Largest answer (HTTP body or stdout) read from a source.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// Longest one reading may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
pub enum ObserveSource {
    Http(Box<HttpSource>),
    Command { argv: Vec<String> },
}

/// `url` + `json_path` (+ `headers`).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSource {
    pub url: reqwest::Url,
    pub json_path: JsonPath,
    /// Only `headers` is used: sent sensitive, redacted from messages.
    pub auth: GateAuth,
}

/// The `observe` block, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Observe {
    pub source: ObserveSource,
    /// How far (percentage points) the observed share may be from the
    /// published weight and still count as carried.
    pub tolerance: u8,
    /// How long to wait for the load balancer to carry the weight.
    pub timeout: Duration,
    /// Pause between readings.
    pub interval: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ObserveError {
    #[error(
        "observe did not report {expected} (± {tolerance}) within {waited:?}; last reading: {last}"
    )]
    NotCarried {
        expected: TrafficWeight,
        tolerance: u8,
        waited: Duration,
        last: String,
    },
    #[error("stopped while waiting for observe to report {expected}")]
    Cancelled { expected: TrafficWeight },
    #[error("cannot build the HTTP client observe reads with: {0}")]
    Client(String),
}

impl Observe {
    /// Y's share as the source reports it now, in percent.
    pub async fn read_share(&self, client: &reqwest::Client) -> Result<f64, String> {
        match &self.source {
            ObserveSource::Http(http) => {
                read_http(client, &http.url, &http.json_path, &http.auth).await
            }
            ObserveSource::Command { argv } => read_command(argv).await,
        }
    }
}

/// Waits until `observe` reports that the load balancer gives Y `expected`
/// (± tolerance): the hook that runs before the gates of a step judge.
/// Bounded by `observe.timeout` and `cancel`.
pub async fn wait_until_carried(
    observe: &Observe,
    client: &reqwest::Client,
    expected: TrafficWeight,
    cancel: &CancellationToken,
) -> Result<f64, ObserveError> {
    let started = tokio::time::Instant::now();
    let deadline = started + observe.timeout;
    // What the source last said; a reading the deadline cuts short says
    // nothing new, so the error reports the one before it.
    let mut last: Option<String> = None;
    loop {
        let reading = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ObserveError::Cancelled { expected }),
            r = tokio::time::timeout_at(deadline, observe.read_share(client)) => r,
        };
        let said = match reading {
            Ok(Ok(share)) if carries(share, expected, observe.tolerance) => {
                tracing::info!(share, %expected, "observe: the load balancer carries the weight");
                return Ok(share);
            }
            Ok(Ok(share)) => format!("{share}%"),
            Ok(Err(e)) => e,
            Err(_) => last
                .take()
                .unwrap_or_else(|| "no answer before the deadline".to_string()),
        };
        tracing::info!(%expected, last = %said, "observe: waiting for the load balancer");
        let now = tokio::time::Instant::now();
        if now + observe.interval > deadline {
            return Err(ObserveError::NotCarried {
                expected,
                tolerance: observe.tolerance,
                waited: now - started,
                last: said,
            });
        }
        last = Some(said);
        tokio::select! {
            _ = tokio::time::sleep(observe.interval) => {}
            _ = cancel.cancelled() => return Err(ObserveError::Cancelled { expected }),
        }
    }
}

/// Whether an observed share counts as the published weight.
pub fn carries(share: f64, expected: TrafficWeight, tolerance: u8) -> bool {
    (share - f64::from(expected.percent())).abs() <= f64::from(tolerance)
}

/// A share in 0..=100 from a number, or a string holding one.
fn share_of(value: &serde_json::Value) -> Result<f64, String> {
    let number = match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match number {
        Some(n) if (0.0..=100.0).contains(&n) => Ok(n),
        Some(n) => Err(format!("{n} is not a share between 0 and 100")),
        None => Err(format!("{value} is not a number")),
    }
}

async fn read_http(
    client: &reqwest::Client,
    url: &reqwest::Url,
    json_path: &JsonPath,
    auth: &GateAuth,
) -> Result<f64, String> {
    let shown = crate::gates::shown_url(url.as_str());
    let fail = |e: String| auth.redact(&format!("GET {shown}: {e}"));
    let response = client
        .get(url.clone())
        .headers(auth.headers())
        .timeout(READ_TIMEOUT)
        .send()
        .await
        .map_err(|e| fail(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("status {}", response.status())));
    }
    let body = read_body_capped(response, MAX_OUTPUT_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => fail(format!("answer larger than {MAX_OUTPUT_BYTES} bytes")),
            BodyError::Transport(e) => fail(e.without_url().to_string()),
        })?;
    let document: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| fail(format!("not JSON: {e}")))?;
    let value = json_path
        .select(&document)
        .ok_or_else(|| fail(format!("no value at {}", json_path.as_str())))?;
    share_of(value).map_err(fail)
}

async fn read_command(argv: &[String]) -> Result<f64, String> {
    let output = run_briefly(argv, READ_TIMEOUT, MAX_OUTPUT_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    let program = &argv[0];
    if !output.status.success() {
        return Err(format!("{program} exited with {}", output.status));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let word = text
        .lines()
        .rev()
        .find_map(|l| l.split_whitespace().next())
        .ok_or_else(|| format!("{program} printed nothing"))?;
    share_of(&serde_json::Value::String(word.to_string())).map_err(|e| format!("{program}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::Secret;
    use crate::platform::tests::still_running;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn w(v: i64) -> TrafficWeight {
        TrafficWeight::new(v).unwrap()
    }

    fn command(script: &str) -> Observe {
        Observe {
            source: ObserveSource::Command {
                argv: vec!["sh".into(), "-c".into(), script.into()],
            },
            tolerance: 1,
            timeout: Duration::from_millis(1500),
            interval: Duration::from_millis(100),
        }
    }

    /// A one-route HTTP server answering every request with `body` after
    /// checking the `x-api-key` header; returns its URL.
    async fn serve(body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/share", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = vec![0u8; 4096];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..n]).to_lowercase();
                let answer = if request.contains("x-api-key: k3y") {
                    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
                } else {
                    "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_string()
                };
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        url
    }

    fn http(url: &str, path: &str, key: Option<&str>) -> Observe {
        let mut auth = GateAuth::default();
        if let Some(key) = key {
            auth.headers.insert("X-Api-Key".into(), Secret::new(key));
        }
        Observe {
            source: ObserveSource::Http(Box::new(HttpSource {
                url: url.parse().unwrap(),
                json_path: JsonPath::parse(path).unwrap(),
                auth,
            })),
            ..command("")
        }
    }

    #[test]
    fn a_share_counts_within_the_tolerance_only() {
        assert!(carries(10.0, w(10), 0));
        assert!(carries(10.9, w(10), 1));
        assert!(!carries(11.5, w(10), 1));
        assert!(!carries(0.0, w(10), 5));
    }

    #[tokio::test]
    async fn a_command_reports_the_share_and_one_that_lies_or_hangs_is_refused() {
        let client = crate::gates::http_client().unwrap();
        let cancel = CancellationToken::new();
        let share = wait_until_carried(
            &command("echo 'weights'; echo '25 (initial 1)'"),
            &client,
            w(25),
            &cancel,
        )
        .await;
        assert_eq!(share, Ok(25.0));
        let wrong = wait_until_carried(&command("echo 10"), &client, w(25), &cancel)
            .await
            .unwrap_err();
        assert!(
            matches!(&wrong, ObserveError::NotCarried { last, .. } if last == "10%"),
            "{wrong}"
        );
        for (script, says) in [
            ("echo 250", "not a share between 0 and 100"),
            ("echo hello", "is not a number"),
            ("exit 3", "exited with exit status: 3"),
            ("yes 1", "printed more than"),
        ] {
            let e = command(script).read_share(&client).await.unwrap_err();
            assert!(e.contains(says), "{script}: {e}");
        }
        let started = std::time::Instant::now();
        let hung = command("sleep 30.4321 & sleep 30.4321; echo 25");
        let e = wait_until_carried(&hung, &client, w(25), &cancel)
            .await
            .unwrap_err();
        assert!(matches!(e, ObserveError::NotCarried { .. }), "{e}");
        assert!(
            !still_running("30.4321"),
            "the background child went with its process group"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded by observe.timeout"
        );
    }

    #[tokio::test]
    async fn a_reading_cut_by_the_deadline_reports_the_one_before_it() {
        let client = crate::gates::http_client().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let once = dir.path().join("read-once");
        // Answers 10 the first time, then hangs past the deadline.
        let script = format!(
            "if [ -e {0} ]; then exec sleep 30.8101; fi; touch {0}; echo 10",
            once.display()
        );
        let e = wait_until_carried(&command(&script), &client, w(25), &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ObserveError::NotCarried { last, .. } if last == "10%"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn an_http_source_is_read_at_its_json_path_with_its_headers() {
        let client = crate::gates::http_client().unwrap();
        let url =
            serve(r#"{"backends":[{"name":"x","share":"90"},{"name":"y","share":10}]}"#).await;
        let observe = http(&url, "$.backends[1].share", Some("k3y"));
        assert_eq!(observe.read_share(&client).await, Ok(10.0));
        let x = http(&url, "$.backends[0].share", Some("k3y"));
        assert_eq!(x.read_share(&client).await, Ok(90.0));
        let missing = http(&url, "$.backends[2].share", Some("k3y"));
        assert!(missing
            .read_share(&client)
            .await
            .unwrap_err()
            .contains("no value at"));
        let refused = http(&url, "$.backends[1].share", Some("wrong"))
            .read_share(&client)
            .await
            .unwrap_err();
        assert!(refused.contains("401"), "{refused}");
        assert!(
            !refused.contains("wrong"),
            "the header is never shown: {refused}"
        );
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert_eq!(
            wait_until_carried(&observe, &client, w(50), &cancel).await,
            Err(ObserveError::Cancelled { expected: w(50) })
        );
    }
}
