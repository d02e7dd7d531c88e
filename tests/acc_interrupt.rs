//! Acceptance: Ctrl-C during an apply. The terminal sends SIGINT to
//! Terraform's whole process group, provider included; the provider must
//! ignore the signal, cancel its work when Terraform calls StopProvider, and
//! return the state reached, so nothing is lost.

mod support;

use std::time::{Duration, Instant};
use support::Acceptance;

#[test]
fn ctrl_c_mid_apply_exits_fast_and_keeps_the_resource_in_state() {
    for version in support::versions() {
        let mut acc = Acceptance::new(version);
        acc.ws_mut().set_env("TF_KONG_TEST_RESOURCES", "1");
        acc.configure(
            r#"
resource "kong_test_wait" "slow" {
  seconds = 60
}
"#,
        );
        let run = acc.ws().spawn_apply_in_new_process_group().unwrap();
        run.wait_for_output("kong_test_wait.slow: Creating...", Duration::from_secs(30))
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let interrupted_at = Instant::now();
        run.send_sigint_to_group().unwrap();
        let out = run.wait_with_timeout(Duration::from_secs(10)).unwrap();
        let took = interrupted_at.elapsed();
        assert!(!out.success(), "an interrupted apply fails:\n{out}");
        assert!(
            took < Duration::from_secs(2),
            "terraform {version} took {took:?} to exit after Ctrl-C:\n{out}"
        );

        let state = acc.ws().state_resource("kong_test_wait.slow").unwrap();
        assert_eq!(state["values"]["completed"], false, "{state}");
        assert!(state["values"]["waited_ms"].as_f64().unwrap() < 60_000.0);
        assert_eq!(
            state["tainted"], true,
            "an interrupted create is saved tainted: {state}"
        );
        assert_no_provider_left_running(acc.ws().dir());
    }
}

/// The provider started in `dir` exits with Terraform, not later (other
/// tests' providers, running in other directories, do not count).
fn assert_no_provider_left_running(dir: &std::path::Path) {
    let dir = dir.canonicalize().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let running = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                let cmd = std::fs::read_to_string(e.path().join("cmdline")).unwrap_or_default();
                let cwd = std::fs::read_link(e.path().join("cwd")).ok();
                cmd.contains("terraform-provider-kong") && cwd.as_deref() == Some(dir.as_path())
            })
            .count();
        if running == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{running} provider process(es) still running"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
