//! The sandbox's whole life through its own command line, against the real
//! components: `up`, Y refused before `kong migrations up` (as Kong refuses),
//! `start-y` after it, a traffic switch on HAProxy, `stop-x`, `down`.
//! Needs the kongsim binary (`cargo build -p kongsim`).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
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

fn haproxy(socket: &str, command: &str) -> String {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.write_all(format!("{command}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn answers(url: &str) -> bool {
    std::net::TcpStream::connect(url.trim_start_matches("http://")).is_ok()
}

/// Stops `up` even when an assertion fails half-way.
struct Up(Option<Child>);

impl Up {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        self.0.take().unwrap().wait().unwrap()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

#[test]
fn up_start_y_after_migrations_switch_stop_x_and_down() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let mut up = Up(Some(
        Command::new(SANDBOX)
            .args(["up", "--rate", "50", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let deadline = Instant::now() + Duration::from_secs(90);
    while !dir.join("env.json").exists() {
        assert!(
            up.child().try_wait().unwrap().is_none(),
            "sandbox up exited"
        );
        assert!(Instant::now() < deadline, "sandbox up did not get ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let tfvars = std::fs::read_to_string(dir.join("terraform.tfvars")).unwrap();
    assert!(
        tfvars.contains(&format!(
            "y_admin_url     = \"{}\"",
            value(dir, "cluster_y.admin_url")
        )),
        "{tfvars}"
    );

    // Kong refuses to start on a database with new migrations; so does Y.
    let refused = sandbox(dir, &["start-y"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("New migrations available"),
        "{}",
        text(&refused)
    );
    assert!(!dir.join("y.pid").exists());

    let migrations = Command::new(value(dir, "kongsim_bin"))
        .args(["--kong-version", "3.6.1", "migrations", "up"])
        .env("KONG_PG_HOST", value(dir, "postgres.host"))
        .env("KONG_PG_PORT", value(dir, "postgres.port"))
        .env("KONG_PG_USER", value(dir, "postgres.user"))
        .env("KONG_PG_PASSWORD", value(dir, "postgres.password"))
        .env("KONG_PG_DATABASE", value(dir, "postgres.database"))
        .output()
        .unwrap();
    assert!(migrations.status.success(), "{}", text(&migrations));

    let started = sandbox(dir, &["start-y"]);
    assert!(started.status.success(), "{}", text(&started));
    assert!(text(&started).contains("Kong 3.6.1"), "{}", text(&started));
    let again = sandbox(dir, &["start-y"]);
    assert!(
        again.status.success(),
        "a second start-y waits for the running Y: {}",
        text(&again)
    );
    let y_pid: u32 = std::fs::read_to_string(dir.join("y.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Detached: Y leads its own session, so a hook runner's killpg misses it.
    let stat = std::fs::read_to_string(format!("/proc/{y_pid}/stat")).unwrap();
    let session: u32 = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(session, y_pid);

    // All traffic to Y, as the upgrade does before decommissioning X.
    let socket = value(dir, "haproxy.runtime_api_socket");
    assert_eq!(haproxy(&socket, "set server kong/y weight 100").trim(), "");
    // HAProxy's health check must see Y up (rise 2) before X's weight goes:
    // with X at 0 and Y still DOWN, no server would be left.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text(&sandbox(dir, &["status"])).contains("y=100 (UP)") {
        assert!(Instant::now() < deadline, "HAProxy never saw Y up");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(haproxy(&socket, "set server kong/x weight 0").trim(), "");
    std::thread::sleep(Duration::from_millis(1000));
    let status = text(&sandbox(dir, &["status"]));
    assert!(status.contains("cluster Y  answers on"), "{status}");
    assert!(status.contains("x=0 (UP), y=100 (UP)"), "{status}");

    let x_admin = value(dir, "cluster_x.admin_url");
    let stopped = sandbox(dir, &["stop-x"]);
    assert!(stopped.status.success(), "{}", text(&stopped));
    assert!(!answers(&x_admin));
    assert!(text(&sandbox(dir, &["stop-x"])).contains("already stopped"));

    let down = sandbox(dir, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    let exit = up.wait();
    assert!(exit.success(), "sandbox up exited with {exit}");
    // Gone, or a zombie its new parent has not reaped yet.
    let y_state = std::fs::read_to_string(format!("/proc/{y_pid}/stat")).unwrap_or_default();
    assert!(
        y_state.is_empty() || y_state.contains(") Z "),
        "Y still runs: {y_state}"
    );

    let load: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("load.json")).unwrap()).unwrap();
    assert_eq!(load["running"], false);
    let totals = &load["totals"];
    assert!(totals["served_by"]["x"].as_u64().unwrap() > 0, "{load}");
    assert!(totals["served_by"]["y"].as_u64().unwrap() > 0, "{load}");
    assert_eq!(totals["failed"], 0, "{load}");
}
