//! An optional transcript of every Terraform command a test runs.
//!
//! With `TF_ACC_TRANSCRIPT=/path/file`, each finished command (its command
//! line, exit status, stdout and stderr) is appended to that file, so a run
//! can be shown as a user would have seen it (for example the applies of
//! `examples/upgrades/remote_run` in a closing note). Unset, nothing is
//! written. A write failure is reported on stderr and never fails the test:
//! the transcript is a record, not a check.

use crate::terraform::TfOutput;
use std::io::Write as _;

/// Appends `output` to the transcript file, when one is configured.
pub fn record(output: &TfOutput) {
    let Some(path) = std::env::var_os("TF_ACC_TRANSCRIPT").filter(|p| !p.is_empty()) else {
        return;
    };
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| writeln!(file, "{output}\n"));
    if let Err(e) = appended {
        eprintln!(
            "TF_ACC_TRANSCRIPT: cannot append to {}: {e}",
            std::path::Path::new(&path).display()
        );
    }
}
