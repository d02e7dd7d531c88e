//! What one `kong migrations bootstrap|up|finish` would do to a database,
//! decided before running it — so a plan shows it, and what Kong would
//! refuse (or silently skip) is an error at plan time.
//!
//! Mirrors `kong/cmd/migrations.lua` and `kong/cmd/utils/migrations.lua`.

use super::known::KnownMigrations;
use super::state::{describe, SchemaState, SubsystemMigrations};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MigrationPhase {
    Bootstrap,
    Up,
    Finish,
}

impl MigrationPhase {
    pub const ALL: [MigrationPhase; 3] = [
        MigrationPhase::Bootstrap,
        MigrationPhase::Up,
        MigrationPhase::Finish,
    ];

    /// The `kong migrations` subcommand.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationPhase::Bootstrap => "bootstrap",
            MigrationPhase::Up => "up",
            MigrationPhase::Finish => "finish",
        }
    }
}

impl fmt::Display for MigrationPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("phase {0:?} is not one of bootstrap, up, finish")]
pub struct UnknownPhase(pub String);

impl FromStr for MigrationPhase {
    type Err = UnknownPhase;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MigrationPhase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPhase(s.to_owned()))
    }
}

/// Which steps of a migration a phase runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationStep {
    /// The up step; a migration with a teardown is then pending.
    Up,
    /// The teardown of a pending migration.
    Teardown,
    /// Up, then the teardown if there is one (bootstrap, and `-f` re-runs).
    UpThenTeardown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMigration {
    pub name: String,
    pub step: MigrationStep,
    /// Whether the migration is recorded as pending afterwards; `None` when
    /// the list of known migrations does not say whether it has a teardown.
    pub leaves_pending: Option<bool>,
    /// A `-f` re-run of a migration the database already records.
    pub rerun: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSubsystem {
    pub subsystem: String,
    pub migrations: Vec<PlannedMigration>,
}

/// Why a phase has nothing to do; Kong prints a message and exits 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoopReason {
    /// `up`: "Database is already up-to-date".
    AlreadyUpToDate,
    /// `finish`: "No pending migrations to finish".
    NothingPending,
}

/// Something a plan should show without refusing to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanWarning {
    /// Recorded as `last_executed` but in neither `executed` nor `pending`.
    MissingMigrations(Vec<SubsystemMigrations>),
    /// Rows for subsystems the target code does not know; Kong ignores them.
    UnknownSubsystems(Vec<String>),
    /// `finish` completes pending migrations; these new ones stay for `up`.
    NewMigrationsRemain(Vec<SubsystemMigrations>),
    /// `up -f` with pending migrations re-runs the executed ones and then
    /// stops, as Kong does: the new ones are not run.
    ForcedUpSkipsNew(Vec<SubsystemMigrations>),
    /// Kong records pending migrations the list of known migrations lacks;
    /// they count as pending.
    UnlistedPending(Vec<SubsystemMigrations>),
}

impl fmt::Display for PlanWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanWarning::MissingMigrations(m) => write!(
                f,
                "the database is missing migrations it records as last executed: {}",
                describe(m)
            ),
            PlanWarning::UnknownSubsystems(names) => write!(
                f,
                "the database has migrations of subsystems this Kong version does not know, which it ignores: {}",
                names.join(", ")
            ),
            PlanWarning::NewMigrationsRemain(m) => write!(
                f,
                "after finish, new migrations remain for a later `up`: {}",
                describe(m)
            ),
            PlanWarning::ForcedUpSkipsNew(m) => write!(
                f,
                "`up -f` with pending migrations re-runs the executed ones and stops; Kong will not run the new ones: {}",
                describe(m)
            ),
            PlanWarning::UnlistedPending(m) => write!(
                f,
                "Kong records pending migrations the list of known migrations does not include, so they count as pending: {}",
                describe(m)
            ),
        }
    }
}

/// What must hold once the phase has run; checked by the provider crate's
/// `migrations::verify_phase` after each run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PostConditions {
    pub bootstrapped: bool,
    pub no_new: bool,
    pub no_pending: bool,
}

