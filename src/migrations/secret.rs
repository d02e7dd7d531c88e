//! A value that must never reach a log, a diagnostic, an argv or a `Debug`
//! dump: database passwords, SSH private keys.

use std::fmt;

/// A secret string. `Debug` and `Display` print `(sensitive)`; the value is
/// only reachable through [`Secret::expose`], so every use is greppable.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

/// What every rendering of a [`Secret`] prints instead of the value.
pub const REDACTED: &str = "(sensitive)";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The plain value. Call only where the value is handed to the component
    /// that needs it (the PostgreSQL handshake, a 0600 key file, a pipe).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every occurrence of the value in `text` by `(sensitive)`.
    ///
    /// Defence in depth for text we did not write ourselves (a runner's
    /// output, a server's error message) before it is logged or kept.
    pub fn redact_in(&self, text: &str) -> String {
        // Very short values would redact unrelated text ("a", "1") and are
        // not worth hiding from a diagnostic that already omits them.
        if self.0.len() < 4 || !text.contains(self.0.as_str()) {
            return text.to_owned();
        }
        text.replace(self.0.as_str(), REDACTED)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_sensitive_everywhere() {
        let s = Secret::new("hunter2-password");
        assert_eq!(format!("{s}"), "(sensitive)");
        assert_eq!(format!("{s:?}"), "(sensitive)");
        assert_eq!(format!("{:?}", Some(&s)), "Some((sensitive))");
        assert_eq!(s.expose(), "hunter2-password");
    }

    #[test]
    fn redacts_occurrences_in_foreign_text() {
        let s = Secret::new("hunter2-password");
        assert_eq!(
            s.redact_in("FATAL: bad hunter2-password here"),
            "FATAL: bad (sensitive) here"
        );
        assert_eq!(Secret::new("ab").redact_in("abc"), "abc");
    }
}
