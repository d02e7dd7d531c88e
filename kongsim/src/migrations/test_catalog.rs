//! Test-only changes to the migrations kongsim's code "knows", so a test
//! can make kongsim disagree with `kong-catalog` the way a real Kong build
//! can (a patch release adding a migration, a teardown the catalog does
//! not list, a migration the catalog has but the build lacks):
//!
//! - `KONGSIM_TEST_EXTRA_MIGRATIONS=<subsystem>/<name>[+],...`: that
//!   migration is appended to the subsystem (created if absent); `+` gives
//!   it a teardown step. Its SQL does nothing: only the bookkeeping in
//!   `schema_meta` matters to the provider.
//! - `KONGSIM_TEST_DROP_MIGRATIONS=<subsystem>/<name>,...`: that migration
//!   is not known (a subsystem left empty disappears).
//! - `KONGSIM_TEST_UNKNOWN_VERSION_AS=<version>`: a `--kong-version` the
//!   catalog does not know (a future release, an Enterprise 3.10+) is
//!   served with the migrations of `<version>`, plus the extras above.
//!   Without it kongsim refuses such a version: it never invents what a
//!   release it does not know would run.

use super::steps::Step;
use kong_catalog::{Migration, Subsystem};

const EXTRA: &str = "KONGSIM_TEST_EXTRA_MIGRATIONS";
const DROP: &str = "KONGSIM_TEST_DROP_MIGRATIONS";
const UNKNOWN_AS: &str = "KONGSIM_TEST_UNKNOWN_VERSION_AS";

/// The known version whose migrations stand in for one the catalog does
/// not know, when a test asked for it.
pub fn stand_in_for_unknown_version() -> Option<String> {
    std::env::var(UNKNOWN_AS)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// A migration named by one of the variables.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Named {
    subsystem: String,
    name: String,
    has_teardown: bool,
}

fn parse_list(value: &str) -> Vec<Named> {
    value
        .split(',')
        .filter_map(|item| {
            let (subsystem, name) = item.trim().split_once('/')?;
            let (name, has_teardown) = match name.strip_suffix('+') {
                Some(name) => (name, true),
                None => (name, false),
            };
            (!subsystem.is_empty() && !name.is_empty()).then(|| Named {
                subsystem: subsystem.to_owned(),
                name: name.to_owned(),
                has_teardown,
            })
        })
        .collect()
}

fn from_env(var: &str) -> Vec<Named> {
    std::env::var(var)
        .map(|v| parse_list(&v))
        .unwrap_or_default()
}

/// `catalog` with the environment's extra and dropped migrations applied.
pub fn adjust(catalog: Vec<Subsystem>) -> Vec<Subsystem> {
    apply(catalog, &from_env(EXTRA), &from_env(DROP))
}

fn apply(mut catalog: Vec<Subsystem>, extra: &[Named], drop: &[Named]) -> Vec<Subsystem> {
    for gone in drop {
        if let Some(s) = catalog.iter_mut().find(|s| s.name == gone.subsystem) {
            s.migrations.retain(|m| m.name != gone.name);
        }
    }
    catalog.retain(|s| !s.migrations.is_empty());
    for added in extra {
        // The process ends after one command; leaking a few names keeps
        // the catalog's `&'static str` types.
        let migration = Migration {
            name: Box::leak(added.name.clone().into_boxed_str()),
            has_teardown: added.has_teardown,
        };
        match catalog.iter_mut().find(|s| s.name == added.subsystem) {
            Some(s) => s.migrations.push(migration),
            None => catalog.push(Subsystem {
                name: Box::leak(added.subsystem.clone().into_boxed_str()),
                migrations: vec![migration],
            }),
        }
    }
    catalog.sort_by(|a, b| (a.name != "core", a.name).cmp(&(b.name != "core", b.name)));
    catalog
}

/// The SQL of an extra migration: nothing to change.
pub fn extra_step(subsystem: &str, name: &str) -> Option<Step> {
    from_env(EXTRA)
        .iter()
        .any(|n| n.subsystem == subsystem && n.name == name)
        .then_some(Step {
            up: "SELECT 1;",
            teardown: Some("SELECT 1;"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_and_dropped_migrations_change_the_known_set() {
        let catalog = kong_catalog::subsystems_for("3.6.1").unwrap();
        let extra = parse_list("core/999_test+, zz-plugin/001_x");
        let drop = parse_list("opentelemetry/001_331_to_332");
        let adjusted = apply(catalog, &extra, &drop);
        let core = adjusted.iter().find(|s| s.name == "core").unwrap();
        assert_eq!(
            core.migrations.last(),
            Some(&Migration {
                name: "999_test",
                has_teardown: true
            })
        );
        assert!(adjusted.iter().all(|s| s.name != "opentelemetry"));
        assert_eq!(adjusted.last().unwrap().name, "zz-plugin");
        assert!(!adjusted.last().unwrap().migrations[0].has_teardown);
    }
}