/// The plan of one phase against one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhasePlan {
    pub phase: MigrationPhase,
    pub force: bool,
    pub kong_version: String,
    /// In the order Kong runs them. Empty for a no-op.
    pub to_run: Vec<PlannedSubsystem>,
    pub noop: Option<NoopReason>,
    pub warnings: Vec<PlanWarning>,
    pub expect: PostConditions,
}

impl PhasePlan {
    pub fn is_noop(&self) -> bool {
        self.noop.is_some()
    }

    pub fn migration_count(&self) -> usize {
        self.to_run.iter().map(|s| s.migrations.len()).sum()
    }

    /// Migrations this phase leaves pending (known teardowns only).
    pub fn leaves_pending(&self) -> Vec<SubsystemMigrations> {
        self.to_run
            .iter()
            .map(|s| SubsystemMigrations {
                subsystem: s.subsystem.clone(),
                migrations: s
                    .migrations
                    .iter()
                    .filter(|m| m.leaves_pending == Some(true))
                    .map(|m| m.name.clone())
                    .collect(),
            })
            .filter(|s| !s.migrations.is_empty())
            .collect()
    }
}

/// Why a phase cannot be planned. Each is something Kong would refuse,
/// skip while exiting 0, or do destructively.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the database is not bootstrapped (no schema_meta table): run the bootstrap phase before {phase}")]
    NeedsBootstrap { phase: MigrationPhase },

    #[error("{}", already_bootstrapped_message(*force_would_reset))]
    AlreadyBootstrapped { force_would_reset: bool },

    #[error("the database has pending migrations from a previous upgrade; Kong refuses `up` until they are finished (run the finish phase first, or set force): {}", describe(pending))]
    PendingFromPreviousUpgrade { pending: Vec<SubsystemMigrations> },

    #[error("nothing is pending to finish but Kong {kong_version} has new migrations that `up` has not run yet: {}; run the up phase first", describe(new))]
    FinishBeforeUp {
        kong_version: String,
        new: Vec<SubsystemMigrations>,
    },

    #[error("{}", ahead_message(kong_version, ahead, schema_level.as_deref()))]
    DatabaseAheadOfTarget {
        kong_version: String,
        /// Subsystems whose `last_executed` this version does not know.
        ahead: Vec<AheadSubsystem>,
        /// The Kong release core's `last_executed` belongs to, if known.
        schema_level: Option<String>,
    },
}

/// A subsystem the database has migrated further than the target knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AheadSubsystem {
    pub subsystem: String,
    pub last_executed: String,
}

fn already_bootstrapped_message(force_would_reset: bool) -> String {
    if force_would_reset {
        "the database is already bootstrapped; `bootstrap -f` would first reset it (drop every Kong table), which this provider never does".into()
    } else {
        "the database is already bootstrapped; Kong would only print \"Database already bootstrapped\" (use the up phase to migrate it)".into()
    }
}

fn ahead_message(
    kong_version: &str,
    ahead: &[AheadSubsystem],
    schema_level: Option<&str>,
) -> String {
    let what = ahead
        .iter()
        .map(|a| format!("{} at {}", a.subsystem, a.last_executed))
        .collect::<Vec<_>>()
        .join(", ");
    let level = schema_level
        .map(|l| format!(" (schema level of Kong {l})"))
        .unwrap_or_default();
    format!(
        "the database was migrated by a newer Kong than {kong_version}: {what}{level} is unknown to {kong_version}; refusing to run an older version's migrations"
    )
}

/// Plans `phase` (with `-f` when `force`) of Kong `known.kong_version`
/// against a database whose classified state is `state`.
///
/// `state` must come from [`super::state::classify`] with the same `known`.
/// `schema_level` names the release of core's `last_executed` for the
/// "database is ahead" message.
pub fn plan_phase(
    state: &SchemaState,
    known: &KnownMigrations,
    phase: MigrationPhase,
    force: bool,
    schema_level: Option<&str>,
) -> Result<PhasePlan, PlanError> {
    match phase {
        MigrationPhase::Bootstrap if !state.needs_bootstrap => {
            return Err(PlanError::AlreadyBootstrapped {
                force_would_reset: force,
            })
        }
        MigrationPhase::Up | MigrationPhase::Finish if state.needs_bootstrap => {
            return Err(PlanError::NeedsBootstrap { phase })
        }
        _ => {}
    }
    check_not_ahead(state, known, schema_level)?;
    let mut plan = PhasePlan {
        phase,
        force,
        kong_version: known.kong_version.clone(),
        to_run: Vec::new(),
        noop: None,
        warnings: warnings_of(state),
        expect: PostConditions {
            bootstrapped: true,
            ..PostConditions::default()
        },
    };
    match phase {
        MigrationPhase::Bootstrap => plan_bootstrap(state, known, &mut plan),
        MigrationPhase::Up => plan_up(state, known, &mut plan)?,
        MigrationPhase::Finish => plan_finish(state, known, &mut plan)?,
    }
    Ok(plan)
}

