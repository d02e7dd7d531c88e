//! The in-place layout and the benchmark helpers, through the sandbox's own
//! command line against the real components: Y on X's addresses (refused
//! while X holds them, serving there once X stopped), `probe` seeing exactly
//! that one outage, and `load` reporting what it sent.
//! Needs the kongsim binary (`cargo build -p kongsim`).

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SANDBOX: &str = env!("CARGO_BIN_EXE_sandbox");

fn sandbox(dir: &Path, args: &[&str]) -> Output {
    Command::new(SANDBOX)
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn value(dir: &Path, key: &str) -> String {
    let out = sandbox(dir, &["env", key]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A background sandbox command, sent SIGTERM when dropped (an assertion
/// failing half-way must not leave it running).
struct Background(Option<Child>);

impl Background {
    fn start(args: &[&str], stdout: &Path) -> Background {
        let out = std::fs::File::create(stdout).unwrap();
        Background(Some(
            Command::new(SANDBOX)
                .args(args)
                .stdout(out)
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        ))
    }

    /// SIGTERM, then the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().unwrap();
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        child.wait().unwrap()
    }

    fn running(&mut self) -> bool {
        self.0.as_mut().unwrap().try_wait().unwrap().is_none()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.0.is_some() {
            self.stop();
        }
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn y_takes_over_x_addresses_and_the_probe_sees_one_outage() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("sandbox");
    let dir_arg = dir.to_str().unwrap();
    let mut up = Background::start(
        &[
            "up", "--layout", "in-place", "--rate", "0", "--dir", dir_arg,
        ],
        &temp.path().join("up.log"),
    );
    wait_for("sandbox up did not get ready", || {
        assert!(up.running(), "sandbox up exited");
        dir.join("env.json").exists()
    });
    for key in ["admin_url", "status_url", "proxy_url"] {
        assert_eq!(
            value(&dir, &format!("cluster_y.{key}")),
            value(&dir, &format!("cluster_x.{key}"))
        );
    }
    assert!(!dir.join("load.json").exists(), "--rate 0 starts no load");

    let proxy = value(&dir, "cluster_x.proxy_url");
    let probe_out = temp.path().join("probe.json");
    let probe_log = temp.path().join("probe.log");
    let mut probe = Background::start(
        &[
            "probe",
            "--url",
            &format!("{proxy}/probe"),
            "--out",
            probe_out.to_str().unwrap(),
        ],
        &probe_log,
    );
    wait_for("the probe never saw X answer", || {
        std::fs::read_to_string(&probe_log)
            .unwrap_or_default()
            .contains("answers; probing")
    });

    let migrations = Command::new(value(&dir, "kongsim_bin"))
        .args(["--kong-version", "3.6.1", "migrations", "up"])
        .env("KONG_PG_HOST", value(&dir, "postgres.host"))
        .env("KONG_PG_PORT", value(&dir, "postgres.port"))
        .env("KONG_PG_USER", value(&dir, "postgres.user"))
        .env("KONG_PG_PASSWORD", value(&dir, "postgres.password"))
        .env("KONG_PG_DATABASE", value(&dir, "postgres.database"))
        .output()
        .unwrap();
    assert!(migrations.status.success(), "{}", text(&migrations));

    // X still holds the addresses: X answering there is not Y.
    let refused = sandbox(&dir, &["start-y"]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("exited"), "{}", text(&refused));

    let stopped = sandbox(&dir, &["stop-x"]);
    assert!(stopped.status.success(), "{}", text(&stopped));
    let started = sandbox(&dir, &["start-y"]);
    assert!(started.status.success(), "{}", text(&started));
    assert!(text(&started).contains("Kong 3.6.1"), "{}", text(&started));
    // Y's proxy has answered once the probe's next tick has passed.
    std::thread::sleep(Duration::from_millis(200));

    assert!(probe.stop().success());
    let report = read_json(&probe_out);
    let windows = report["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 1, "{report}");
    assert_eq!(windows[0]["served_before"], "x 3.5.0", "{report}");
    assert_eq!(windows[0]["served_after"], "y 3.6.1", "{report}");
    assert!(windows[0]["duration_ms"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(
        report["failed"], windows[0]["failed_probes"],
        "every failure is inside the one window: {report}"
    );
    let printed = std::fs::read_to_string(&probe_log).unwrap();
    assert!(printed.contains("1 downtime window(s)"), "{printed}");

    // `load` on its own, against Y where X was.
    let load_out = temp.path().join("load.json");
    let mut load = Background::start(
        &[
            "load",
            "--url",
            &format!("{proxy}/load"),
            "--rate",
            "100",
            "--out",
            load_out.to_str().unwrap(),
        ],
        &temp.path().join("load.log"),
    );
    wait_for("load wrote no report", || load_out.exists());
    std::thread::sleep(Duration::from_millis(1100));
    assert!(load.stop().success());
    let report = read_json(&load_out);
    assert_eq!(report["running"], false, "{report}");
    let requests = report["totals"]["requests"].as_u64().unwrap();
    assert!(requests > 0, "{report}");
    assert_eq!(report["totals"]["served_by"]["y"], requests, "{report}");
    assert!(report["elapsed_ms"].as_u64().unwrap() >= 1000, "{report}");
    let printed = std::fs::read_to_string(temp.path().join("load.log")).unwrap();
    assert!(printed.contains("req/s over"), "{printed}");

    let down = sandbox(&dir, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    up.0.take().unwrap().wait().unwrap();
}
