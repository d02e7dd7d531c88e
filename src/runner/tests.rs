//! Runners against real processes: local children and a throwaway sshd.

use super::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "s3cret-Pa55word-for-tests";

fn sh(script: &str) -> CommandRunner {
    CommandRunner::new(vec!["sh".into(), "-c".into(), script.into(), "kong".into()])
}

fn invocation(args: &[&str]) -> KongInvocation {
    let mut inv = KongInvocation::new(args.iter().map(|a| (*a).to_owned()).collect());
    inv.secret_env
        .insert("KONG_PG_PASSWORD".into(), Secret::new(SECRET));
    inv.timeout = Some(Duration::from_secs(30));
    inv
}

/// Collects every line handed to `on_line`.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(Stream, String)>>>);

impl Seen {
    fn push(&self, stream: Stream, line: &str) {
        self.0.lock().unwrap().push((stream, line.to_owned()));
    }
    fn lines(&self) -> Vec<(Stream, String)> {
        self.0.lock().unwrap().clone()
    }
}

/// Gone, or a zombie nobody reaped yet (it runs nothing either way).
fn process_is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn wait_until_gone(pid: u32) -> bool {
    (0..200).any(|_| {
        let gone = process_is_gone(pid);
        if !gone {
            std::thread::sleep(Duration::from_millis(25));
        }
        gone
    })
}