fn check_not_ahead(
    state: &SchemaState,
    known: &KnownMigrations,
    schema_level: Option<&str>,
) -> Result<(), PlanError> {
    let ahead: Vec<AheadSubsystem> = state
        .subsystems
        .iter()
        .filter_map(|s| {
            let last = s.last_executed.as_deref()?;
            (!known.knows(&s.subsystem, last)).then(|| AheadSubsystem {
                subsystem: s.subsystem.clone(),
                last_executed: last.to_owned(),
            })
        })
        .collect();
    if ahead.is_empty() {
        return Ok(());
    }
    Err(PlanError::DatabaseAheadOfTarget {
        kong_version: known.kong_version.clone(),
        ahead,
        schema_level: schema_level.map(str::to_owned),
    })
}

fn warnings_of(state: &SchemaState) -> Vec<PlanWarning> {
    let mut warnings = Vec::new();
    if state.has_missing() {
        warnings.push(PlanWarning::MissingMigrations(state.missing()));
    }
    if !state.unlisted_pending.is_empty() {
        warnings.push(PlanWarning::UnlistedPending(state.unlisted_pending.clone()));
    }
    if !state.unknown_subsystems.is_empty() {
        warnings.push(PlanWarning::UnknownSubsystems(
            state.unknown_subsystems.clone(),
        ));
    }
    warnings
}

/// Bootstrap runs up and teardown of every migration (all are new).
fn plan_bootstrap(state: &SchemaState, known: &KnownMigrations, plan: &mut PhasePlan) {
    plan.to_run = planned(
        known,
        &state.new_migrations(),
        MigrationStep::UpThenTeardown,
        false,
    );
    plan.expect = PostConditions {
        bootstrapped: true,
        no_new: true,
        no_pending: true,
    };
}

fn plan_up(
    state: &SchemaState,
    known: &KnownMigrations,
    plan: &mut PhasePlan,
) -> Result<(), PlanError> {
    let pending = state.pending();
    let new = state.new_migrations();
    if !plan.force {
        if !pending.is_empty() {
            return Err(PlanError::PendingFromPreviousUpgrade { pending });
        }
        if new.is_empty() {
            plan.noop = Some(NoopReason::AlreadyUpToDate);
            return Ok(());
        }
        plan.to_run = planned(known, &new, MigrationStep::Up, false);
        plan.expect.no_new = true;
        return Ok(());
    }
    // `up -f`: re-run up+teardown of every executed migration; if anything
    // is then pending, Kong stops there; otherwise it runs the new ones.
    let mut to_run = planned(
        known,
        &state.executed(),
        MigrationStep::UpThenTeardown,
        true,
    );
    if pending.is_empty() {
        to_run.extend(planned(known, &new, MigrationStep::Up, false));
        plan.expect.no_new = true;
    } else if !new.is_empty() {
        plan.warnings.push(PlanWarning::ForcedUpSkipsNew(new));
    }
    plan.to_run = to_run;
    Ok(())
}

fn plan_finish(
    state: &SchemaState,
    known: &KnownMigrations,
    plan: &mut PhasePlan,
) -> Result<(), PlanError> {
    let pending = state.pending();
    let new = state.new_migrations();
    if !plan.force && pending.is_empty() {
        if !new.is_empty() {
            return Err(PlanError::FinishBeforeUp {
                kong_version: known.kong_version.clone(),
                new,
            });
        }
        plan.noop = Some(NoopReason::NothingPending);
        return Ok(());
    }
    let mut to_run = Vec::new();
    if plan.force {
        to_run = planned(
            known,
            &state.executed(),
            MigrationStep::UpThenTeardown,
            true,
        );
    }
    let teardowns: Vec<PlannedSubsystem> = planned(known, &pending, MigrationStep::Teardown, false)
        .into_iter()
        .map(|mut s| {
            s.migrations
                .iter_mut()
                .for_each(|m| m.leaves_pending = Some(false));
            s
        })
        .collect();
    to_run.extend(teardowns);
    if !new.is_empty() {
        plan.warnings.push(PlanWarning::NewMigrationsRemain(new));
    }
    plan.to_run = to_run;
    plan.expect.no_pending = true;
    Ok(())
}

