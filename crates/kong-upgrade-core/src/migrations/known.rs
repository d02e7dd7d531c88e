//! The migrations a given Kong version's code knows, per subsystem, in the
//! order that code runs them. Comes from the embedded catalog or from the
//! target version's own `kong migrations status`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownMigration {
    pub name: String,
    /// Whether the migration has a teardown step, so `up` leaves it pending.
    /// `None` when the source does not say (`kong migrations status` does
    /// not) and the catalog does not know this migration.
    pub has_teardown: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownSubsystem {
    pub name: String,
    pub migrations: Vec<KnownMigration>,
}

/// Where a [`KnownMigrations`] list came from; shown in plans and docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownSource {
    /// The embedded catalog of Kong OSS migrations (its provenance string).
    Catalog { provenance: String },
    /// `kong migrations status` of the target version, run by the runner.
    Runner { command_line: String },
}

impl fmt::Display for KnownSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KnownSource::Catalog { provenance } => write!(f, "embedded catalog ({provenance})"),
            KnownSource::Runner { command_line } => write!(f, "`{command_line}`"),
        }
    }
}

/// Everything one Kong version's code knows about migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownMigrations {
    pub kong_version: String,
    /// Kong's order: `core` first, then plugins alphabetically.
    pub subsystems: Vec<KnownSubsystem>,
    pub source: KnownSource,
}

impl KnownMigrations {
    pub fn subsystem(&self, name: &str) -> Option<&KnownSubsystem> {
        self.subsystems.iter().find(|s| s.name == name)
    }

    pub fn knows(&self, subsystem: &str, migration: &str) -> bool {
        self.migration(subsystem, migration).is_some()
    }

    pub fn migration(&self, subsystem: &str, migration: &str) -> Option<&KnownMigration> {
        self.subsystem(subsystem)?
            .migrations
            .iter()
            .find(|m| m.name == migration)
    }

    pub fn has_teardown(&self, subsystem: &str, migration: &str) -> Option<bool> {
        self.migration(subsystem, migration)?.has_teardown
    }

    /// Fills unknown `has_teardown` flags from another list of the same
    /// version (the catalog), leaving known ones alone.
    pub fn fill_teardowns_from(&mut self, other: &KnownMigrations) {
        for subsystem in &mut self.subsystems {
            for migration in &mut subsystem.migrations {
                if migration.has_teardown.is_none() {
                    migration.has_teardown = other.has_teardown(&subsystem.name, &migration.name);
                }
            }
        }
    }
}

impl KnownMigrations {
    /// How `preview` (typically the catalog) differs from this list (what
    /// Kong itself reported), one line per difference, naming the
    /// migration. Teardown flags are compared only where both say.
    pub fn differences_from(&self, preview: &KnownMigrations) -> Vec<String> {
        let mut out = Vec::new();
        for subsystem in &self.subsystems {
            for m in &subsystem.migrations {
                let name = format!("{}/{}", subsystem.name, m.name);
                match preview.migration(&subsystem.name, &m.name) {
                    None => out.push(format!(
                        "{name}: Kong {} knows it, the preview did not list it",
                        self.kong_version
                    )),
                    Some(p) => match (m.has_teardown, p.has_teardown) {
                        (Some(kong), Some(listed)) if kong != listed => out.push(format!(
                            "{name}: {} a teardown step, the preview said it {}",
                            if kong { "has" } else { "has no" },
                            if listed { "has one" } else { "has none" }
                        )),
                        _ => {}
                    },
                }
            }
        }
        for name in self.unknown_of(preview) {
            out.push(format!(
                "{name}: the preview listed it, Kong {} does not know it",
                self.kong_version
            ));
        }
        out
    }
}

impl KnownMigrations {
    /// `subsystem/name` of every migration `preview` lists that this list
    /// (what Kong itself reported) does not know.
    pub fn unknown_of(&self, preview: &KnownMigrations) -> Vec<String> {
        preview
            .subsystems
            .iter()
            .flat_map(|s| s.migrations.iter().map(move |m| (s, m)))
            .filter(|(s, m)| !self.knows(&s.name, &m.name))
            .map(|(s, m)| format!("{}/{}", s.name, m.name))
            .collect()
    }

