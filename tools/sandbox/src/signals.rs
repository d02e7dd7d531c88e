//! SIGTERM and SIGINT as the way every long-running sandbox command
//! (`up`, `probe`, `load`) is told to stop and report.

use crate::error::SandboxError;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Registered before the command starts anything, so a signal that arrives
/// during startup is kept and acted on once startup is over, instead of
/// killing the process before it could stop what it started or write its
/// figures.
pub struct StopSignals {
    terminate: Signal,
    interrupt: Signal,
}

impl StopSignals {
    pub fn register() -> Result<StopSignals, SandboxError> {
        let io = |name: &'static str| move |e| SandboxError::io(name, "this process", e);
        Ok(StopSignals {
            terminate: signal(SignalKind::terminate()).map_err(io("handle SIGTERM in"))?,
            interrupt: signal(SignalKind::interrupt()).map_err(io("handle SIGINT in"))?,
        })
    }

    /// Waits for the next SIGTERM or SIGINT and names it.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
