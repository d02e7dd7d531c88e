//! The bad-input generator for `acc_bad_inputs`: valid base configurations
//! of every resource, data source, action, function and the provider
//! block, each mutated one attribute at a time with values that must be
//! refused. A case is one file holding one configuration object; its
//! faulty line ends with `# BAD`, the line Terraform must point at.

use std::fmt::Write as _;

/// Where a case runs: Terraform 1.0.3 has no actions, functions or
/// write-only attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    AnyCore,
    /// Actions, provider functions, write-only attributes: 1.14+ here.
    ModernCore,
}

/// One generated configuration that must be refused.
#[derive(Clone, Debug)]
pub struct Case {
    /// File name in the working directory (`c0001.tf`).
    pub file: String,
    /// What is wrong, for messages.
    pub label: String,
    pub hcl: String,
    /// 1-based line of the `# BAD` marker.
    pub line: usize,
    pub needs: Needs,
}

/// A valid configuration, the control of a family of cases.
#[derive(Clone, Debug)]
pub struct Base {
    pub file: String,
    pub hcl: String,
    pub needs: Needs,
}

const MARK: &str = " # BAD";

pub const WHOLE_PERCENT: &[&str] = &["0.5", "-1", "101", "1e300", "-1e300", "99.99"];
pub const PORTS: &[&str] = &["0", "65536", "22.5", "-22", "1e10"];
pub const SECONDS: &[&str] = &["0", "-1", "0.5", "604801", "1e300"];
pub const DURATIONS: &[&str] = &[
    r#""-5s""#,
    r#""""#,
    r#""soon""#,
    r#""5""#,
    r#""0""#,
    r#""1x""#,
    r#""99999999999999999999999h""#,
];
pub const URLS: &[&str] = &[
    r#""javascript:alert(1)""#,
    r#""ftp://127.0.0.1/""#,
    r#""http://""#,
    r#""not a url""#,
    r#""""#,
    r#""http://admin:hunter2@127.0.0.1:1/""#,
    r#""file:///etc/passwd""#,
];
pub const HEADERS: &[&str] = &[
    r#"{ "Bad Name" = "v" }"#,
    r#"{ "X-Inject" = "a\nHost: evil" }"#,
    r#"{ "" = "v" }"#,
    r#"{ "a:b" = "v" }"#,
];
pub const PEMS: &[&str] = &[
    r#""garbage""#,
    r#""-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n""#,
];
pub const VERSIONS: &[&str] = &[
    r#""3.4.2;rm -rf /""#,
    r#""x""#,
    r#""""#,
    r#""3""#,
    r#""latest""#,
];
pub const ENUM_NOISE: &[&str] = &[r#""""#, r#""bogus""#, r#"" rollback""#];
pub const STATUSES: &[&str] = &["99", "600", "200.5", "-200"];
pub const COUNTS: &[&str] = &["0", "-1", "2.5", "1e300"];

/// A family of cases: the base, then (line to replace, attribute, values).
pub struct Family {
    pub name: &'static str,
    pub base: String,
    pub needs: Needs,
    pub mutations: Vec<(&'static str, &'static str, &'static [&'static str])>,
    /// Whole-line edits: (label, [(line to replace, new lines)], needs),
    /// the marker on the faulty line.
    pub edits: Vec<Edit>,
}

/// A structural case: several lines replaced at once.
pub struct Edit {
    pub label: &'static str,
    pub changes: Vec<(&'static str, String)>,
    pub needs: Needs,
}

/// An edit that any core can run.
pub fn edit(label: &'static str, changes: Vec<(&'static str, String)>) -> Edit {
    Edit {
        label,
        changes,
        needs: Needs::AnyCore,
    }
}

/// All cases and controls, numbered in order.
pub struct Suite {
    pub bases: Vec<Base>,
    pub cases: Vec<Case>,
}

impl Suite {
    pub fn generate(families: Vec<Family>) -> Suite {
        let mut suite = Suite {
            bases: Vec::new(),
            cases: Vec::new(),
        };
        for f in families {
            let n = suite.bases.len();
            suite.bases.push(Base {
                file: format!("base_{n:02}_{}.tf", f.name),
                hcl: f.base.replace("NAME", &format!("base_{n:02}")),
                needs: f.needs,
            });
            for (anchor, attr, values) in &f.mutations {
                for value in *values {
                    let indent = indent_of(&f.base, anchor);
                    let new = format!("{indent}{attr} = {value}{MARK}");
                    let changes = [(*anchor, new)];
                    suite.push(&f, &changes, format!("{attr} = {value}"), f.needs);
                }
            }
            for e in &f.edits {
                let needs = if e.needs == Needs::ModernCore {
                    Needs::ModernCore
                } else {
                    f.needs
                };
                suite.push(&f, &e.changes, e.label.to_string(), needs);
            }
        }
        suite
    }

    fn push(&mut self, f: &Family, changes: &[(&str, String)], what: String, needs: Needs) {
        let id = format!("c{:04}", self.cases.len());
        let hcl = changes
            .iter()
            .fold(f.base.clone(), |hcl, (anchor, new)| {
                replace_line(&hcl, anchor, new)
            })
            .replace("NAME", &id);
        let line = hcl
            .lines()
            .position(|l| l.ends_with(MARK))
            .unwrap_or_else(|| panic!("{}: no {MARK} line in\n{hcl}", f.name))
            + 1;
        self.cases.push(Case {
            file: format!("{id}.tf"),
            label: format!("{} {what}", f.name),
            hcl,
            line,
            needs,
        });
    }
}

fn indent_of(base: &str, anchor: &str) -> String {
    let line = base
        .lines()
        .find(|l| l.trim() == anchor)
        .unwrap_or_else(|| panic!("anchor {anchor:?} not in\n{base}"));
    line[..line.len() - line.trim_start().len()].to_string()
}

/// `base` with the line whose trimmed text is `anchor` replaced by `new`
/// (which may hold several lines, or none). A block's opening line as the
/// anchor with an empty `new` removes the whole block.
pub fn replace_line(base: &str, anchor: &str, new: &str) -> String {
    let lines: Vec<&str> = base.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == anchor)
        .unwrap_or_else(|| panic!("anchor {anchor:?} not in\n{base}"));
    let mut end = at + 1;
    if new.is_empty() && anchor.ends_with('{') {
        let mut depth = 1;
        while depth > 0 {
            depth += lines[end].matches('{').count();
            depth -= lines[end].matches('}').count();
            end += 1;
        }
    }
    let mut out = String::new();
    for l in &lines[..at] {
        let _ = writeln!(out, "{l}");
    }
    if !new.is_empty() {
        let _ = writeln!(out, "{new}");
    }
    for l in &lines[end..] {
        let _ = writeln!(out, "{l}");
    }
    out
}

/// Marks `line` (inside an edit) as the faulty one.
pub fn bad(line: &str) -> String {
    format!("{line}{MARK}")
}
