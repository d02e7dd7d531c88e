//! The engine against kongsim (the project's Kong stand-in, whose
//! `kong migrations` takes Kong's lock the way `kong/db/init.lua` does) and
//! a real PostgreSQL: lock contention, another node doing the work, a
//! failure halfway, and Ctrl-C while the CLI runs.

use super::*;
use crate::migrations::{MigrationPhase, SubsystemMigrations};
use crate::runner::kongsim_tests::{bootstrap_3_5, database, kongsim_runner};
use crate::runner::{CommandRunner, FailureKind, MigrationCommand, Runner};
use std::time::Instant;
use testbed::Postgres;

const TARGET: &str = "3.6.1";

/// What 3.6.1's `up` leaves pending on a 3.5 database.
fn opentelemetry_pending() -> Vec<SubsystemMigrations> {
    vec![SubsystemMigrations {
        subsystem: "opentelemetry".into(),
        migrations: vec!["001_331_to_332".into()],
    }]
}

/// A database bootstrapped by Kong 3.5.0 in its own PostgreSQL, and what
/// the target knows.
struct Bed {
    pg: Postgres,
    db: DatabaseConfig,
    known: KnownMigrations,
}

impl Bed {
    async fn at_3_5() -> Bed {
        let pg = Postgres::start().unwrap();
        let db = database(&pg);
        bootstrap_3_5(&db).await;
        let known = KnownMigrations::from_catalog(TARGET).unwrap();
        Bed { pg, db, known }
    }

    /// `command` through `runner`, within a minute.
    fn engine<'a>(
        &'a self,
        runner: &'a dyn Runner,
        command: &'a MigrationCommand,
        cancel: &'a CancellationToken,
    ) -> PhaseRun<'a> {
        PhaseRun {
            runner,
            db: &self.db,
            known: &self.known,
            command,
            deadline: Instant::now() + Duration::from_secs(60),
            cancel,
        }
    }
}

/// kongsim at the target with one of its test switches set.
fn kongsim_with(switch: &str, value: &str) -> CommandRunner {
    let mut runner = kongsim_runner(TARGET);
    runner.env.insert(switch.into(), value.into());
    runner
}

fn up(lock_timeout: Duration) -> MigrationCommand {
    let mut command = MigrationCommand::new(MigrationPhase::Up);
    command.lock_timeout = lock_timeout;
    command
}

/// The first value `sql` returns, as text.
async fn query(db: &DatabaseConfig, sql: &str) -> String {
    let client = crate::migrations::connect(db).await.unwrap();
    let rows = client.simple_query(sql).await.unwrap();
    rows.iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap_or_default()
}

