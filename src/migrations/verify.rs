//! Checking, after a phase ran, that the database really is where the plan
//! said it would be. Kong exits 0 when it lost the lock race ("aborted:
//! another node is performing database changes"), so the exit code alone
//! proves nothing.

use super::phase::{MigrationPhase, PhasePlan};
use super::schema_meta::MigrationLock;
use super::state::{describe, SchemaState, SubsystemMigrations};
use std::fmt;

/// The phase did not take effect (or only partly).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct PhaseNotApplied {
    pub phase: MigrationPhase,
    pub still_needs_bootstrap: bool,
    pub new_remaining: Vec<SubsystemMigrations>,
    pub pending_remaining: Vec<SubsystemMigrations>,
    /// Who holds the migration lock now, if anyone: the usual reason.
    pub lock: Option<MigrationLock>,
}

impl fmt::Display for PhaseNotApplied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`kong migrations {}` did not take effect:", self.phase)?;
        if self.still_needs_bootstrap {
            write!(f, " the database is still not bootstrapped;")?;
        }
        if !self.new_remaining.is_empty() {
            write!(f, " still new: {};", describe(&self.new_remaining))?;
        }
        if !self.pending_remaining.is_empty() {
            write!(f, " still pending: {};", describe(&self.pending_remaining))?;
        }
        match &self.lock {
            Some(lock) => write!(
                f,
                " the migration lock is held by node {} until {} ({}s from now)",
                lock.owner,
                lock.expires_at,
                lock.expires_in.as_secs()
            ),
            None => write!(f, " the migration lock is free"),
        }
    }
}

/// Checks `after` (the state re-read after running `plan`) against what the
/// plan promised. `lock` is the lock row read with `after`.
pub fn verify_phase(
    plan: &PhasePlan,
    after: &SchemaState,
    lock: Option<&MigrationLock>,
) -> Result<(), PhaseNotApplied> {
    let still_needs_bootstrap = plan.expect.bootstrapped && after.needs_bootstrap;
    let new_remaining = if plan.expect.no_new {
        after.new_migrations()
    } else {
        Vec::new()
    };
    let pending_remaining = if plan.expect.no_pending {
        after.pending()
    } else {
        Vec::new()
    };
    if !still_needs_bootstrap && new_remaining.is_empty() && pending_remaining.is_empty() {
        return Ok(());
    }
    Err(PhaseNotApplied {
        phase: plan.phase,
        still_needs_bootstrap,
        new_remaining,
        pending_remaining,
        lock: lock.cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{known, meta};
    use super::super::phase::plan_phase;
    use super::super::state::classify;
    use super::*;
    use std::time::Duration;

    const CODE: &[(&str, &str)] = &[("core", "000 001 002*")];

    #[test]
    fn up_is_verified_when_nothing_new_remains_even_with_pending() {
        let code = known("3.0.0", CODE);
        let before = classify(&meta(&[("core", Some("000"), "000", "")]), &code);
        let plan = plan_phase(&before, &code, MigrationPhase::Up, false, None).unwrap();
        let after = classify(&meta(&[("core", Some("001"), "000 001", "002")]), &code);
        assert_eq!(verify_phase(&plan, &after, None), Ok(()));
    }

    #[test]
    fn an_aborted_up_is_caught_and_names_the_lock_holder() {
        let code = known("3.0.0", CODE);
        let before = classify(&meta(&[("core", Some("000"), "000", "")]), &code);
        let plan = plan_phase(&before, &code, MigrationPhase::Up, false, None).unwrap();
        let lock = MigrationLock {
            owner: "5f0c-node".into(),
            expires_at: "2030-01-01T00:00:00Z".into(),
            expires_in: Duration::from_secs(42),
        };
        let err = verify_phase(&plan, &before, Some(&lock)).unwrap_err();
        assert_eq!(
            err.new_remaining,
            vec![SubsystemMigrations {
                subsystem: "core".into(),
                migrations: vec!["001".into(), "002".into()],
            }]
        );
        let text = err.to_string();
        assert!(
            text.contains("5f0c-node") && text.contains("2030-01-01T00:00:00Z"),
            "{text}"
        );
    }

    #[test]
    fn finish_is_not_verified_while_anything_is_pending() {
        let code = known("3.0.0", CODE);
        let before = classify(&meta(&[("core", Some("001"), "000 001", "002")]), &code);
        let plan = plan_phase(&before, &code, MigrationPhase::Finish, false, None).unwrap();
        assert!(verify_phase(&plan, &before, None).is_err());
        let after = classify(&meta(&[("core", Some("002"), "000 001 002", "")]), &code);
        assert_eq!(verify_phase(&plan, &after, None), Ok(()));
    }
}
