//! What can go wrong talking to a load balancer.

use std::path::PathBuf;
use std::time::Duration;

/// A driver failure. Every variant names the driver attribute at fault
/// (relative to the driver block, e.g. `socket`, `backend`, `file`) through
/// [`DriverError::attribute`], so the resource can put the diagnostic on it.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{attribute}: {message}")]
    InvalidConfig {
        attribute: &'static str,
        message: String,
    },

    #[error("cannot reach {endpoint}: {detail}")]
    Unreachable {
        attribute: &'static str,
        endpoint: String,
        detail: String,
    },

    #[error("{endpoint} still did not serve the new weights after {after:?}: {detail}")]
    NotServed {
        attribute: &'static str,
        endpoint: String,
        after: Duration,
        detail: String,
    },

    #[error("{endpoint} did not answer within {after:?}")]
    Timeout {
        attribute: &'static str,
        endpoint: String,
        after: Duration,
    },

    #[error("{endpoint} refused `{request}`: permission denied ({response})")]
    PermissionDenied {
        attribute: &'static str,
        endpoint: String,
        request: String,
        response: String,
    },

    #[error("{what} not found at {endpoint}: {response}")]
    NotFound {
        attribute: &'static str,
        what: String,
        endpoint: String,
        response: String,
    },

    #[error("{endpoint} rejected `{request}`: {response}")]
    Rejected {
        attribute: &'static str,
        endpoint: String,
        request: String,
        response: String,
    },

    #[error("{endpoint} answered `{request}` with something unexpected: {response}")]
    UnexpectedResponse {
        attribute: &'static str,
        endpoint: String,
        request: String,
        response: String,
    },

    #[error("the new configuration failed validation (`{argv}`), so nginx was not reloaded and the previous {} was restored: {output}", file.display())]
    ValidationFailed {
        file: PathBuf,
        argv: String,
        output: String,
    },

    #[error("`{argv}` failed, and the previous {} was restored: {output}", file.display())]
    CommandFailed {
        attribute: &'static str,
        file: PathBuf,
        argv: String,
        output: String,
    },

    #[error("{}: {detail}", path.display())]
    File {
        attribute: &'static str,
        path: PathBuf,
        detail: String,
    },
}

impl DriverError {
    /// The driver attribute a diagnostic should point at.
    pub fn attribute(&self) -> &'static str {
        match self {
            DriverError::InvalidConfig { attribute, .. }
            | DriverError::Unreachable { attribute, .. }
            | DriverError::Timeout { attribute, .. }
            | DriverError::NotServed { attribute, .. }
            | DriverError::PermissionDenied { attribute, .. }
            | DriverError::NotFound { attribute, .. }
            | DriverError::Rejected { attribute, .. }
            | DriverError::UnexpectedResponse { attribute, .. }
            | DriverError::CommandFailed { attribute, .. }
            | DriverError::File { attribute, .. } => attribute,
            DriverError::ValidationFailed { .. } => "validate_command",
        }
    }
}