/// Polls `sql` until it gives `want`, for at most 30 s.
async fn wait_for(db: &DatabaseConfig, sql: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while query(db, sql).await != want {
        assert!(Instant::now() < deadline, "{sql} never gave {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// kongsim is connected, so its `up` is at (or past) taking the lock.
const KONGSIM_CONNECTED: &str =
    "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'kongsim'";

async fn hold_lock(db: &DatabaseConfig) {
    query(db, "INSERT INTO locks (key, owner, ttl) VALUES ('migrations', 'other-node-42', now() + interval '10 minutes')").await;
}

/// Another node holds Kong's lock: Ctrl-C while the engine waits for it
/// ends the run at once with nothing run; once the holder lets go without
/// migrating, Kong's `up` aborts ("another node is performing database
/// changes", exit 0), the database shows nothing done, and the engine runs
/// it again, which does it.
#[tokio::test]
async fn a_held_lock_is_waited_for_and_the_phase_runs_once_it_is_released() {
    let bed = Bed::at_3_5().await;
    let db = &bed.db;
    hold_lock(db).await;
    let runner = kongsim_runner(TARGET);
    let (command, cancel) = (up(Duration::from_secs(1)), CancellationToken::new());
    let engine = bed.engine(&runner, &command, &cancel);
    let (before, plan) = engine.plan().await.unwrap();
    let interrupt = async {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        cancel.cancel();
    };
    let (interrupted, ()) = tokio::join!(engine.run(&before, plan.clone()), interrupt);
    let interrupted = interrupted.unwrap_err();
    assert!(
        matches!(interrupted.error, MigrateError::Cancelled) && !interrupted.database_changed,
        "{interrupted:?}"
    );
    assert_eq!(
        read_schema_state(db).await.unwrap().schema_level(),
        Some("3.5")
    );

    let cancel = CancellationToken::new();
    let engine = PhaseRun {
        cancel: &cancel,
        command: &up(Duration::from_secs(60)),
        ..engine
    };
    let release = async {
        wait_for(db, KONGSIM_CONNECTED, "t").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        query(db, "DELETE FROM locks").await;
    };
    let (report, ()) = tokio::join!(engine.run(&before, plan), release);
    let report = report.unwrap();
    assert_eq!(report.attempts, 2, "{report:?}");
    assert!(!report.ran_by_another_node && report.another_node_note().is_none());
    assert_eq!(report.pending_after, opentelemetry_pending());
}

/// Another node runs `up` (slowly) while this run waits for its lock: once
/// it lets go, this run's `up` aborts and the database shows the phase
/// done, so the run succeeds saying another node did it.
#[tokio::test]
async fn another_node_running_up_while_we_wait_is_a_success_with_a_note() {
    let bed = Bed::at_3_5().await;
    let runner = kongsim_runner(TARGET);
    let (command, cancel) = (up(Duration::from_secs(60)), CancellationToken::new());
    let engine = bed.engine(&runner, &command, &cancel);
    let (before, plan) = engine.plan().await.unwrap();
    let mut other_node =
        tokio::process::Command::from(testbed::kongsim::kongsim_cli(TARGET, &bed.pg));
    let mut other_node = other_node
        .env("KONGSIM_TEST_MIGRATION_DELAY_MS", "700")
        .args(["migrations", "up"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&bed.db, "SELECT count(*) FROM locks", "1").await;

    let report = engine.run(&before, plan).await.unwrap();
    assert!(other_node.wait().await.unwrap().success());
    assert_eq!(report.attempts, 1, "{report:?}");
    assert!(report.ran_by_another_node, "{report:?}");
    assert!(
        report
            .another_node_note()
            .is_some_and(|note| note.contains("another node ran up")),
        "{report:?}"
    );
    assert_eq!(report.pending_after, opentelemetry_pending());
}

/// A migration Kong fails ends the run at once (no retry), named, on
/// nothing the configuration can fix; whether the database changed says
/// whether the migrations before it ran.
#[tokio::test]
async fn a_failed_migration_ends_the_run_saying_whether_the_database_changed() {
    let bed = Bed::at_3_5().await;
    let (command, cancel) = (up(Duration::from_secs(60)), CancellationToken::new());
    for (migration, name, changed) in [
        ("core/022_350_to_360", "022_350_to_360", false),
        ("rate-limiting/006_350_to_360", "006_350_to_360", true),
    ] {
        let runner = kongsim_with("KONGSIM_TEST_FAIL_MIGRATION", migration);
        let engine = bed.engine(&runner, &command, &cancel);
        let failed = engine.plan_and_run().await.unwrap_err();
        let MigrateError::Failed { failure, .. } = &failed.error else {
            panic!("{failed:?}");
        };
        assert_eq!(
            failure.kind,
            FailureKind::MigrationFailed {
                migration: Some(name.into())
            },
            "{failed}"
        );
        assert_eq!(failed.database_changed, changed, "{migration}: {failed}");
        assert_eq!(failed.error.summary(), format!("Migration {name} failed"));
        assert_eq!(failed.error.culprit(), Culprit::Nothing);
        assert!(failed.to_string().contains("injected failure"), "{failed}");
    }
    let meta = read_schema_state(&bed.db).await.unwrap();
    assert!(
        meta.subsystem("core")
            .is_some_and(|core| core.executed.iter().any(|m| m == "022_350_to_360")),
        "core ran before rate-limiting failed: {meta:?}"
    );
}

/// Ctrl-C while `kong migrations up` runs: the CLI is let finish (killing
/// it can leave a migration applied but unrecorded), and the run reports
/// the phase done; the caller stops at its next boundary.
#[tokio::test]
async fn a_cancelled_run_is_let_finish_and_reported_done() {
    let bed = Bed::at_3_5().await;
    let runner = kongsim_with("KONGSIM_TEST_MIGRATION_DELAY_MS", "300");
    let (command, cancel) = (up(Duration::from_secs(60)), CancellationToken::new());
    let engine = bed.engine(&runner, &command, &cancel);
    let interrupt = async {
        wait_for(&bed.db, "SELECT count(*) FROM locks", "1").await;
        cancel.cancel();
    };
    let (report, ()) = tokio::join!(engine.plan_and_run(), interrupt);
    let report = report.unwrap();
    assert!(cancel.is_cancelled());
    assert_eq!((report.attempts, report.plan.migration_count()), (1, 5));
    assert_eq!(report.pending_after, opentelemetry_pending());
    assert_eq!(query(&bed.db, "SELECT count(*) FROM locks").await, "0");
}