fn planned(
    known: &KnownMigrations,
    migrations: &[SubsystemMigrations],
    step: MigrationStep,
    rerun: bool,
) -> Vec<PlannedSubsystem> {
    migrations
        .iter()
        .map(|s| PlannedSubsystem {
            subsystem: s.subsystem.clone(),
            migrations: s
                .migrations
                .iter()
                .map(|name| PlannedMigration {
                    name: name.clone(),
                    step,
                    leaves_pending: match step {
                        MigrationStep::Up => known.has_teardown(&s.subsystem, name),
                        MigrationStep::Teardown | MigrationStep::UpThenTeardown => Some(false),
                    },
                    rerun,
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{fresh, known, meta};
    use super::super::schema_meta::SchemaMeta;
    use super::super::state::classify;
    use super::*;

    /// `core: 021 022*; acme: !000+td` — `*` leaves pending, `+td` up then
    /// teardown, `-td` teardown only, `!` a forced re-run. `noop: <reason>`
    /// for a no-op; warnings after ` | `.
    fn summary(plan: &PhasePlan) -> String {
        let mut out = match plan.noop {
            Some(reason) => format!("noop: {reason:?}"),
            None => plan
                .to_run
                .iter()
                .map(|s| {
                    let names = s
                        .migrations
                        .iter()
                        .map(|m| {
                            let step = match m.step {
                                MigrationStep::Up => "",
                                MigrationStep::Teardown => "-td",
                                MigrationStep::UpThenTeardown => "+td",
                            };
                            let rerun = if m.rerun { "!" } else { "" };
                            let pending = if m.leaves_pending == Some(true) {
                                "*"
                            } else {
                                ""
                            };
                            format!("{rerun}{}{step}{pending}", m.name)
                        })
                        .collect::<Vec<_>>()
                        .join(" ");
                    format!("{}: {names}", s.subsystem)
                })
                .collect::<Vec<_>>()
                .join("; "),
        };
        for w in &plan.warnings {
            let kind = match w {
                PlanWarning::MissingMigrations(_) => "missing",
                PlanWarning::UnknownSubsystems(_) => "unknown-subsystems",
                PlanWarning::NewMigrationsRemain(_) => "new-remain",
                PlanWarning::ForcedUpSkipsNew(_) => "forced-up-skips-new",
                PlanWarning::UnlistedPending(_) => "unlisted-pending",
            };
            out.push_str(&format!(" | {kind}"));
        }
        out
    }

    fn error_kind(e: &PlanError) -> &'static str {
        match e {
            PlanError::NeedsBootstrap { .. } => "NeedsBootstrap",
            PlanError::AlreadyBootstrapped {
                force_would_reset: false,
            } => "AlreadyBootstrapped",
            PlanError::AlreadyBootstrapped {
                force_would_reset: true,
            } => "AlreadyBootstrapped(reset)",
            PlanError::PendingFromPreviousUpgrade { .. } => "PendingFromPreviousUpgrade",
            PlanError::FinishBeforeUp { .. } => "FinishBeforeUp",
            PlanError::DatabaseAheadOfTarget { .. } => "DatabaseAheadOfTarget",
        }
    }

    type Rows = &'static [(
        &'static str,
        Option<&'static str>,
        &'static str,
        &'static str,
    )];

    /// Code of "3.6.1" in miniature: core gains 021 and 022, acme gains a
    /// migration with a teardown.
    const CODE: &[(&str, &str)] = &[
        ("core", "000 020 021 022"),
        ("acme", "000_base_acme 003_350_to_360*"),
    ];
    const AT_34: Rows = &[
        ("core", Some("020"), "000 020", ""),
        ("acme", Some("000_base_acme"), "000_base_acme", ""),
    ];
    const UP_DONE: Rows = &[
        ("core", Some("022"), "000 020 021 022", ""),
        (
            "acme",
            Some("000_base_acme"),
            "000_base_acme",
            "003_350_to_360",
        ),
    ];
    const FINISHED: Rows = &[
        ("core", Some("022"), "000 020 021 022", ""),
        (
            "acme",
            Some("003_350_to_360"),
            "000_base_acme 003_350_to_360",
            "",
        ),
    ];
    const PENDING_AND_NEW: Rows = &[
        ("core", Some("020"), "000 020", ""),
        (
            "acme",
            Some("000_base_acme"),
            "000_base_acme",
            "003_350_to_360",
        ),
    ];
    const AHEAD: Rows = &[("core", Some("023"), "000 020 021 022 023", "")];
    const GAP: Rows = &[
        ("core", Some("022"), "000 020 022", ""),
        (
            "acme",
            Some("003_350_to_360"),
            "000_base_acme 003_350_to_360",
            "",
        ),
    ];
    /// Finished as far as the list knows, but Kong records a pending
    /// migration the list lacks (a patch release added it).
    const UNLISTED_PENDING: Rows = &[
        ("core", Some("022"), "000 020 021 022", ""),
        (
            "acme",
            Some("003_350_to_360"),
            "000_base_acme 003_350_to_360",
            "",
        ),
        ("opentelemetry", None, "", "001_331_to_332"),
    ];
    const NONE: Rows = &[];

    /// (case, rows or None for a fresh database, phase, force, expected)
    type Case = (
        &'static str,
        Option<Rows>,
        MigrationPhase,
        bool,
        Result<&'static str, &'static str>,
    );
    use MigrationPhase::{Bootstrap, Finish, Up};

    const CASES: &[Case] = &[
        ("bootstrap a fresh database runs everything to completion", None, Bootstrap, false,
            Ok("core: 000+td 020+td 021+td 022+td; acme: 000_base_acme+td 003_350_to_360+td")),
        ("bootstrap -f on a fresh database is a plain bootstrap", None, Bootstrap, true,
            Ok("core: 000+td 020+td 021+td 022+td; acme: 000_base_acme+td 003_350_to_360+td")),
        ("bootstrap an existing database", Some(AT_34), Bootstrap, false, Err("AlreadyBootstrapped")),
        ("bootstrap -f would reset", Some(AT_34), Bootstrap, true, Err("AlreadyBootstrapped(reset)")),
        ("bootstrap on an empty schema_meta is still 'bootstrapped'", Some(NONE), Bootstrap, false, Err("AlreadyBootstrapped")),
        ("up before bootstrap", None, Up, false, Err("NeedsBootstrap")),
        ("finish before bootstrap", None, Finish, false, Err("NeedsBootstrap")),
        ("up 3.4 -> 3.6 runs the new ones, acme stays pending", Some(AT_34), Up, false,
            Ok("core: 021 022; acme: 003_350_to_360*")),
        ("up again: nothing new", Some(UP_DONE), Up, false, Err("PendingFromPreviousUpgrade")),
        ("up when finished: already up to date", Some(FINISHED), Up, false, Ok("noop: AlreadyUpToDate")),
        ("up with pending from a previous upgrade", Some(PENDING_AND_NEW), Up, false, Err("PendingFromPreviousUpgrade")),
        ("up -f with pending re-runs executed and stops", Some(PENDING_AND_NEW), Up, true,
            Ok("core: !000+td !020+td; acme: !000_base_acme+td | forced-up-skips-new")),
        ("up -f without pending re-runs executed then runs new", Some(AT_34), Up, true,
            Ok("core: !000+td !020+td; acme: !000_base_acme+td; core: 021 022; acme: 003_350_to_360*")),
        ("finish after up tears down the pending one", Some(UP_DONE), Finish, false, Ok("acme: 003_350_to_360-td")),
        ("finish with nothing pending and nothing new", Some(FINISHED), Finish, false, Ok("noop: NothingPending")),
        ("finish before up", Some(AT_34), Finish, false, Err("FinishBeforeUp")),
        ("finish tears down what Kong records as pending even when the list lacks it", Some(UNLISTED_PENDING), Finish, false,
            Ok("opentelemetry: 001_331_to_332-td | unlisted-pending | unknown-subsystems")),
        ("up refuses while Kong records a pending migration the list lacks", Some(UNLISTED_PENDING), Up, false,
            Err("PendingFromPreviousUpgrade")),
        ("finish pending from a previous upgrade while new ones wait", Some(PENDING_AND_NEW), Finish, false,
            Ok("acme: 003_350_to_360-td | new-remain")),
        ("finish -f re-runs executed then tears down pending", Some(UP_DONE), Finish, true,
            Ok("core: !000+td !020+td !021+td !022+td; acme: !000_base_acme+td; acme: 003_350_to_360-td")),
        ("target older than the database", Some(AHEAD), Up, false, Err("DatabaseAheadOfTarget")),
        ("older target refused for finish too", Some(AHEAD), Finish, false, Err("DatabaseAheadOfTarget")),
        ("an unrecorded migration before last_executed is new and up runs it", Some(GAP), Up, false, Ok("core: 021")),
    ];

    #[test]
    fn plans_phases_like_kong_would_run_them() {
        let code = known("3.6.1", CODE);
        for (case, rows, phase, force, expected) in CASES {
            let meta = rows.map(meta).unwrap_or_else(fresh);
            let state = classify(&meta, &code);
            let got = plan_phase(&state, &code, *phase, *force, None);
            match (got, expected) {
                (Ok(plan), Ok(want)) => assert_eq!(&summary(&plan), want, "{case}"),
                (Err(e), Err(want)) => assert_eq!(error_kind(&e), *want, "{case}: {e}"),
                (Ok(plan), Err(want)) => {
                    panic!("{case}: expected {want}, planned {}", summary(&plan))
                }
                (Err(e), Ok(want)) => panic!("{case}: expected {want}, got error {e}"),
            }
        }
    }

    #[test]
    fn post_conditions_match_what_each_phase_guarantees() {
        let code = known("3.6.1", CODE);
        let plan = |rows: Option<Rows>, phase, force| {
            let meta: SchemaMeta = rows.map(meta).unwrap_or_else(fresh);
            plan_phase(&classify(&meta, &code), &code, phase, force, None)
                .unwrap()
                .expect
        };
        let all = PostConditions {
            bootstrapped: true,
            no_new: true,
            no_pending: true,
        };
        assert_eq!(plan(None, Bootstrap, false), all);
        assert_eq!(
            plan(Some(AT_34), Up, false),
            PostConditions {
                bootstrapped: true,
                no_new: true,
                no_pending: false
            }
        );
        assert_eq!(
            plan(Some(UP_DONE), Finish, false),
            PostConditions {
                bootstrapped: true,
                no_new: false,
                no_pending: true
            }
        );
        assert_eq!(
            plan(Some(PENDING_AND_NEW), Up, true),
            PostConditions {
                bootstrapped: true,
                no_new: false,
                no_pending: false
            },
            "Kong's up -f stops at pending migrations, so new ones are not promised"
        );
    }

    #[test]
    fn ahead_error_names_the_subsystem_and_the_schema_level() {
        let code = known("3.6.1", CODE);
        let state = classify(&meta(AHEAD), &code);
        let err = plan_phase(&state, &code, Up, false, Some("3.7")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("core at 023"), "{text}");
        assert!(text.contains("Kong 3.7"), "{text}");
        assert!(text.contains("3.6.1"), "{text}");
    }

    #[test]
    fn leaves_pending_is_unknown_when_the_source_does_not_say() {
        let mut code = known("3.6.1", CODE);
        code.subsystems[1].migrations[1].has_teardown = None;
        let plan = plan_phase(&classify(&meta(AT_34), &code), &code, Up, false, None).unwrap();
        assert_eq!(plan.to_run[1].migrations[0].leaves_pending, None);
        assert!(plan.leaves_pending().is_empty());
    }

    #[test]
    fn phases_parse_from_their_cli_names() {
        for phase in MigrationPhase::ALL {
            assert_eq!(phase.as_str().parse::<MigrationPhase>().unwrap(), phase);
        }
        assert!("reset".parse::<MigrationPhase>().is_err());
    }
}