    /// This list without the `subsystem/name` migrations in `absent` (what
    /// Kong said it does not know, correcting a preview).
    pub fn without(mut self, absent: &[String]) -> KnownMigrations {
        for subsystem in &mut self.subsystems {
            let name = subsystem.name.clone();
            subsystem
                .migrations
                .retain(|m| !absent.contains(&format!("{name}/{}", m.name)));
        }
        self.subsystems.retain(|s| !s.migrations.is_empty());
        self
    }
}

/// The target version is not one the embedded catalog covers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnknownVersion(pub String);

impl KnownMigrations {
    /// The migrations of Kong OSS `version`, from the embedded catalog.
    pub fn from_catalog(version: &str) -> Result<Self, UnknownVersion> {
        let subsystems =
            kong_catalog::subsystems_for(version).map_err(|e| UnknownVersion(e.to_string()))?;
        Ok(KnownMigrations {
            kong_version: version.to_owned(),
            subsystems: subsystems
                .into_iter()
                .map(|s| KnownSubsystem {
                    name: s.name.to_owned(),
                    migrations: s
                        .migrations
                        .into_iter()
                        .map(|m| KnownMigration {
                            name: m.name.to_owned(),
                            has_teardown: Some(m.has_teardown),
                        })
                        .collect(),
                })
                .collect(),
            source: KnownSource::Catalog {
                provenance: kong_catalog::SOURCE.to_owned(),
            },
        })
    }
}

/// The newest Kong OSS release that added one of the recorded `core`
/// migrations (`"023_360_to_370"` → `"3.7"`); `None` when the catalog
/// knows none of them (Enterprise, custom builds).
pub fn schema_level<'a>(
    core_migrations: impl IntoIterator<Item = &'a str>,
) -> Option<&'static str> {
    kong_catalog::schema_level(core_migrations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_gives_kong_order_and_teardowns() {
        let known = KnownMigrations::from_catalog("3.6.1").unwrap();
        assert_eq!(known.subsystems[0].name, "core");
        assert_eq!(known.has_teardown("core", "022_350_to_360"), Some(false));
        assert_eq!(known.has_teardown("acme", "003_350_to_360"), Some(false));
        assert_eq!(
            known.has_teardown("opentelemetry", "001_331_to_332"),
            Some(true)
        );
        assert!(!known.knows("core", "023_360_to_370"));
        assert!(KnownMigrations::from_catalog("3.6.x").is_err());
        assert_eq!(schema_level(["023_360_to_370"]), Some("3.7"));
    }

    #[test]
    fn differences_name_each_migration_the_preview_got_wrong() {
        use super::super::fixtures::known;
        let kong = known("3.6.1", &[("core", "000 001*"), ("otel", "001*")]);
        let preview = known("3.6.1", &[("core", "000 001 002")]);
        assert_eq!(
            kong.differences_from(&preview),
            [
                "core/001: has a teardown step, the preview said it has none",
                "otel/001: Kong 3.6.1 knows it, the preview did not list it",
                "core/002: the preview listed it, Kong 3.6.1 does not know it",
            ]
        );
        assert!(kong.differences_from(&kong).is_empty());
    }

    #[test]
    fn a_preview_corrected_by_what_kong_lacks() {
        use super::super::fixtures::known;
        let kong = known("3.6.1", &[("core", "000 001*"), ("otel", "001*")]);
        let preview = known("3.6.1", &[("core", "000 001 002"), ("gone", "001")]);
        let lacks = kong.unknown_of(&preview);
        assert_eq!(lacks, ["core/002", "gone/001"]);
        let corrected = preview.without(&lacks);
        assert_eq!(corrected, known("3.6.1", &[("core", "000 001")]));
        assert!(kong.unknown_of(&corrected).is_empty());
    }
}
