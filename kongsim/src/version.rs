//! The Kong release a kongsim process impersonates.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edition {
    Community,
    Enterprise,
}

impl Edition {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "community" | "oss" => Some(Edition::Community),
            "enterprise" | "ee" => Some(Edition::Enterprise),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Edition::Community => "community",
            Edition::Enterprise => "enterprise",
        }
    }
}

/// `MAJOR.MINOR.PATCH` (OSS) or `MAJOR.MINOR.PATCH.BUILD` (Enterprise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KongVersion {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub build: Option<u64>,
}

impl KongVersion {
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<u64> = s
            .split('.')
            .map(|p| if p.is_empty() { None } else { p.parse().ok() })
            .collect::<Option<_>>()?;
        match parts.as_slice() {
            [major, minor, patch] => Some(Self {
                major: *major,
                minor: *minor,
                patch: *patch,
                build: None,
            }),
            [major, minor, patch, build] => Some(Self {
                major: *major,
                minor: *minor,
                patch: *patch,
                build: Some(*build),
            }),
            _ => None,
        }
    }

    pub fn at_least(&self, major: u64, minor: u64) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// The `MAJOR.MINOR.PATCH` part, which is what the OSS migration catalog
    /// is keyed on.
    pub fn oss_triple(&self) -> String {
        format!("{}.{}.{}", self.major, self.minor, self.patch)
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

/// What a node reports as its version in `GET /` and in its server token.
/// Enterprise 2.x carried a "-enterprise-edition" suffix in `_VERSION`
/// (seen in KIC issue #5313); whether 3.x Enterprise still does is
/// unverified, so 3.x reports the bare four-part version.
pub fn reported_version(version: &KongVersion, edition: Edition) -> String {
    match edition {
        Edition::Enterprise if version.major < 3 => format!("{version}-enterprise-edition"),
        _ => version.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_oss_and_enterprise_versions() {
        let v = KongVersion::parse("3.6.1").unwrap();
        assert_eq!((v.major, v.minor, v.patch, v.build), (3, 6, 1, None));
        assert_eq!(
            KongVersion::parse("3.4.3.5").unwrap().to_string(),
            "3.4.3.5"
        );
        for bad in ["3.6", "3.6.x", "", "3..1", "1.2.3.4.5"] {
            assert!(KongVersion::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn enterprise_2x_version_has_the_edition_suffix() {
        let v = KongVersion::parse("2.8.4.1").unwrap();
        assert_eq!(
            reported_version(&v, Edition::Enterprise),
            "2.8.4.1-enterprise-edition"
        );
        let v = KongVersion::parse("3.4.3.5").unwrap();
        assert_eq!(reported_version(&v, Edition::Enterprise), "3.4.3.5");
    }
}
