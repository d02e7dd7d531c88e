//! Diagnostics: what Terraform shows the user, each optionally pinned to the
//! attribute at fault.

use magma_protocol::tfplugin6 as pb;
use std::fmt;

/// One step of a path into a configuration value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// An object attribute by name.
    Attr(String),
    /// A map element by key.
    Key(String),
    /// A list element by index.
    Index(i64),
}

/// A path to an attribute, e.g. `database.password` or `steps[2].weight`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AttrPath(pub Vec<PathStep>);

impl AttrPath {
    /// A path to the top-level attribute `name`.
    pub fn root(name: &str) -> AttrPath {
        AttrPath(vec![PathStep::Attr(name.to_string())])
    }

    /// Parses a dotted path with optional `[n]` indices: `runner.ssh.host`,
    /// `steps[1].weight`.
    pub fn parse(dotted: &str) -> AttrPath {
        let mut steps = Vec::new();
        for part in dotted.split('.').filter(|p| !p.is_empty()) {
            let (name, rest) = part.split_once('[').unwrap_or((part, ""));
            if !name.is_empty() {
                steps.push(PathStep::Attr(name.to_string()));
            }
            for idx in rest.split('[') {
                let idx = idx.trim_end_matches(']');
                if let Ok(i) = idx.parse() {
                    steps.push(PathStep::Index(i));
                } else if !idx.is_empty() {
                    steps.push(PathStep::Key(idx.trim_matches('"').to_string()));
                }
            }
        }
        AttrPath(steps)
    }

    /// This path, then attribute `name`.
    pub fn attr(mut self, name: &str) -> AttrPath {
        self.0.push(PathStep::Attr(name.to_string()));
        self
    }

    /// This path, then list element `i`.
    pub fn index(mut self, i: i64) -> AttrPath {
        self.0.push(PathStep::Index(i));
        self
    }

    /// This path, then map element `k`.
    pub fn key(mut self, k: &str) -> AttrPath {
        self.0.push(PathStep::Key(k.to_string()));
        self
    }

    pub(crate) fn to_proto(&self) -> pb::AttributePath {
        use pb::attribute_path::{step::Selector, Step};
        pb::AttributePath {
            steps: self
                .0
                .iter()
                .map(|s| Step {
                    selector: Some(match s {
                        PathStep::Attr(a) => Selector::AttributeName(a.clone()),
                        PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                        PathStep::Index(i) => Selector::ElementKeyInt(*i),
                    }),
                })
                .collect(),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attr(a) if i == 0 => write!(f, "{a}")?,
                PathStep::Attr(a) => write!(f, ".{a}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// How serious a diagnostic is.
pub enum Severity {
    /// Terraform stops and shows the error.
    Error,
    /// Terraform shows the warning and goes on.
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
/// What Terraform shows the user: a summary, a detail, and the attribute at fault when there is one.
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One line, shown in bold.
    pub summary: String,
    /// The explanation and what to do.
    pub detail: String,
    /// The attribute at fault; Terraform underlines it in the configuration.
    pub path: Option<AttrPath>,
}

impl Diagnostic {
    /// An error without an attribute path.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path: None,
        }
    }

    /// A warning without an attribute path.
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: detail.into(),
            path: None,
        }
    }

    /// This diagnostic, pinned to `path`.
    pub fn at(mut self, path: AttrPath) -> Diagnostic {
        self.path = Some(path);
        self
    }

    pub(crate) fn to_proto(&self) -> pb::Diagnostic {
        pb::Diagnostic {
            severity: match self.severity {
                Severity::Error => pb::diagnostic::Severity::Error as i32,
                Severity::Warning => pb::diagnostic::Severity::Warning as i32,
            },
            summary: self.summary.clone(),
            detail: self.detail.clone(),
            attribute: self.path.as_ref().map(AttrPath::to_proto),
        }
    }
}

/// An ordered collection of diagnostics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Adds one diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// Adds an error without an attribute path.
    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Diagnostic::error(summary, detail));
    }

    /// Adds an error pinned to `path`.
    pub fn error_at(
        &mut self,
        path: AttrPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Diagnostic::error(summary, detail).at(path));
    }

    /// Adds a warning without an attribute path.
    pub fn warning(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Diagnostic::warning(summary, detail));
    }

    /// Adds a warning pinned to `path`.
    pub fn warning_at(
        &mut self,
        path: AttrPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Diagnostic::warning(summary, detail).at(path));
    }

    /// Adds every diagnostic of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The diagnostics in order.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    pub(crate) fn to_proto(&self) -> Vec<pb::Diagnostic> {
        self.0.iter().map(Diagnostic::to_proto).collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            let path = d
                .path
                .as_ref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            writeln!(f, "{:?}: {}{path}: {}", d.severity, d.summary, d.detail)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_parse_attributes_indices_and_keys() {
        let p = AttrPath::parse("steps[2].gate[\"a\"].weight");
        assert_eq!(
            p.0,
            vec![
                PathStep::Attr("steps".into()),
                PathStep::Index(2),
                PathStep::Attr("gate".into()),
                PathStep::Key("a".into()),
                PathStep::Attr("weight".into()),
            ]
        );
        assert_eq!(p.to_string(), "steps[2].gate[\"a\"].weight");
    }

    #[test]
    fn errors_are_detected_among_warnings() {
        let mut d = Diagnostics::new();
        d.warning("w", "");
        assert!(!d.has_errors());
        d.error_at(AttrPath::root("x"), "e", "detail");
        assert!(d.has_errors());
        let proto = d.to_proto();
        assert_eq!(proto[1].attribute.as_ref().unwrap().steps.len(), 1);
    }
}
