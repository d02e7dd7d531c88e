//! Schema blocks shared by several resources and data sources, each with its
//! schema (`block()`), its plan-time checks (`validate`) and its parsing into
//! the typed settings of the edge it configures (`parse`):
//!
//! - [`database`]: `database { host port user password ... }` → [`crate::migrations::DatabaseConfig`];
//! - [`runner`]: `runner { command { ... } | ssh { ... } }` → [`runner::RunnerSettings`],
//!   plus the discovery of the migrations a Kong version knows.
//!
//! Parsing reads a block's value from the *configuration* (where write-only
//! values live) and reports problems as diagnostics on the attribute at
//! fault, under the path the caller gives.

pub mod database;
pub mod gate;
mod observe;
pub mod runner;

use std::time::Duration;
use tfplug::{AttrPath, Diagnostic, Value};

/// The refusal of a write-only attribute (`attribute`, holding a `what`) on
/// a Terraform core older than 1.11, which would keep it in the state:
/// the one wording for `password_wo` and `bearer_token_wo`, naming the
/// sensitive `alternative`.
pub fn write_only_needs_terraform_1_11(
    at: AttrPath,
    what: &str,
    attribute: &str,
    alternative: &str,
) -> Diagnostic {
    Diagnostic::error(
        format!("Write-only {what} needs Terraform 1.11 or later"),
        format!("This Terraform does not support write-only arguments and would store {attribute} in the state. Use {alternative} (sensitive) instead, or upgrade Terraform."),
    )
    .at(at)
}

/// The value of an optional single block: its object, or `Null` when the
/// block is absent. Also accepts a list block of at most one element, so a
/// caller does not depend on how the block is nested.
pub fn first(value: &Value) -> &Value {
    static NULL: Value = Value::Null;
    match value {
        Value::List(items) => items.first().unwrap_or(&NULL),
        other => other,
    }
}

/// The whole number at `block.name` (found at `path.name`), or `None` when
/// null or not yet known. A fraction or a value out of `T`'s range is an
/// error on the attribute, never read as unset (the schema's checks refuse
/// it first; this keeps the parser honest on its own).
pub fn whole<T: tfplug::FromValue>(
    block: &Value,
    name: &str,
    path: &AttrPath,
    diags: &mut tfplug::Diagnostics,
) -> Option<T> {
    tfplug::read::<T>(block.attr(name), &path.clone().attr(name))
        .map_err(|d| diags.push(d))
        .ok()
        .and_then(tfplug::Known::value)
}

/// The string at `name`, or `None` when null. Callers check `is_wholly_known`
/// first; an unknown counts as unset here.
fn string_attr(block: &Value, name: &str) -> Option<String> {
    block.attr(name).as_str().map(str::to_owned)
}

/// A positive number of seconds (at most a week) at `name`, or `None` when
/// null or not yet known.
fn seconds_attr(
    block: &Value,
    name: &str,
    path: &AttrPath,
) -> Result<Option<Duration>, Diagnostic> {
    let value = block.attr(name);
    if value.is_null() || value.is_unknown() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n.is_finite() && n > 0.0 && n <= 86_400.0 * 7.0 => {
            Ok(Some(Duration::from_secs_f64(n)))
        }
        _ => Err(Diagnostic::error(
            "Invalid number of seconds",
            format!("{name} must be a positive number of seconds (at most a week), got {value}."),
        )
        .at(path.clone().attr(name))),
    }
}
pub mod traffic;
