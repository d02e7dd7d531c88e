//! Hooks: the user's own commands at named steps ("start Y", "stop X",
//! "decommission X"), for clusters the provider does not own.

use crate::runner::process::{execute, ProcessSpec};
use crate::runner::{RunOutput, RunnerError, Stream};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("hook {name:?} is an empty command")]
    Empty { name: String },
    #[error("hook {name:?} failed with exit code {exit_code}: {tail}")]
    Failed {
        name: String,
        exit_code: i32,
        tail: String,
    },
    #[error("hook {name:?}: {source}")]
    Runner { name: String, source: RunnerError },
}

/// Runs one hook's argv with extra environment describing the upgrade
/// (`KONG_UPGRADE_STEP`, `KONG_UPGRADE_FROM`, `KONG_UPGRADE_TO`, ...).
pub async fn run_hook(
    name: &str,
    argv: &[String],
    env: &BTreeMap<String, String>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<RunOutput, HookError> {
    if argv.is_empty() || argv[0].is_empty() {
        return Err(HookError::Empty {
            name: name.to_string(),
        });
    }
    let redact = |line: &str| line.to_string();
    let spec = ProcessSpec {
        argv: argv.to_vec(),
        env: env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        working_dir: None,
        display: argv.join(" "),
        redact: &redact,
        stdin: None,
        timeout: Some(timeout),
    };
    let mut log_line = |stream: Stream, line: &str| tracing::info!(hook = name, ?stream, "{line}");
    let out = execute(spec, cancel, &mut log_line)
        .await
        .map_err(|source| HookError::Runner {
            name: name.to_string(),
            source,
        })?;
    if out.exit_code != 0 {
        let tail = out
            .lines
            .iter()
            .rev()
            .take(5)
            .rev()
            .map(|l| l.text.clone())
            .collect::<Vec<_>>()
            .join(" | ");
        return Err(HookError::Failed {
            name: name.to_string(),
            exit_code: out.exit_code,
            tail,
        });
    }
    Ok(out)
}
