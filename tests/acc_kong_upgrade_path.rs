//! Acceptance: `data "kong_upgrade_path"` and `data "kong_data_planes"`.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::Acceptance;
use testbed::kongsim::{KongSim, Role};

#[test]
fn upgrade_path_answers_supported_and_unsupported_jumps() {
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.apply(
            r#"
data "kong_upgrade_path" "lts" {
  from = "2.8.4"
  to   = "3.4.2"
}

data "kong_upgrade_path" "blue_green_lts" {
  from     = "2.8.4"
  to       = "3.4.2"
  strategy = "blue_green"
}

data "kong_upgrade_path" "too_far" {
  from = "2.6.0"
  to   = "3.4.2"
}
"#,
        );
        let lts = acc.values("data.kong_upgrade_path.lts");
        assert_eq!(lts["supported"], true, "{lts}");
        assert_eq!(lts["kind"], "lts");
        let bg = acc.values("data.kong_upgrade_path.blue_green_lts");
        assert_eq!(
            bg["supported"], false,
            "blue-green is not offered for LTS jumps: {bg}"
        );
        assert!(
            bg["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w.as_str().unwrap().starts_with("refused:")),
            "{bg}"
        );
        let far = acc.values("data.kong_upgrade_path.too_far");
        assert_eq!(far["supported"], false);
        assert!(
            far["hops"][0].as_str().unwrap().starts_with("2.8.x"),
            "{far}"
        );
        assert!(
            far["summary"]
                .as_str()
                .unwrap()
                .contains("go through 2.8.x"),
            "{far}"
        );

        acc.plan_expect_error(
            r#"
data "kong_upgrade_path" "bad" {
  from = "three"
  to   = "3.4.2"
}
"#,
            "Invalid Kong version",
        );
    }
}

#[test]
fn data_planes_of_a_control_plane_are_listed_with_their_versions() {
    let pg = testbed::Postgres::start().unwrap();
    // Like Kong, a control plane needs its database.
    let cp = KongSim::builder("3.6.1")
        .role(Role::ControlPlane)
        .postgres(&pg)
        .bootstrap()
        .start()
        .unwrap();
    cp.register_data_plane(
        r#"{"hostname":"dp-b","ip":"10.0.0.2","version":"3.6.0","sync_status":"normal"}"#,
    )
    .unwrap();
    cp.register_data_plane(r#"{"hostname":"dp-a","ip":"10.0.0.1","version":"3.7.0","sync_status":"kong_version_incompatible"}"#)
        .unwrap();
    let traditional = KongSim::builder("3.6.1").database_off().start().unwrap();
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.apply(&format!(
            r#"
data "kong_data_planes" "cp" {{
  admin_url = "{}"
}}
"#,
            cp.admin_url
        ));
        let v = acc.values("data.kong_data_planes.cp");
        assert_eq!(v["data_planes"].as_array().unwrap().len(), 2, "{v}");
        assert_eq!(
            v["data_planes"][0]["hostname"], "dp-a",
            "sorted by hostname"
        );
        assert_eq!(v["versions"], serde_json::json!(["3.6.0", "3.7.0"]));
        assert_eq!(v["incompatible_count"], 1);

        let out = acc.plan_expect_error(
            &format!(
                "data \"kong_data_planes\" \"not_cp\" {{\n  admin_url = \"{}\"\n}}\n",
                traditional.admin_url
            ),
            "Kong Admin API error",
        );
        assert!(
            out.stderr.contains("only available when Kong is"),
            "Kong's own 400 message:\n{out}"
        );
    }
}

/// A real HTTP server on loopback that lies, the same way on every request:
/// `lie` gets the request target (path and query) and the connection.
/// Returns the URL and the most bytes it got out on any one connection.
fn lying_control_plane(
    lie: fn(&str, &mut dyn Write) -> std::io::Result<()>,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let most_sent = Arc::new(AtomicUsize::new(0));
    let most = most_sent.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let most = most.clone();
            std::thread::spawn(move || {
                let mut head = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                let _ = head.read_line(&mut request_line);
                let mut line = String::new();
                while head.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let target = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                let mut out = Counted {
                    inner: stream,
                    bytes: 0,
                };
                let _ = lie(&target, &mut out);
                most.fetch_max(out.bytes, Ordering::Relaxed);
            });
        }
    });
    (url, most_sent)
}

struct Counted {
    inner: TcpStream,
    bytes: usize,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn reply_json(out: &mut dyn Write, body: &str) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

const HUNDRED_MB: usize = 100 << 20;

/// `/clustering/data-planes` answered by servers that lie, one way each,
/// in one plan: each is an error on `admin_url` of its data source, never
/// a list of 0 data planes, and the 100 MB answer is not read whole (the
/// server cannot get much past the provider's 8 MiB cap out on one
/// connection before the provider hangs up).
#[test]
fn a_control_plane_that_lies_is_an_error_on_admin_url() {
    let (hello, _) = lying_control_plane(|_, out| reply_json(out, r#"{"hello":"world"}"#));
    let (huge, most_sent) = lying_control_plane(|_, out| {
        // No length: the body ends when the connection does.
        out.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"data\":[{\"id\":\"x\",\"blob\":\"")?;
        let chunk = vec![b'a'; 64 << 10];
        for _ in 0..HUNDRED_MB / chunk.len() {
            out.write_all(&chunk)?;
        }
        out.write_all(b"\"}],\"next\":null}")
    });
    let (repeated, _) = lying_control_plane(|target, out| {
        let next = if target.contains("offset=") {
            "null"
        } else {
            r#""/clustering/data-planes?offset=2""#
        };
        reply_json(
            out,
            &format!(
                r#"{{"data":[{{"id":"dp-1","hostname":"dp","version":"3.6.1","sync_status":"normal"}}],"next":{next}}}"#
            ),
        )
    });
    let (looping, _) = lying_control_plane(|_, out| {
        reply_json(
            out,
            r#"{"data":[],"next":"/clustering/data-planes?offset=again"}"#,
        )
    });
    let config: String = [
        ("hello", &hello),
        ("huge", &huge),
        ("repeated", &repeated),
        ("looping", &looping),
    ]
    .iter()
    .map(|(name, url)| {
        format!("data \"kong_data_planes\" \"{name}\" {{\n  admin_url = \"{url}\"\n}}\n")
    })
    .collect();
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        let out = acc.plan_expect_error(&config, "Not a Kong Admin API");
        let errors: Vec<&str> = out.stderr.split("Error: ").skip(1).collect();
        for (name, summary, detail) in [
            (
                "hello",
                "Not a Kong Admin API",
                "does not look like a Kong Admin API",
            ),
            ("huge", "Kong Admin API answer too large", "more than 8 MiB"),
            (
                "repeated",
                "Cannot read a Kong collection",
                "the entity dp-1 came twice",
            ),
            (
                "looping",
                "Cannot read a Kong collection",
                "twice; pagination would never end",
            ),
        ] {
            let error = errors
                .iter()
                .find(|e| e.contains(&format!("data.kong_data_planes.{name},")))
                .unwrap_or_else(|| panic!("no error for {name}:\n{out}"));
            let flat = error.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                error.starts_with(summary)
                    && error.contains("admin_url = ")
                    && flat.contains(detail),
                "{name}: {summary} on admin_url, saying {detail:?}:\n{error}"
            );
        }
        assert!(!out.stderr.contains("panicked"), "{out}");
    }
    let most = most_sent.load(Ordering::Relaxed);
    assert!(
        most < 40 << 20,
        "the provider read {most} bytes of the 100 MB answer on one connection"
    );
}
