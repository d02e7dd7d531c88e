//! Command gate: run a program; exit status 0 passes.

use super::measurement::Measurement;
use crate::platform::{run_briefly, BriefRunError};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandCheck {
    /// Program and arguments, run directly (no shell).
    pub argv: Vec<String>,
}

impl CommandCheck {
    /// One run of the program, in its own process group: a timed-out
    /// check and whatever it started in the background are killed.
    pub async fn measure(&self, timeout: Duration) -> Measurement {
        let output = match run_briefly(&self.argv, timeout, super::MAX_GATE_BODY_BYTES).await {
            Ok(output) => output,
            Err(e @ BriefRunError::TimedOut { .. }) => {
                return Measurement::error("timeout", e.to_string())
            }
            Err(e) => return Measurement::error("argv", e.to_string()),
        };
        let program = &self.argv[0];
        let code = output
            .status
            .code()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "killed by a signal".to_string());
        if output.status.success() {
            return Measurement::pass(code, format!("{program} exited 0"));
        }
        let said = last_words(&output.stderr).or_else(|| last_words(&output.stdout));
        let detail = match said {
            Some(text) => format!("{program} exited {code}: {text}"),
            None => format!("{program} exited {code}"),
        };
        Measurement::fail(code, detail)
    }
}

/// The last non-empty line of a command's output, trimmed to a readable size.
fn last_words(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    let cut: String = line.chars().take(300).collect();
    Some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::measurement::Outcome;

    fn sh(script: &str) -> CommandCheck {
        CommandCheck {
            argv: vec!["sh".into(), "-c".into(), script.into()],
        }
    }

    #[tokio::test]
    async fn exit_zero_passes_and_anything_else_fails_with_what_it_said() {
        assert_eq!(
            sh("exit 0").measure(Duration::from_secs(5)).await.outcome,
            Outcome::Pass
        );
        let failed = sh("echo 'replication lag 12s' >&2; exit 3")
            .measure(Duration::from_secs(5))
            .await;
        assert_eq!(
            (failed.outcome, failed.value.as_deref()),
            (Outcome::Fail, Some("3"))
        );
        assert!(
            failed.detail.contains("replication lag 12s"),
            "{}",
            failed.detail
        );
    }

    #[tokio::test]
    async fn a_hung_command_is_killed_at_the_timeout_and_a_missing_one_is_an_error() {
        let hung = sh("sleep 30.6101 & sleep 30.6101")
            .measure(Duration::from_millis(200))
            .await;
        assert_eq!(
            (hung.outcome, hung.fault.as_deref()),
            (Outcome::Error, Some("timeout"))
        );
        assert_eq!(hung.detail, "sh timed out after 200ms and was killed");
        assert!(
            !crate::platform::tests::still_running("30.6101"),
            "the background sleep of a timed-out gate is gone too"
        );
        let missing = CommandCheck {
            argv: vec!["/nonexistent/check".into()],
        }
        .measure(Duration::from_secs(1))
        .await;
        assert_eq!(missing.outcome, Outcome::Error);
        assert!(missing.detail.contains("/nonexistent/check"));
    }
}
