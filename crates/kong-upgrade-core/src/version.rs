//! Kong Gateway version numbers.
//!
//! Kong Gateway OSS versions have three parts (`3.4.2`); Enterprise versions
//! have a fourth, the Enterprise build (`3.4.3.5`, `3.10.0.1`). Older
//! Enterprise builds report `_VERSION` with a `-enterprise-edition` suffix
//! (`2.8.1.1-enterprise-edition`), and the server token is `kong/3.9.1`.
//! [`KongVersion`] accepts all of those spellings and normalizes them to the
//! dotted form, so a version read from a `Server` header, from `GET /`, and
//! from a Terraform attribute compare equal.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which Kong Gateway edition a version (or a deployment) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edition {
    Community,
    Enterprise,
}

impl Edition {
    pub fn as_str(self) -> &'static str {
        match self {
            Edition::Community => "community",
            Edition::Enterprise => "enterprise",
        }
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Kong Gateway version: `MAJOR.MINOR.PATCH` plus an optional Enterprise
/// build number.
///
/// Equality, ordering and hashing look at the numbers only. `3.4.2` sorts
/// before `3.4.2.0` (a missing build is lower than any build), which keeps
/// `Ord` consistent with `Eq`. The `-enterprise-edition` suffix only feeds
/// [`KongVersion::edition_hint`].
#[derive(Debug, Clone, Copy)]
pub struct KongVersion {
    major: u32,
    minor: u32,
    patch: u32,
    build: Option<u32>,
    enterprise_suffix: bool,
}

impl KongVersion {
    /// A three-part (community-style) version.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        KongVersion {
            major,
            minor,
            patch,
            build: None,
            enterprise_suffix: false,
        }
    }

    /// A four-part Enterprise version, e.g. `3.10.0.1`.
    pub const fn enterprise(major: u32, minor: u32, patch: u32, build: u32) -> Self {
        KongVersion {
            major,
            minor,
            patch,
            build: Some(build),
            enterprise_suffix: false,
        }
    }

    pub fn major(&self) -> u32 {
        self.major
    }

    pub fn minor(&self) -> u32 {
        self.minor
    }

    pub fn patch(&self) -> u32 {
        self.patch
    }

    /// The Enterprise build number, the fourth part, if present.
    pub fn ee_build(&self) -> Option<u32> {
        self.build
    }

    /// `(major, minor)`: the release series this version belongs to.
    pub fn series(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// True when both versions are in the same `MAJOR.MINOR` series.
    pub fn same_minor(&self, other: &KongVersion) -> bool {
        self.series() == other.series()
    }

    /// Enterprise if the version has a build number or an
    /// `-enterprise-edition` suffix, community otherwise. Only a hint: a
    /// deployment's edition is best read from `GET /` (`edition`, 3.6+).
    pub fn edition_hint(&self) -> Edition {
        if self.build.is_some() || self.enterprise_suffix {
            Edition::Enterprise
        } else {
            Edition::Community
        }
    }

    fn sort_key(&self) -> (u32, u32, u32, Option<u32>) {
        (self.major, self.minor, self.patch, self.build)
    }
}

impl PartialEq for KongVersion {
    fn eq(&self, other: &Self) -> bool {
        self.sort_key() == other.sort_key()
    }
}

impl Eq for KongVersion {}

impl Hash for KongVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.sort_key().hash(state);
    }
}

impl PartialOrd for KongVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KongVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl fmt::Display for KongVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(build) = self.build {
            write!(f, ".{build}")?;
        }
        Ok(())
    }
}

/// Why a string is not a Kong version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionProblem {
    Empty,
    PartCount(usize),
    NotANumber(String),
    UnknownSuffix(String),
}

impl fmt::Display for VersionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionProblem::Empty => f.write_str("it is empty"),
            VersionProblem::PartCount(n) => write!(f, "it has {n} dot-separated parts, not 3 or 4"),
            VersionProblem::NotANumber(part) => write!(f, "{part:?} is not a number"),
            VersionProblem::UnknownSuffix(suffix) => write!(
                f,
                "unknown suffix {suffix:?} (only \"-enterprise-edition\" is recognized)"
            ),
        }
    }
}

/// A string that could not be parsed as a [`KongVersion`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Kong version: {input:?} (expected MAJOR.MINOR.PATCH[.EE]): {problem}")]
pub struct VersionParseError {
    pub input: String,
    pub problem: VersionProblem,
}