/// Live processes whose command line contains `needle`.
fn processes_with_cmdline(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| !process_is_gone(*pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|raw| {
                    String::from_utf8_lossy(&raw)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

#[tokio::test]
async fn command_runner_streams_lines_as_they_arrive_and_keeps_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("go");
    // The script blocks until the test has *seen* "ready": only true
    // streaming lets it finish.
    let runner = sh(&format!(
        "echo ready; echo warn-1 >&2; while [ ! -e '{}' ]; do sleep 0.02; done; echo \"args: $*\"; echo done; exit 7",
        flag.display()
    ));
    let seen = Seen::default();
    let mut on_line = {
        let seen = seen.clone();
        move |stream: Stream, line: &str| {
            seen.push(stream, line);
            if line == "ready" {
                std::fs::write(&flag, "").unwrap();
            }
        }
    };
    let out = runner
        .run(
            &invocation(&["migrations", "up"]),
            &CancellationToken::new(),
            &mut on_line,
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 7);
    assert_eq!(out.stdout(), "ready\nargs: migrations up\ndone");
    assert_eq!(out.stderr(), "warn-1");
    let stdout_seen: Vec<String> = seen
        .lines()
        .into_iter()
        .filter(|(s, _)| *s == Stream::Stdout)
        .map(|(_, l)| l)
        .collect();
    assert_eq!(stdout_seen, ["ready", "args: migrations up", "done"]);
    assert!(
        out.command_line.ends_with("kong migrations up"),
        "{}",
        out.command_line
    );
}

#[tokio::test]
async fn the_secret_reaches_the_environment_but_no_argv_output_or_error() {
    let runner = sh("echo \"pw=$KONG_PG_PASSWORD\"; printf %s \"$KONG_PG_PASSWORD\" | sha256sum; echo \"pid=$$\"; sleep 30");
    let cmdline_had_secret = Arc::new(Mutex::new(None::<bool>));
    let mut on_line = {
        let flag = cmdline_had_secret.clone();
        move |_: Stream, line: &str| {
            if let Some(pid) = line.strip_prefix("pid=") {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
                *flag.lock().unwrap() = Some(String::from_utf8_lossy(&cmdline).contains(SECRET));
            }
        }
    };
    let mut inv = invocation(&["migrations", "list"]);
    inv.timeout = Some(Duration::from_millis(1500));
    let err = runner
        .run(&inv, &CancellationToken::new(), &mut on_line)
        .await
        .unwrap_err();
    assert_eq!(
        *cmdline_had_secret.lock().unwrap(),
        Some(false),
        "the child's argv never holds the secret"
    );
    let RunnerError::TimedOut {
        ref last_output,
        ref command_line,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(last_output[0], "pw=(sensitive)", "kept output is redacted");
    let expected_hash = {
        use sha2::Digest;
        hex_lower(&sha2::Sha256::digest(SECRET.as_bytes()))
    };
    assert!(
        last_output[1].starts_with(&expected_hash),
        "the child received the exact secret"
    );
    assert!(
        command_line.contains("KONG_PG_PASSWORD=(sensitive)"),
        "{command_line}"
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains(SECRET), "{text}");
}

/// With `env_transport = "stdin"` the far-side program gets the secret
/// and the block's `env` through a boundary that drops the environment,
/// and no process on the machine has the secret in its argv meanwhile.
#[tokio::test]
async fn the_stdin_transport_delivers_the_environment_past_env_i_and_no_argv_holds_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let far_kong = dir.path().join("kong");
    std::fs::write(
        &far_kong,
        "#!/bin/sh\nprintf %s \"$KONG_PG_PASSWORD\" | sha256sum\necho \"custom=$KONG_CUSTOM home=${HOME:-unset}\"\necho \"args: $*\"\necho ready\nsleep 0.5\n",
    )
    .unwrap();
    std::fs::set_permissions(&far_kong, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut runner = CommandRunner::new(vec![
        "env".into(),
        "-i".into(),
        "PATH=/usr/bin:/bin".into(),
        far_kong.display().to_string(),
    ]);
    runner.env_transport = EnvTransport::Stdin;
    runner
        .env
        .insert("KONG_CUSTOM".into(), "it's a value".into());
    let argv_holders = Arc::new(Mutex::new(None::<Vec<u32>>));
    let mut on_line = {
        let holders = argv_holders.clone();
        move |_: Stream, line: &str| {
            if line == "ready" {
                *holders.lock().unwrap() = Some(processes_with_cmdline(SECRET));
            }
        }
    };
    let out = runner
        .run(
            &invocation(&["migrations", "up"]),
            &CancellationToken::new(),
            &mut on_line,
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{:?}", out.lines);
    let expected_hash = {
        use sha2::Digest;
        hex_lower(&sha2::Sha256::digest(SECRET.as_bytes()))
    };
    let lines: Vec<&str> = out.lines.iter().map(|l| l.text.as_str()).collect();
    assert!(lines[0].starts_with(&expected_hash), "{lines:?}");
    assert_eq!(lines[1], "custom=it's a value home=unset");
    assert_eq!(lines[2], "args: migrations up");
    assert_eq!(
        *argv_holders.lock().unwrap(),
        Some(vec![]),
        "no argv on the machine holds the secret"
    );
    assert!(!out.command_line.contains(SECRET));
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_missing_program_and_a_non_executable_file_are_told_apart() {
    let mut ignore = |_: Stream, _: &str| {};
    let cancel = CancellationToken::new();
    let missing = CommandRunner::new(vec!["kong-binary-that-does-not-exist".into()]);
    let err = missing
        .run(&invocation(&["migrations", "up"]), &cancel, &mut ignore)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RunnerError::ProgramNotFound { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("kong-binary-that-does-not-exist migrations up"),
        "{err}"
    );

    let absent_path = CommandRunner::new(vec!["/nonexistent/dir/kong".into()]);
    let err = absent_path
        .run(&invocation(&["version"]), &cancel, &mut ignore)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RunnerError::ProgramNotFound { .. }),
        "{err:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("kong");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let plain = CommandRunner::new(vec![script.display().to_string()]);
    let err = plain
        .run(&invocation(&["version"]), &cancel, &mut ignore)
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::NotExecutable { .. }), "{err:?}");
    assert!(err.to_string().contains("no execute permission"), "{err}");

    let mut in_dir = CommandRunner::new(vec!["./kong".into()]);
    in_dir.working_dir = Some(dir.path().to_path_buf());
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = in_dir
        .run(&invocation(&["version"]), &cancel, &mut ignore)
        .await
        .unwrap();
    assert_eq!(
        out.stdout(),
        "hi",
        "a relative program resolves against working_dir"
    );
}

/// Starts a background `sleep` in the runner's process group, reports its
/// pid, and waits: what must not survive a stop.
const SPAWNS_A_SLEEPER: &str = "sleep 987 & echo \"sleeper=$!\"; wait";

fn sleeper_pid(seen: &Seen) -> u32 {
    seen.lines()
        .iter()
        .find_map(|(_, l)| l.strip_prefix("sleeper=")?.parse().ok())
        .expect("the script reported its sleeper")
}

#[tokio::test]
async fn a_timeout_stops_the_whole_process_group() {
    let seen = Seen::default();
    let mut on_line = {
        let seen = seen.clone();
        move |s: Stream, l: &str| seen.push(s, l)
    };
    let mut inv = invocation(&["migrations", "up"]);
    inv.timeout = Some(Duration::from_millis(800));
    let err = sh(SPAWNS_A_SLEEPER)
        .run(&inv, &CancellationToken::new(), &mut on_line)
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::TimedOut { .. }), "{err:?}");
    assert!(
        err.to_string().contains("sleeper="),
        "the error shows the last output: {err}"
    );
    assert!(
        wait_until_gone(sleeper_pid(&seen)),
        "the background sleep was killed with the group"
    );
}

