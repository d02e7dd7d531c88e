//! Fault injection for the acceptance tests: the worst moment for a Ctrl-C
//! is right after a step's effect and before the step is recorded. With
//! `TF_KONG_TEST_INTERRUPT_AFTER=STEP_ID` (honoured only together with
//! `TF_KONG_TEST_RESOURCES=1`, never in a user's run) the executor pauses
//! there, writes the step id to the file named by
//! `TF_KONG_TEST_INTERRUPT_MARKER`, and waits for Terraform to cancel the
//! apply; the test sends SIGINT when the marker appears (or kills the
//! provider, whose pid it finds in `MARKER.pid`). The resumed apply must
//! then cope with a step whose effect happened but was not recorded.

use crate::planner::StepId;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const ENV_INTERRUPT_AFTER: &str = "TF_KONG_TEST_INTERRUPT_AFTER";
pub const ENV_INTERRUPT_MARKER: &str = "TF_KONG_TEST_INTERRUPT_MARKER";

/// Long enough for any test to notice the marker; a forgotten variable
/// only delays an apply, it never fails one.
const WAIT_FOR_CANCEL: Duration = Duration::from_secs(120);

fn armed_for(step: &StepId) -> bool {
    let test_mode = std::env::var(crate::provider::ENV_TEST_RESOURCES).as_deref() == Ok("1");
    test_mode && std::env::var(ENV_INTERRUPT_AFTER).as_deref() == Ok(step.as_str())
}

/// Pauses after `step`'s effect when the test asked for it; true when the
/// apply was cancelled during the pause.
pub async fn interrupted_after(step: &StepId, cancel: &CancellationToken) -> bool {
    if !armed_for(step) {
        return false;
    }
    tracing::warn!(
        step = step.as_str(),
        "test fault injection: pausing after the step's effect, before recording it"
    );
    if let Ok(marker) = std::env::var(ENV_INTERRUPT_MARKER) {
        // The provider's pid first, for the tests that kill it (kill -9)
        // instead of cancelling: it is there once the marker is.
        let pid_file = format!("{marker}.pid");
        if let Err(e) = std::fs::write(&pid_file, std::process::id().to_string()) {
            tracing::warn!(error = %e, pid_file, "cannot write the fault-injection pid file");
        }
        if let Err(e) = std::fs::write(&marker, step.as_str()) {
            tracing::warn!(error = %e, marker, "cannot write the fault-injection marker");
        }
    }
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(WAIT_FOR_CANCEL) => false,
    }
}