impl FromStr for KongVersion {
    type Err = VersionParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        parse_version(input).map_err(|problem| VersionParseError {
            input: input.to_string(),
            problem,
        })
    }
}

const ENTERPRISE_SUFFIX: &str = "enterprise-edition";
// Nine digits always fit in a u32, so longer parts are rejected up front
// instead of overflowing.
const MAX_PART_DIGITS: usize = 9;

fn parse_version(input: &str) -> Result<KongVersion, VersionProblem> {
    let text = strip_decorations(input.trim());
    if text.is_empty() {
        return Err(VersionProblem::Empty);
    }
    let (numbers, suffix) = match text.split_once('-') {
        Some((numbers, suffix)) => (numbers, Some(suffix)),
        None => (text, None),
    };
    let enterprise_suffix = match suffix {
        None => false,
        Some(s) if s.eq_ignore_ascii_case(ENTERPRISE_SUFFIX) => true,
        Some(s) => return Err(VersionProblem::UnknownSuffix(format!("-{s}"))),
    };
    let parts = numbers
        .split('.')
        .map(parse_part)
        .collect::<Result<Vec<u32>, _>>()?;
    match parts[..] {
        [major, minor, patch] => Ok(KongVersion {
            major,
            minor,
            patch,
            build: None,
            enterprise_suffix,
        }),
        [major, minor, patch, build] => Ok(KongVersion {
            major,
            minor,
            patch,
            build: Some(build),
            enterprise_suffix,
        }),
        _ => Err(VersionProblem::PartCount(parts.len())),
    }
}

/// Removes the `kong/` server-token prefix and a leading `v`.
fn strip_decorations(text: &str) -> &str {
    let text = match text.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("kong/") => &text[5..],
        _ => text,
    };
    text.strip_prefix(['v', 'V']).unwrap_or(text)
}

fn parse_part(part: &str) -> Result<u32, VersionProblem> {
    let all_digits = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits || part.len() > MAX_PART_DIGITS {
        return Err(VersionProblem::NotANumber(part.to_string()));
    }
    part.parse()
        .map_err(|_| VersionProblem::NotANumber(part.to_string()))
}

impl Serialize for KongVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KongVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of versions named as an upgrade stop: a release series, optionally
/// with a minimum, e.g. `2.8.x` or `2.8.x (2.8.1 or later)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KongVersionPattern {
    pub major: u32,
    pub minor: u32,
    pub at_least: Option<KongVersion>,
}

impl KongVersionPattern {
    pub const fn series(major: u32, minor: u32) -> Self {
        KongVersionPattern {
            major,
            minor,
            at_least: None,
        }
    }

    pub fn matches(&self, version: &KongVersion) -> bool {
        version.series() == (self.major, self.minor)
            && self.at_least.is_none_or(|min| *version >= min)
    }
}

