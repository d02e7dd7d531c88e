//! Gates read at most [`MAX_GATE_BODY_BYTES`] of an answer: a real local
//! server sends a valid answer padded to just under the cap (judged), then
//! one past it, with and without a declared length (refused, naming the cap).

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A Prometheus answer (`vector(1)` = 1) padded with JSON whitespace to
/// `size` bytes.
fn padded_answer(size: usize) -> Vec<u8> {
    let json = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}"#;
    let mut body = json.to_vec();
    body.resize(size.max(json.len()), b' ');
    body
}

/// Serves `body` to every request; with `declare`, under a
/// `content-length`, else streamed until the connection closes.
async fn serve(body: Vec<u8>, declare: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 8192];
                let _ = socket.read(&mut request).await;
                let length = if declare {
                    format!("content-length: {}\r\n", body.len())
                } else {
                    String::new()
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{length}connection: close\r\n\r\n"
                );
                let _ = socket.write_all(head.as_bytes()).await;
                for chunk in body.chunks(64 * 1024) {
                    if socket.write_all(chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn checks(url: &str) -> [GateCheck; 2] {
    [
        GateCheck::Prometheus(PrometheusCheck {
            url: url.to_owned(),
            query: "vector(1)".into(),
            min: Some(1.0),
            max: Some(1.0),
            auth: GateAuth::default(),
        }),
        GateCheck::Http(HttpCheck {
            url: url.to_owned(),
            expected_status: 200,
            json_path: Some(JsonPath::parse("$.status").unwrap()),
            expected_value: Some(serde_json::json!("success")),
            auth: GateAuth::default(),
        }),
    ]
}

#[tokio::test]
async fn an_answer_past_the_cap_is_an_error_naming_it_and_one_under_it_is_judged() {
    let client = http_client().unwrap();
    let timeout = Duration::from_secs(10);
    let under = serve(padded_answer(MAX_GATE_BODY_BYTES - 16), false).await;
    for check in checks(&under) {
        let m = check.measure(&client, timeout).await;
        assert_eq!(m.outcome, Outcome::Pass, "{}: {}", check.kind(), m.detail);
    }
    for declare in [true, false] {
        let over = serve(padded_answer(MAX_GATE_BODY_BYTES + 1), declare).await;
        for check in checks(&over) {
            let m = check.measure(&client, timeout).await;
            assert_eq!(
                (m.outcome, m.fault.as_deref()),
                (Outcome::Error, Some("url")),
                "{} (declared {declare}): {}",
                check.kind(),
                m.detail
            );
            assert!(
                m.detail.contains("larger than 1 MiB"),
                "{}: {}",
                check.kind(),
                m.detail
            );
        }
    }
}
