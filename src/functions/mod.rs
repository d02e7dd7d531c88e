//! Provider functions (Terraform ≥ 1.8): `provider::kong::NAME(...)`.
//! Older Terraform cores never ask for them.

pub mod upgrade_path;
pub mod version_compare;

use crate::version::KongVersion;
use tfplug::{FunctionError, Value};

/// Argument `index` as a Kong version, or an error pointing at it.
fn version_arg(args: &[Value], index: usize) -> Result<KongVersion, FunctionError> {
    let text = args
        .get(index)
        .and_then(Value::as_str)
        .ok_or_else(|| FunctionError {
            text: "a version string is required".into(),
            argument: Some(index as i64),
        })?;
    text.parse()
        .map_err(|e: crate::version::VersionParseError| FunctionError {
            text: e.to_string(),
            argument: Some(index as i64),
        })
}