impl fmt::Display for KongVersionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.x", self.major, self.minor)?;
        if let Some(min) = self.at_least {
            write!(f, " ({min} or later)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(text: &str) -> KongVersion {
        text.parse().unwrap()
    }

    /// Input → normalized display and edition hint, one row per spelling.
    const SPELLINGS: &[(&str, &str, Edition)] = &[
        ("3.4.2", "3.4.2", Edition::Community),
        ("3.10.0.1", "3.10.0.1", Edition::Enterprise),
        ("3.4.3.5", "3.4.3.5", Edition::Enterprise),
        ("2.8.1-enterprise-edition", "2.8.1", Edition::Enterprise),
        ("2.8.1.1-enterprise-edition", "2.8.1.1", Edition::Enterprise),
        ("kong/3.9.1", "3.9.1", Edition::Community),
        ("Kong/3.9.1", "3.9.1", Edition::Community),
        ("v3.4.2", "3.4.2", Edition::Community),
        ("kong/v3.4.2", "3.4.2", Edition::Community),
        ("  3.4.2\n", "3.4.2", Edition::Community),
        ("03.004.2", "3.4.2", Edition::Community),
    ];

    #[test]
    fn accepts_every_kong_spelling() {
        for (input, display, edition) in SPELLINGS {
            let version = v(input);
            assert_eq!(version.to_string(), *display, "{input}");
            assert_eq!(version.edition_hint(), *edition, "{input}");
        }
    }

    /// Input → the problem reported.
    const REJECTED: &[(&str, &str)] = &[
        ("", "it is empty"),
        ("kong/", "it is empty"),
        ("3.x", "\"x\" is not a number"),
        ("3.4", "it has 2 dot-separated parts, not 3 or 4"),
        ("3.4.2.1.0", "it has 5 dot-separated parts, not 3 or 4"),
        ("3..2", "\"\" is not a number"),
        ("3.4.+2", "\"+2\" is not a number"),
        ("3.4.2-rc1", "unknown suffix \"-rc1\""),
        ("3.4.9999999999", "\"9999999999\" is not a number"),
        ("latest", "\"latest\" is not a number"),
    ];

    #[test]
    fn rejects_non_versions_saying_why() {
        for (input, problem) in REJECTED {
            let err = input.parse::<KongVersion>().unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with(&format!(
                    "not a Kong version: {input:?} (expected MAJOR.MINOR.PATCH[.EE])"
                )),
                "{message}"
            );
            assert!(message.contains(problem), "{input}: {message}");
        }
    }

    #[test]
    fn fourth_part_orders_enterprise_builds() {
        assert!(v("3.4.3.5") > v("3.4.3.4"));
        assert!(v("3.4.3.0") > v("3.4.3"));
        assert!(v("3.10.0.1") > v("3.9.3"));
        assert!(v("2.8.1.4") < v("2.8.2"));
        assert_eq!(v("2.8.1-enterprise-edition"), v("2.8.1"));
    }

    #[test]
    fn accessors_and_series() {
        let version = v("3.10.0.1");
        assert_eq!(
            (
                version.major(),
                version.minor(),
                version.patch(),
                version.ee_build()
            ),
            (3, 10, 0, Some(1))
        );
        assert!(version.same_minor(&v("3.10.1")));
        assert!(!version.same_minor(&v("3.1.0")));
    }

    #[test]
    fn serializes_as_the_dotted_string() {
        let json = serde_json::to_string(&v("kong/3.10.0.1")).unwrap();
        assert_eq!(json, "\"3.10.0.1\"");
        let back: KongVersion = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v("3.10.0.1"));
        let err = serde_json::from_str::<KongVersion>("\"3.x\"").unwrap_err();
        assert!(err.to_string().contains("not a Kong version"), "{err}");
    }

    #[test]
    fn patterns_display_and_match() {
        let any_28 = KongVersionPattern::series(2, 8);
        assert_eq!(any_28.to_string(), "2.8.x");
        assert!(any_28.matches(&v("2.8.0")));
        let from_281 = KongVersionPattern {
            at_least: Some(v("2.8.1")),
            ..any_28
        };
        assert_eq!(from_281.to_string(), "2.8.x (2.8.1 or later)");
        assert!(!from_281.matches(&v("2.8.0")));
        assert!(from_281.matches(&v("2.8.1.3")));
        assert!(!from_281.matches(&v("3.0.0")));
    }

    fn any_version() -> impl Strategy<Value = KongVersion> {
        (
            0u32..20,
            0u32..20,
            0u32..20,
            proptest::option::of(0u32..20),
            any::<bool>(),
        )
            .prop_map(
                |(major, minor, patch, build, enterprise_suffix)| KongVersion {
                    major,
                    minor,
                    patch,
                    build,
                    enterprise_suffix,
                },
            )
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(version in any_version()) {
            let parsed: KongVersion = version.to_string().parse().unwrap();
            prop_assert_eq!(parsed, version);
            prop_assert_eq!(parsed.to_string(), version.to_string());
        }

        #[test]
        fn ordering_matches_the_numeric_tuple(a in any_version(), b in any_version()) {
            prop_assert_eq!(a.cmp(&b), a.sort_key().cmp(&b.sort_key()));
            prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        }

        #[test]
        fn ordering_is_transitive(a in any_version(), b in any_version(), c in any_version()) {
            if a <= b && b <= c {
                prop_assert!(a <= c);
            }
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,24}") {
            let _ = text.parse::<KongVersion>();
        }

        #[test]
        fn decorated_spellings_parse_to_the_same_version(version in any_version()) {
            let plain = version.to_string();
            for spelled in [format!("kong/{plain}"), format!("v{plain}"), format!("{plain}-enterprise-edition")] {
                prop_assert_eq!(spelled.parse::<KongVersion>().unwrap(), version);
            }
        }
    }
}
