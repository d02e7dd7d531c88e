//! The environment over stdin: a tiny POSIX `sh -c` prologue that reads
//! `NAME=value` lines from stdin, exports them and runs the command. Both
//! the `ssh` runner and the `command` runner with `env_transport =
//! "stdin"` use it, so settings (the database password included) cross a
//! boundary that does not pass the local environment on — `ssh`,
//! `kubectl exec -i` (kubernetes/kubernetes#50321), `docker exec -i`,
//! `env -i` — and never appear in any argv.

use super::error::RunnerError;
use super::invocation::KongInvocation;
use std::collections::BTreeMap;

/// `$0` of the prologue, as `ps` shows it on the far side.
pub(super) const PROLOGUE_NAME: &str = "kong-runner";

/// Reads `NAME=value` lines up to an empty line, exports them, runs "$@"
/// with stdin from /dev/null, and kills its own process group if stdin
/// reaches EOF before the command ends (the caller went away: a timeout,
/// a cancellation, a dropped SSH connection).
pub(super) const PROLOGUE: &str = r#"while IFS= read -r kv && [ -n "$kv" ]; do export "$kv"; done
exec 3<&0
"$@" </dev/null &
child=$!
( while read -r _ <&3; do :; done; kill -TERM 0 ) &
watcher=$!
wait "$child"
status=$?
kill "$watcher" 2>/dev/null
exit "$status""#;

/// `sh -c <prologue> kong-runner <command...>`.
pub(super) fn wrapped(command: impl IntoIterator<Item = String>) -> Vec<String> {
    ["sh", "-c", PROLOGUE, PROLOGUE_NAME]
        .into_iter()
        .map(str::to_owned)
        .chain(command)
        .collect()
}

/// The `NAME=value` block the prologue reads, ended by an empty line:
/// the runner's own `env`, then the invocation's (which wins), then its
/// secrets. A value with a line break cannot be passed and is refused.
pub(super) fn env_block(
    runner_env: &BTreeMap<String, String>,
    invocation: &KongInvocation,
) -> Result<Vec<u8>, RunnerError> {
    let mut merged: BTreeMap<&str, &str> = runner_env
        .iter()
        .chain(&invocation.env)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    merged.extend(
        invocation
            .secret_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose())),
    );
    let mut block = String::new();
    for (name, value) in merged {
        if value.contains(['\n', '\r', '\0']) {
            return Err(RunnerError::InvalidRunner(format!(
                "environment variable {name} contains a line break, which cannot be passed over stdin"
            )));
        }
        block.push_str(name);
        block.push('=');
        block.push_str(value);
        block.push('\n');
    }
    block.push('\n');
    Ok(block.into_bytes())
}