#[tokio::test]
async fn cancellation_stops_the_whole_process_group() {
    let seen = Seen::default();
    let cancel = CancellationToken::new();
    let mut on_line = {
        let seen = seen.clone();
        let cancel = cancel.clone();
        move |s: Stream, l: &str| {
            seen.push(s, l);
            if l.starts_with("sleeper=") {
                cancel.cancel();
            }
        }
    };
    let err = sh(SPAWNS_A_SLEEPER)
        .run(
            &invocation(&["migrations", "finish"]),
            &cancel,
            &mut on_line,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::Cancelled { .. }), "{err:?}");
    assert!(wait_until_gone(sleeper_pid(&seen)));
}

#[tokio::test]
async fn dropping_the_run_future_leaves_nothing_running() {
    let seen = Seen::default();
    let mut on_line = {
        let seen = seen.clone();
        move |s: Stream, l: &str| seen.push(s, l)
    };
    let runner = sh(SPAWNS_A_SLEEPER);
    let inv = invocation(&["migrations", "up"]);
    let cancel = CancellationToken::new();
    let gave_up = tokio::time::timeout(
        Duration::from_millis(500),
        runner.run(&inv, &cancel, &mut on_line),
    )
    .await;
    assert!(gave_up.is_err(), "the run was still going");
    assert!(wait_until_gone(sleeper_pid(&seen)));
}

