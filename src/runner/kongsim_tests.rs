//! The project's Kong stand-in, run through both runners against a real
//! PostgreSQL, checked by reading `schema_meta` ourselves; and the stdin
//! transport through boundaries that drop the environment (`env -i`, ssh).

use super::*;
use crate::migrations::{
    classify, plan_phase, read_schema_state, verify_phase, DatabaseConfig, KnownMigrations,
    MigrationPhase, SslMode,
};
use std::time::Duration;
use testbed::postgres::KONG_PASSWORD;
use testbed::Postgres;
use tokio_util::sync::CancellationToken;

/// `target/debug/kongsim`, built by `cargo build -p kongsim` (or any
/// workspace-wide build/test).
pub(crate) fn kongsim() -> String {
    let exe = std::env::current_exe().unwrap();
    let target_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = target_dir.join("kongsim");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p kongsim` first",
        path.display()
    );
    path.display().to_string()
}

pub(crate) fn kongsim_runner(version: &str) -> CommandRunner {
    CommandRunner::new(vec![kongsim(), "--kong-version".into(), version.into()])
}

pub(crate) fn database(pg: &Postgres) -> DatabaseConfig {
    let mut db = DatabaseConfig::new(
        "127.0.0.1",
        pg.port,
        "kong",
        Secret::new(KONG_PASSWORD),
        "kong",
    );
    db.sslmode = SslMode::Disable;
    db
}

/// A database bootstrapped by Kong 3.5.0, ready for `up` to 3.6.1.
pub(crate) async fn bootstrap_3_5(db: &DatabaseConfig) {
    run_phase(
        &kongsim_runner("3.5.0"),
        db,
        "3.5.0",
        MigrationPhase::Bootstrap,
    )
    .await;
}

/// Plans, runs, parses and verifies one phase; returns Kong's outcome.
async fn run_phase(
    runner: &dyn Runner,
    db: &DatabaseConfig,
    version: &str,
    phase: MigrationPhase,
) -> (crate::migrations::PhasePlan, CliOutcome) {
    let known = KnownMigrations::from_catalog(version).unwrap();
    let before = read_schema_state(db).await.unwrap();
    let plan = plan_phase(
        &classify(&before, &known),
        &known,
        phase,
        false,
        before.schema_level(),
    )
    .unwrap();
    let inv = KongInvocation::migrations(&MigrationCommand::new(phase), db)
        .with_timeout(Duration::from_secs(60));
    let mut ignore = |_: Stream, _: &str| {};
    let out = runner
        .run(&inv, &CancellationToken::new(), &mut ignore)
        .await
        .unwrap();
    let outcome = parse_phase_output(phase, &out).unwrap();
    let after = read_schema_state(db).await.unwrap();
    verify_phase(&plan, &classify(&after, &known), after.lock.as_ref())
        .unwrap_or_else(|e| panic!("{e}\noutput: {:?}", out.lines));
    (plan, outcome)
}

#[tokio::test]
async fn bootstrap_up_finish_through_the_command_runner() {
    let pg = Postgres::start().unwrap();
    let db = database(&pg);

    let (plan, outcome) = run_phase(
        &kongsim_runner("3.4.2"),
        &db,
        "3.4.2",
        MigrationPhase::Bootstrap,
    )
    .await;
    assert!(
        matches!(outcome, CliOutcome::Completed { .. }),
        "{outcome:?}"
    );
    assert!(plan.migration_count() > 20);
    let meta = read_schema_state(&db).await.unwrap();
    assert_eq!(meta.schema_level(), Some("3.4"));

    let (plan, outcome) =
        run_phase(&kongsim_runner("3.6.1"), &db, "3.6.1", MigrationPhase::Up).await;
    let planned_core: Vec<&str> = plan.to_run[0]
        .migrations
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(plan.to_run[0].subsystem, "core");
    assert_eq!(planned_core, ["021_340_to_350", "022_350_to_360"]);
    let CliOutcome::Completed {
        migrated,
        pending_remain,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(pending_remain);
    let ran: usize = plan.migration_count();
    assert_eq!(migrated.len(), ran, "Kong reported every planned migration");
    let predicted = plan.leaves_pending();
    let after = classify(
        &read_schema_state(&db).await.unwrap(),
        &KnownMigrations::from_catalog("3.6.1").unwrap(),
    );
    assert_eq!(
        after.pending(),
        predicted,
        "the plan predicted exactly what stays pending"
    );

    let (plan, outcome) = run_phase(
        &kongsim_runner("3.6.1"),
        &db,
        "3.6.1",
        MigrationPhase::Finish,
    )
    .await;
    let tearing_down: Vec<crate::migrations::SubsystemMigrations> = plan
        .to_run
        .iter()
        .map(|s| crate::migrations::SubsystemMigrations {
            subsystem: s.subsystem.clone(),
            migrations: s.migrations.iter().map(|m| m.name.clone()).collect(),
        })
        .collect();
    assert_eq!(
        tearing_down, predicted,
        "finish plans the teardowns up left pending"
    );
    assert!(
        matches!(
            outcome,
            CliOutcome::Completed {
                pending_remain: false,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(
        read_schema_state(&db).await.unwrap().schema_level(),
        Some("3.6")
    );
}

#[tokio::test]
async fn a_held_lock_makes_finish_exit_zero_without_effect_and_verification_names_the_holder() {
    let pg = Postgres::start().unwrap();
    let db = database(&pg);
    bootstrap_3_5(&db).await;
    run_phase(&kongsim_runner("3.6.1"), &db, "3.6.1", MigrationPhase::Up).await;
    pg.psql(
        "INSERT INTO locks VALUES ('migrations', 'other-node-7a1c', now() + interval '60 seconds')",
    )
    .unwrap();

    let known = KnownMigrations::from_catalog("3.6.1").unwrap();
    let before = read_schema_state(&db).await.unwrap();
    let plan = plan_phase(
        &classify(&before, &known),
        &known,
        MigrationPhase::Finish,
        false,
        None,
    )
    .unwrap();
    let inv = KongInvocation::migrations(&MigrationCommand::new(MigrationPhase::Finish), &db);
    let mut ignore = |_: Stream, _: &str| {};
    let out = kongsim_runner("3.6.1")
        .run(&inv, &CancellationToken::new(), &mut ignore)
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "Kong exits 0 when it loses the lock race");
    assert_eq!(
        parse_phase_output(MigrationPhase::Finish, &out).unwrap(),
        CliOutcome::LockNotAcquired
    );
    let after = read_schema_state(&db).await.unwrap();
    let err = verify_phase(&plan, &classify(&after, &known), after.lock.as_ref()).unwrap_err();
    assert!(err.to_string().contains("other-node-7a1c"), "{err}");
    assert!(!err.pending_remaining.is_empty());
}

#[tokio::test]
async fn discovery_through_kong_migrations_status_agrees_with_the_catalog() {
    let pg = Postgres::start().unwrap();
    let db = database(&pg);
    run_phase(
        &kongsim_runner("3.4.2"),
        &db,
        "3.4.2",
        MigrationPhase::Bootstrap,
    )
    .await;
    let request = DiscoveryRequest {
        kong_version: "3.6.1",
        database: &db,
        ask_runner: true,
        conf_path: None,
        db_timeout: None,
        timeout: Duration::from_secs(30),
    };
    let found = list_known_migrations(
        &kongsim_runner("3.6.1"),
        &request,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(found.runner_fallback_reason, None);
    assert!(matches!(
        found.known.source,
        crate::migrations::KnownSource::Runner { .. }
    ));
    let catalog = KnownMigrations::from_catalog("3.6.1").unwrap();
    assert_eq!(
        found.known.subsystems, catalog.subsystems,
        "status-derived list, teardowns filled from the catalog"
    );

    let broken = CommandRunner::new(vec!["kong-that-is-not-installed".into()]);
    let found = list_known_migrations(&broken, &request, &CancellationToken::new())
        .await
        .unwrap();
    assert!(found.runner_fallback_reason.unwrap().contains("not found"));
    assert_eq!(found.known, catalog);
}

#[tokio::test]
async fn up_through_the_ssh_runner() {
    let pg = Postgres::start().unwrap();
    let sshd = testbed::sshd::Sshd::start().unwrap();
    let db = database(&pg);
    bootstrap_3_5(&db).await;
    let ssh = SshRunner::new(
        "127.0.0.1",
        sshd.port,
        sshd.user.clone(),
        Secret::new(sshd.client_private_key_pem.clone()),
        HostKeyPin::parse(&sshd.host_public_key).unwrap(),
        vec![kongsim(), "--kong-version".into(), "3.6.1".into()],
    );
    let (plan, outcome) = run_phase(&ssh, &db, "3.6.1", MigrationPhase::Up).await;
    assert!(!plan.is_noop());
    assert!(
        matches!(
            outcome,
            CliOutcome::Completed {
                pending_remain: true,
                ..
            }
        ),
        "{outcome:?}"
    );
}

/// The `kong` on the far side of a boundary: a script that runs kongsim
/// as Kong `version` (the last argv element of a stdin-transport runner).
fn far_side_kong(dir: &std::path::Path, version: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("kong");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nexec '{}' --kong-version {version} \"$@\"\n",
            kongsim()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// `env -i PATH=/usr/bin:/bin <far-side kong>`: the boundary drops every
/// variable the provider sets on the local process, as `kubectl exec`
/// does. Extra `NAME=value` words are the far side's own settings.
fn env_i_runner(far_kong: &str, far_env: &[String], transport: EnvTransport) -> CommandRunner {
    let mut argv: Vec<String> = vec!["env".into(), "-i".into(), "PATH=/usr/bin:/bin".into()];
    argv.extend(far_env.iter().cloned());
    argv.push(far_kong.to_owned());
    let mut runner = CommandRunner::new(argv);
    runner.env_transport = transport;
    runner
}

async fn migrate(
    runner: &dyn Runner,
    db: &DatabaseConfig,
    version: &str,
    phase: MigrationPhase,
) -> Result<crate::steps::migrate::PhaseReport, crate::steps::migrate::MigrateError> {
    let known = KnownMigrations::from_catalog(version).unwrap();
    crate::steps::migrate::PhaseRun {
        runner,
        db,
        known: &known,
        command: &MigrationCommand::new(phase),
        deadline: std::time::Instant::now() + Duration::from_secs(60),
        cancel: &CancellationToken::new(),
    }
    .plan_and_run()
    .await
    .map_err(|failed| failed.error)
}

#[tokio::test]
async fn the_stdin_transport_crosses_a_boundary_that_drops_the_environment() {
    let pg = Postgres::start().unwrap();
    let db = database(&pg);
    bootstrap_3_5(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let kong = far_side_kong(dir.path(), "3.6.1");

    let lost = migrate(
        &env_i_runner(&kong, &[], EnvTransport::Process),
        &db,
        "3.6.1",
        MigrationPhase::Up,
    )
    .await
    .unwrap_err();
    assert!(
        !lost.to_string().contains(KONG_PASSWORD),
        "no secret in the error: {lost}"
    );
    assert_eq!(
        read_schema_state(&db).await.unwrap().schema_level(),
        Some("3.5"),
        "without the settings kong never reached this database"
    );

    let report = migrate(
        &env_i_runner(&kong, &[], EnvTransport::Stdin),
        &db,
        "3.6.1",
        MigrationPhase::Up,
    )
    .await
    .unwrap();
    assert!(report.plan.migration_count() > 0);
    let report = migrate(
        &env_i_runner(&kong, &[], EnvTransport::Stdin),
        &db,
        "3.6.1",
        MigrationPhase::Finish,
    )
    .await
    .unwrap();
    assert!(report.plan.migration_count() > 0);
    assert_eq!(
        read_schema_state(&db).await.unwrap().schema_level(),
        Some("3.6")
    );
}

fn is_other_database(err: &crate::steps::migrate::MigrateError) -> bool {
    matches!(
        err,
        crate::steps::migrate::MigrateError::OtherDatabase { .. }
    )
}

/// What a runner that lands on `kong_elsewhere` does with `phase`.
async fn migrate_elsewhere(
    kong: &str,
    far_env: &[String],
    db: &DatabaseConfig,
    phase: MigrationPhase,
) -> crate::steps::migrate::MigrateError {
    migrate(
        &env_i_runner(kong, far_env, EnvTransport::Process),
        db,
        "3.6.1",
        phase,
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn a_runner_that_migrates_another_database_is_caught_and_named() {
    let pg = Postgres::start().unwrap();
    let db = database(&pg);
    pg.psql_db("postgres", "CREATE DATABASE kong_elsewhere OWNER kong")
        .unwrap();
    let mut elsewhere = db.clone();
    elsewhere.database = "kong_elsewhere".into();
    for target in [&db, &elsewhere] {
        bootstrap_3_5(target).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let kong = far_side_kong(dir.path(), "3.6.1");
    // The far side's own environment names another database, as a pod's
    // does; the provider's KONG_PG_* never arrive.
    let far_env: Vec<String> = [
        "KONG_DATABASE=postgres".to_owned(),
        "KONG_PG_HOST=127.0.0.1".to_owned(),
        format!("KONG_PG_PORT={}", pg.port),
        "KONG_PG_USER=kong".to_owned(),
        format!("KONG_PG_PASSWORD={KONG_PASSWORD}"),
        "KONG_PG_DATABASE=kong_elsewhere".to_owned(),
    ]
    .into();
    let err = migrate_elsewhere(&kong, &far_env, &db, MigrationPhase::Up).await;
    assert!(is_other_database(&err), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("probably migrated another database")
            && message.contains("env_transport = \"stdin\"")
            && message.contains("/kong "),
        "{message}"
    );
    let other = classify(
        &read_schema_state(&elsewhere).await.unwrap(),
        &KnownMigrations::from_catalog("3.6.1").unwrap(),
    );
    assert!(!other.pending().is_empty(), "up ran on kong_elsewhere");
    assert_eq!(
        read_schema_state(&db).await.unwrap().schema_level(),
        Some("3.5")
    );

    // `finish` too: our database has pending migrations (after an `up`
    // through stdin); a `finish` that lands on kong_elsewhere is caught.
    migrate(
        &env_i_runner(&kong, &[], EnvTransport::Stdin),
        &db,
        "3.6.1",
        MigrationPhase::Up,
    )
    .await
    .unwrap();
    let pending_before = read_schema_state(&db).await.unwrap();
    let err = migrate_elsewhere(&kong, &far_env, &db, MigrationPhase::Finish).await;
    assert!(is_other_database(&err), "{err:?}");
    assert_eq!(
        read_schema_state(&db).await.unwrap(),
        pending_before,
        "our database's pending migrations are untouched"
    );
    let other = classify(
        &read_schema_state(&elsewhere).await.unwrap(),
        &KnownMigrations::from_catalog("3.6.1").unwrap(),
    );
    assert!(other.pending().is_empty(), "finish ran on kong_elsewhere");
}

/// `ssh` as the boundary of a command runner: ssh joins the words for the
/// remote shell (so the prologue is quoted for it) and sshd passes no
/// local environment on.
#[tokio::test]
async fn the_stdin_transport_works_through_ssh_as_a_command_prefix() {
    use std::os::unix::fs::PermissionsExt;
    let pg = Postgres::start().unwrap();
    let sshd = testbed::sshd::Sshd::start().unwrap();
    let db = database(&pg);
    bootstrap_3_5(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let kong = far_side_kong(dir.path(), "3.6.1");
    let key = dir.path().join("id");
    std::fs::write(
        &key,
        format!("{}\n", sshd.client_private_key_pem.trim_end()),
    )
    .unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("[127.0.0.1]:{} {}\n", sshd.port, sshd.host_public_key),
    )
    .unwrap();
    let argv: Vec<String> = [
        "ssh",
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        &format!("UserKnownHostsFile={}", known_hosts.display()),
        "-i",
        &key.display().to_string(),
        "-p",
        &sshd.port.to_string(),
        &format!("{}@127.0.0.1", sshd.user),
        &kong,
    ]
    .map(str::to_owned)
    .into();
    let mut runner = CommandRunner::new(argv);
    runner.env_transport = EnvTransport::Stdin;
    let report = migrate(&runner, &db, "3.6.1", MigrationPhase::Up)
        .await
        .unwrap_or_else(|e| panic!("{e}\nsshd log:\n{}", sshd.log()));
    assert!(report.plan.migration_count() > 0);
}