#[tokio::test]
async fn a_signal_death_is_reported_with_the_signal() {
    let mut ignore = |_: Stream, _: &str| {};
    let err = sh("echo about-to-die; kill -9 $$")
        .run(
            &invocation(&["migrations", "up"]),
            &CancellationToken::new(),
            &mut ignore,
        )
        .await
        .unwrap_err();
    let RunnerError::KilledBySignal {
        signal,
        ref last_output,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(signal, 9);
    assert_eq!(last_output, &["about-to-die".to_owned()]);
}

#[tokio::test]
async fn stray_children_holding_the_pipes_do_not_hang_the_run() {
    let seen = Seen::default();
    let mut on_line = {
        let seen = seen.clone();
        move |s: Stream, l: &str| seen.push(s, l)
    };
    let out = sh("sleep 986 & echo \"sleeper=$!\"; echo leader-done")
        .run(
            &invocation(&["migrations", "up"]),
            &CancellationToken::new(),
            &mut on_line,
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0);
    assert!(wait_until_gone(sleeper_pid(&seen)));
}

mod over_ssh {
    use super::*;
    use testbed::sshd::{generate_ed25519_keypair, Sshd};

    fn ssh_runner(sshd: &Sshd, argv_prefix: Vec<String>) -> SshRunner {
        SshRunner::new(
            "127.0.0.1",
            sshd.port,
            sshd.user.clone(),
            Secret::new(sshd.client_private_key_pem.clone()),
            HostKeyPin::parse(&sshd.host_public_key).unwrap(),
            argv_prefix,
        )
    }

    #[tokio::test]
    async fn runs_the_command_remotely_with_the_secret_env_and_no_secret_in_any_argv() {
        let sshd = Sshd::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("go");
        let script = format!(
            "echo \"args: $*\"; printf %s \"$KONG_PG_PASSWORD\" | sha256sum; echo \"host=$KONG_PG_HOST\"; echo ready; \
             while [ ! -e '{}' ]; do sleep 0.02; done; exit 4",
            flag.display()
        );
        let runner = ssh_runner(&sshd, vec!["sh".into(), "-c".into(), script, "kong".into()]);
        let mut inv = invocation(&["migrations", "up", "--lock-timeout", "60"]);
        inv.env
            .insert("KONG_PG_HOST".into(), "db with spaces".into());
        let secret_in_argv = Arc::new(Mutex::new(None::<Vec<u32>>));
        let mut on_line = {
            let found = secret_in_argv.clone();
            move |_: Stream, line: &str| {
                if line == "ready" {
                    // Local ssh, remote sshd session, wrapper and command
                    // all run on this machine now: none may show it.
                    *found.lock().unwrap() = Some(processes_with_cmdline(SECRET));
                    std::fs::write(&flag, "").unwrap();
                }
            }
        };
        let out = runner
            .run(&inv, &CancellationToken::new(), &mut on_line)
            .await
            .unwrap();
        assert_eq!(
            out.exit_code,
            4,
            "remote exit code; output: {:?}\nsshd: {}",
            out.lines,
            sshd.log()
        );
        let lines: Vec<&str> = out.stdout_lines().collect();
        assert_eq!(lines[0], "args: migrations up --lock-timeout 60");
        use sha2::Digest;
        assert!(
            lines[1].starts_with(&hex_lower(&sha2::Sha256::digest(SECRET.as_bytes()))),
            "{lines:?}"
        );
        assert_eq!(lines[2], "host=db with spaces");
        assert_eq!(
            *secret_in_argv.lock().unwrap(),
            Some(vec![]),
            "no process had the secret in its argv"
        );
        assert!(out
            .command_line
            .starts_with("KONG_PG_HOST='db with spaces' KONG_PG_PASSWORD=(sensitive) ssh -p"));
    }

    #[tokio::test]
    async fn refuses_a_server_whose_host_key_is_not_the_pinned_one() {
        let sshd = Sshd::start().unwrap();
        let (_, other_public) = generate_ed25519_keypair().unwrap();
        let mut runner = ssh_runner(&sshd, vec!["true".into()]);
        runner.host_key = HostKeyPin::parse(&other_public).unwrap();
        let mut ignore = |_: Stream, _: &str| {};
        let err = runner
            .run(
                &invocation(&["migrations", "up"]),
                &CancellationToken::new(),
                &mut ignore,
            )
            .await
            .unwrap_err();
        let RunnerError::SshHostKeyMismatch {
            ref host,
            expected_fingerprint: ref expected,
            ref presented_fingerprint,
            ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!(host, "127.0.0.1");
        assert_eq!(expected, &runner.host_key.fingerprint());
        let real = HostKeyPin::parse(&sshd.host_public_key)
            .unwrap()
            .fingerprint();
        assert_eq!(
            presented_fingerprint.as_deref(),
            Some(real.as_str()),
            "{err}"
        );
        assert!(err.to_string().contains(&real));
        assert!(
            !sshd.log().contains("Accepted publickey"),
            "nothing was sent to the impostor"
        );
    }

    #[tokio::test]
    async fn a_wrong_client_key_and_a_closed_port_are_reported_as_such() {
        let sshd = Sshd::start().unwrap();
        let (other_private, _) = generate_ed25519_keypair().unwrap();
        let mut runner = ssh_runner(&sshd, vec!["true".into()]);
        runner.private_key_pem = Secret::new(other_private);
        let mut ignore = |_: Stream, _: &str| {};
        let cancel = CancellationToken::new();
        let err = runner
            .run(&invocation(&["x"]), &cancel, &mut ignore)
            .await
            .unwrap_err();
        assert!(
            matches!(err, RunnerError::SshAuthenticationFailed { .. }),
            "{err:?}"
        );

        let mut closed = ssh_runner(&sshd, vec!["true".into()]);
        closed.port = testbed::free_port();
        let err = closed
            .run(&invocation(&["x"]), &cancel, &mut ignore)
            .await
            .unwrap_err();
        assert!(matches!(err, RunnerError::SshUnreachable { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn cancelling_stops_the_remote_command_too() {
        let sshd = Sshd::start().unwrap();
        let marker = "875.25";
        let runner = ssh_runner(
            &sshd,
            vec![
                "sh".into(),
                "-c".into(),
                format!("echo started; sleep {marker}"),
                "kong".into(),
            ],
        );
        let cancel = CancellationToken::new();
        let mut on_line = {
            let cancel = cancel.clone();
            move |_: Stream, line: &str| {
                if line == "started" {
                    cancel.cancel();
                }
            }
        };
        let err = runner
            .run(&invocation(&["migrations", "up"]), &cancel, &mut on_line)
            .await
            .unwrap_err();
        assert!(matches!(err, RunnerError::Cancelled { .. }), "{err:?}");
        let gone = (0..200).any(|_| {
            let left = processes_with_cmdline(&format!("sleep {marker}"));
            if !left.is_empty() {
                std::thread::sleep(Duration::from_millis(25));
            }
            left.is_empty()
        });
        assert!(
            gone,
            "the remote sleep was stopped when the connection went away"
        );
    }
}
