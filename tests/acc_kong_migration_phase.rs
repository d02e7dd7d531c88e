//! Acceptance: `resource "kong_migration_phase"` through real Terraform
//! (1.15.5 and 1.0.3), running kongsim's `kong migrations` (the project's
//! Kong stand-in) against a real PostgreSQL.
//!
//! One PostgreSQL cluster per test function; each Terraform core gets its own
//! database in it, so the cores never see each other's migrations.

mod support;

use std::time::{Duration, Instant};
use support::phase::{
    command_runner, diagnostic_about, listed, mentions, password_lines, phase, pointed_line, Db,
};
use support::upgrade::{env_i_runner_block, far_side_kong};
use support::Acceptance;
use testbed::kongsim::kongsim_bin;
use testbed::postgres::KONG_PASSWORD;
use testbed::Postgres;

const IMPORT_IGNORES: &[&str] = &[
    "database",
    "runner",
    "timeouts",
    "after",
    "migrations_to_run",
    "applied_at",
    "known_migrations_source",
];

#[test]
fn bootstrap_up_finish_then_drift_and_import() {
    let pg = Postgres::start().unwrap();
    for core in support::versions() {
        let db = Db::for_core(&pg, "upgrade", core);
        let mut acc = Acceptance::new(core);
        let bootstrap = phase("bootstrap", "bootstrap", "3.4.2", &db, core, "");
        let up = phase(
            "up",
            "up",
            "3.6.1",
            &db,
            core,
            "  after          = kong_migration_phase.bootstrap.applied_at",
        );
        let finish = phase(
            "finish",
            "finish",
            "3.6.1",
            &db,
            core,
            "  after          = kong_migration_phase.up.applied_at",
        );

        // Bootstrap a 3.4.2 database.
        acc.apply(&bootstrap);
        let values = acc.values("kong_migration_phase.bootstrap");
        let ran = listed(&values);
        assert!(
            ran.contains(&"core:000_base".to_owned())
                && ran.contains(&"core:020_330_to_340".to_owned()),
            "{ran:?}"
        );
        assert_eq!(values["known_migrations_source"], "catalog");
        assert!(
            db.schema_meta().contains("core|020_330_to_340|"),
            "{}",
            db.schema_meta()
        );

        // Up to 3.6.1: the plan lists exactly the new migrations.
        let config = format!("{bootstrap}\n{up}");
        acc.configure(&config);
        let plan = acc.ws().plan().unwrap();
        for name in [
            "021_340_to_350",
            "022_350_to_360",
            "003_350_to_360",
            "001_331_to_332",
            "006_350_to_360",
            "001_350_to_360",
        ] {
            assert!(plan.stdout.contains(name), "plan lists {name}:\n{plan}");
        }
        assert!(
            !plan.stdout.contains("020_330_to_340"),
            "nothing already executed is listed:\n{plan}"
        );
        acc.apply(&config);
        assert_eq!(
            listed(&acc.values("kong_migration_phase.up")),
            [
                "core:021_340_to_350",
                "core:022_350_to_360",
                "acme:003_350_to_360",
                "opentelemetry:001_331_to_332",
                "rate-limiting:006_350_to_360",
                "response-ratelimiting:001_350_to_360"
            ]
        );
        // Kong 3.6.1: only the opentelemetry migration has a teardown (the
        // three redis ones got theirs in 3.7.0).
        assert_eq!(db.pending(), "opentelemetry: 001_331_to_332");

        // Finish: the plan lists the pending teardown.
        let config = format!("{bootstrap}\n{up}\n{finish}");
        acc.configure(&config);
        let plan = acc.ws().plan().unwrap();
        let finish_plan = &plan.stdout[plan
            .stdout
            .find("kong_migration_phase.finish will be created")
            .unwrap()..];
        assert!(
            finish_plan.contains("001_331_to_332"),
            "finish plan lists the pending teardown:\n{plan}"
        );
        for name in ["003_350_to_360", "006_350_to_360", "001_350_to_360"] {
            assert!(
                !finish_plan.contains(name),
                "finish plan does not list {name}, executed by up:\n{plan}"
            );
        }

        // Someone runs finish outside Terraform: the plan shows there is
        // nothing left to finish.
        db.kong_outside("3.6.1", &["migrations", "finish"]);
        let plan = acc.ws().plan().unwrap();
        assert_eq!(plan.exit_code(), Some(2), "{plan}");
        assert!(mentions(&plan, "Nothing to finish"), "{plan}");
        assert!(
            plan.stdout
                .lines()
                .any(|l| l.trim_start().starts_with("+ migrations_to_run")
                    && l.trim_end().ends_with("= []")),
            "finish plans to run nothing:\n{plan}"
        );
        acc.apply(&config);
        assert!(listed(&acc.values("kong_migration_phase.finish")).is_empty());

        acc.import_and_verify(
            "kong_migration_phase.up",
            &db.import_id("up", "3.6.1"),
            IMPORT_IGNORES,
        );

        // The database is restored from a pre-upgrade backup: the plan shows
        // that up must run again, and one apply runs up and then finish.
        db.kong_outside("3.6.1", &["migrations", "reset", "-y"]);
        db.kong_outside("3.4.2", &["migrations", "bootstrap"]);
        let plan = acc.ws().plan().unwrap();
        assert_eq!(plan.exit_code(), Some(2), "{plan}");
        assert!(
            mentions(&plan, "The database changed outside Terraform"),
            "{plan}"
        );
        assert!(
            mentions(&plan, "Kong 3.6.1 has new migrations for it again"),
            "{plan}"
        );
        assert!(
            plan.stdout
                .contains("kong_migration_phase.up will be updated in-place"),
            "{plan}"
        );
        assert!(
            !plan
                .stdout
                .contains("kong_migration_phase.bootstrap will be"),
            "{plan}"
        );
        assert!(
            diagnostic_about(&plan, "up").contains("changed outside Terraform"),
            "{plan}"
        );
        acc.apply(&config);
        assert_eq!(db.pending(), "", "finish ran after up in the same apply");
        assert!(
            db.schema_meta()
                .contains("opentelemetry|001_331_to_332|001_331_to_332|"),
            "{}",
            db.schema_meta()
        );

        let state = acc.ws().state_json().unwrap().to_string();
        if core.at_least(1, 11) {
            assert!(
                !state.contains(KONG_PASSWORD),
                "a write-only password never reaches the state"
            );
        }
        let before = db.schema_meta();
        let out = acc.ws().destroy().unwrap();
        // Cores from 1.3 ask the provider to plan a destroy.
        if core.at_least(1, 3) {
            assert!(
                mentions(&out, "Destroying a migration phase does not reverse it"),
                "{out}"
            );
        }
        assert!(acc.ws().state_list().unwrap().is_empty(), "{out}");
        assert_eq!(
            db.schema_meta(),
            before,
            "destroy never reverses migrations"
        );
    }
}

#[test]
fn a_held_lock_is_waited_for_named_and_interruptible_and_once_released_apply_succeeds() {
    let pg = Postgres::start().unwrap();
    for core in support::versions() {
        let db = Db::for_core(&pg, "locked", core);
        db.kong_outside("3.4.2", &["migrations", "bootstrap"]);
        db.psql(
            "INSERT INTO locks (key, owner, ttl) VALUES ('migrations', 'other-node-42', now() + interval '10 minutes')",
        );
        let before = db.schema_meta();
        let config = phase(
            "up",
            "up",
            "3.6.1",
            &db,
            core,
            "  lock_timeout   = 1\n  timeouts {\n    create = \"4s\"\n  }",
        );
        let mut acc = Acceptance::new(core);
        acc.configure(&config);
        let plan = acc.ws().plan().unwrap();
        assert!(
            mentions(&plan, "Kong's migration lock is held") && mentions(&plan, "other-node-42"),
            "{plan}"
        );

        let started = Instant::now();
        let out = acc.apply_expect_error(&config, "Kong's migration lock stayed held");
        assert!(
            started.elapsed() >= Duration::from_secs(4),
            "apply waited for the lock until the timeout:\n{out}"
        );
        let diag = diagnostic_about(&out, "up");
        assert!(
            diag.contains("other-node-42"),
            "the holder is named:\n{diag}"
        );
        let expiry = db.psql(
            "SELECT to_char(ttl AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM locks",
        );
        assert!(
            diag.contains(expiry.trim()),
            "the expiry {expiry} is named:\n{diag}"
        );
        assert_eq!(
            db.schema_meta(),
            before,
            "nothing ran while the lock was held"
        );
        assert!(
            acc.ws().state_list().unwrap().is_empty(),
            "a create that ran nothing is not in the state"
        );

        // Ctrl-C while apply waits for the lock: the provider stops the kong
        // CLI and returns at once; nothing ran.
        acc.configure(&config.replace("create = \"4s\"", "create = \"5m\""));
        let run = acc.ws().spawn_apply_in_new_process_group().unwrap();
        run.wait_for_output(
            "kong_migration_phase.up: Creating...",
            Duration::from_secs(30),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let interrupted_at = Instant::now();
        run.send_sigint_to_group().unwrap();
        let out = run.wait_with_timeout(Duration::from_secs(20)).unwrap();
        assert!(!out.success() && mentions(&out, "Interrupted"), "{out}");
        assert!(
            interrupted_at.elapsed() < Duration::from_secs(5),
            "Ctrl-C took {:?}:\n{out}",
            interrupted_at.elapsed()
        );
        assert_eq!(db.schema_meta(), before, "nothing ran");
        assert!(acc.ws().state_list().unwrap().is_empty(), "{out}");

        db.psql("DELETE FROM locks");
        acc.apply(&config);
        assert_eq!(db.pending(), "opentelemetry: 001_331_to_332");
    }
}

#[test]
fn bad_inputs_are_plan_time_diagnostics_on_the_attribute_at_fault() {
    let pg = Postgres::start().unwrap();
    let closed_port = testbed::free_port();
    for core in support::versions() {
        // One database mid-upgrade (3.6.1's up ran, its finish did not), one at 3.4.2.
        let mid = Db::for_core(&pg, "mid", core);
        mid.kong_outside("3.4.2", &["migrations", "bootstrap"]);
        mid.kong_outside("3.6.1", &["migrations", "up"]);
        let at_34 = Db::for_core(&pg, "at34", core);
        at_34.kong_outside("3.4.2", &["migrations", "bootstrap"]);
        let snapshots = (mid.schema_meta(), at_34.schema_meta());

        let wrong_password = phase("wrong_password", "finish", "3.6.1", &mid, core, "")
            .replace(&password_lines(core), "    password = \"not-the-password\"");
        let unreachable = phase("unreachable", "finish", "3.6.1", &mid, core, "").replace(
            &format!("port     = {}", pg.port),
            &format!("port     = {closed_port}"),
        );
        let runner_missing = phase("runner_missing", "finish", "3.6.1", &mid, core, "").replace(
            &kongsim_bin().display().to_string(),
            "/nonexistent/bin/kong",
        );
        let config = [
            wrong_password,
            unreachable,
            runner_missing,
            phase("unknown_version", "up", "3.99.0", &mid, core, ""),
            phase("older_target", "up", "3.4.2", &mid, core, ""),
            phase("pending", "up", "3.6.1", &mid, core, ""),
            phase("bootstrapped", "bootstrap", "3.6.1", &mid, core, ""),
            phase("finish_before_up", "finish", "3.6.1", &at_34, core, ""),
        ]
        .join("\n");
        let mut acc = Acceptance::new(core);
        let out = acc.plan_expect_error(&config, "Error:");
        let cases = [
            (
                "wrong_password",
                "The Kong database rejected the login",
                "password = ",
            ),
            ("unreachable", "Cannot reach the Kong database", "port "),
            ("runner_missing", "Runner program not found", "argv = "),
            (
                // The catalog does not know 3.99.0, so the plan asks the
                // runner, which a real Kong 3.99.0 would answer. This one
                // (kongsim, which knows no 3.99.0) fails: the runner is at
                // fault.
                "unknown_version",
                "Cannot tell which migrations Kong 3.99.0 knows",
                "argv",
            ),
            (
                "older_target",
                "target_version is older than the database",
                "target_version",
            ),
            (
                "pending",
                "Pending migrations from a previous upgrade",
                "phase",
            ),
            (
                "bootstrapped",
                "The database is already bootstrapped",
                "phase",
            ),
            (
                "finish_before_up",
                "Nothing to finish: up has not run",
                "phase",
            ),
        ];
        for (resource, summary, attribute) in cases {
            let diag = diagnostic_about(&out, resource);
            assert!(
                diag.contains(summary),
                "{resource}: expected {summary:?}:\n{diag}"
            );
            let line = pointed_line(&acc, &diag);
            assert!(
                line.contains(attribute),
                "{resource}: the diagnostic points at {attribute}, not {line:?}:\n{diag}"
            );
        }
        // Terraform quotes the configuration line it points at; the provider's
        // own text never contains a password.
        let provider_text: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| {
                l.trim_start()
                    .split(':')
                    .next()
                    .is_none_or(|n| n.parse::<usize>().is_err())
            })
            .collect();
        let provider_text = provider_text.join("\n");
        assert!(
            !provider_text.contains(KONG_PASSWORD) && !provider_text.contains("not-the-password"),
            "no password in diagnostics:\n{out}"
        );
        assert!(!out.contains("panicked"), "{out}");

        // Mistakes Terraform's validation catches before any plan.
        let invalid = [
            phase("bad_version", "up", "3.six", &mid, core, ""),
            phase("bad_phase", "reset", "3.6.1", &mid, core, ""),
        ]
        .join("\n");
        let out = acc.plan_expect_error(&invalid, "Invalid Kong version");
        assert!(
            diagnostic_about(&out, "bad_phase").contains("Invalid phase"),
            "{out}"
        );
        if !core.at_least(1, 11) {
            let write_only = phase("write_only", "finish", "3.6.1", &mid, core, "").replace(
                &password_lines(core),
                &format!("    password_wo = \"{KONG_PASSWORD}\""),
            );
            acc.plan_expect_error(
                &write_only,
                "Write-only password needs Terraform 1.11 or later",
            );
        }
        assert_eq!(
            (mid.schema_meta(), at_34.schema_meta()),
            snapshots,
            "the databases were not touched"
        );
    }
}

#[test]
fn the_ssh_runner_runs_and_discovers_through_a_pinned_host_key() {
    let pg = Postgres::start().unwrap();
    let sshd = testbed::sshd::Sshd::start().unwrap();
    for core in support::versions() {
        let db = Db::for_core(&pg, "ssh", core);
        let runner = format!(
            "  runner {{\n    discover = true\n    ssh {{\n      host        = \"127.0.0.1\"\n      port        = {}\n      user        = \"{}\"\n      private_key = \"{}\"\n      host_key    = \"{}\"\n      argv        = [\"{}\", \"--kong-version\", \"3.4.2\"]\n    }}\n  }}\n",
            sshd.port,
            sshd.user,
            sshd.client_private_key_pem.replace('\n', "\\n"),
            sshd.host_public_key,
            kongsim_bin().display()
        );
        let config = phase("bootstrap", "bootstrap", "3.4.2", &db, core, "")
            .replace(&command_runner("3.4.2"), &runner);
        let mut acc = Acceptance::new(core);
        acc.ws_mut().enable_log("DEBUG");
        let out = acc.apply(&config);
        assert!(
            mentions(&out, "private_key = (sensitive value)") && !out.contains("PRIVATE KEY"),
            "{out}"
        );
        let log = acc.ws().read_log().unwrap();
        assert!(
            log.contains("kong migrations bootstrap"),
            "the provider logs what it runs"
        );
        let key_body = sshd.client_private_key_pem.lines().nth(1).unwrap();
        assert!(
            !log.contains(KONG_PASSWORD) && !log.contains(key_body),
            "no secret in the debug log"
        );
        let values = acc.values("kong_migration_phase.bootstrap");
        assert_eq!(
            values["known_migrations_source"], "runner",
            "kong migrations status ran over ssh"
        );
        assert!(listed(&values).contains(&"core:020_330_to_340".to_owned()));
        assert!(
            db.schema_meta().contains("core|020_330_to_340|"),
            "{}",
            db.schema_meta()
        );
    }
}

#[test]
fn the_stdin_transport_crosses_env_i_and_a_runner_migrating_another_database_is_caught() {
    let pg = Postgres::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (kong_342, kong_361) = (
        far_side_kong(dir.path(), "3.4.2"),
        far_side_kong(dir.path(), "3.6.1"),
    );
    for core in support::versions() {
        let db = Db::for_core(&pg, "stdin", core);
        let elsewhere = Db::for_core(&pg, "elsewhere", core);
        elsewhere.kong_outside("3.4.2", &["migrations", "bootstrap"]);
        let mut acc = Acceptance::new(core);
        let bootstrap = phase("bootstrap", "bootstrap", "3.4.2", &db, core, "").replace(
            &command_runner("3.4.2"),
            &env_i_runner_block(&kong_342, &[], "stdin"),
        );
        acc.apply(&bootstrap);
        assert!(
            db.schema_meta().contains("core|020_330_to_340|"),
            "bootstrap ran past env -i: {}",
            db.schema_meta()
        );

        // The far side's own environment names another database (as a
        // pod's does) and the provider's KONG_PG_* never arrive.
        let far_env: Vec<String> = [
            "KONG_DATABASE=postgres".to_owned(),
            "KONG_PG_HOST=127.0.0.1".to_owned(),
            format!("KONG_PG_PORT={}", pg.port),
            "KONG_PG_USER=kong".to_owned(),
            format!("KONG_PG_PASSWORD={KONG_PASSWORD}"),
            format!("KONG_PG_DATABASE={}", elsewhere.name),
        ]
        .into();
        let up = |transport: &str| {
            let env = if transport == "process" {
                &far_env[..]
            } else {
                &[]
            };
            phase(
                "up",
                "up",
                "3.6.1",
                &db,
                core,
                "  after          = kong_migration_phase.bootstrap.applied_at",
            )
            .replace(
                &command_runner("3.6.1"),
                &env_i_runner_block(&kong_361, env, transport),
            )
        };
        let before = db.schema_meta();
        let out = acc.apply_expect_error(&format!("{bootstrap}\n{}", up("process")), "Error");
        assert!(
            mentions(&out, "probably migrated another database")
                && mentions(&out, "env_transport = \"stdin\""),
            "{out}"
        );
        assert_eq!(db.schema_meta(), before, "our database was not touched");
        assert!(
            !elsewhere.pending().is_empty(),
            "the runner really migrated the other database: {}",
            elsewhere.pending()
        );

        acc.apply(&format!("{bootstrap}\n{}", up("stdin")));
        assert!(
            !db.pending().is_empty() && db.schema_meta().contains("core|022_350_to_360|"),
            "{}",
            db.schema_meta()
        );
    }
}

/// `examples/<path>` from the repository.
fn example(path: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(path),
    )
    .unwrap()
}

#[test]
fn the_examples_and_the_demo_configuration_work() {
    let pg = Postgres::start().unwrap();
    // The examples use write-only passwords (Terraform ≥ 1.11).
    for core in support::versions()
        .into_iter()
        .filter(|c| c.at_least(1, 11))
    {
        let db = Db::for_core(&pg, "examples", core);
        db.kong_outside("3.4.2", &["migrations", "bootstrap"]);
        let database_vars = format!(
            "kong_pg_host = \"127.0.0.1\"\nkong_pg_port = {}\nkong_pg_database = \"{}\"\nkong_pg_password = \"{KONG_PASSWORD}\"\n",
            pg.port, db.name
        );
        let tfvars = |finish: bool| {
            format!(
                "{database_vars}kong_y_cli = [\"{}\", \"--kong-version\", \"3.6.1\"]\nfinish = {finish}\n",
                kongsim_bin().display()
            )
        };

        // The data source example, before and after the upgrade.
        let mut data = Acceptance::new(core);
        data.ws()
            .write_file("terraform.tfvars", &database_vars)
            .unwrap();
        data.apply(&example("data-sources/kong_migrations/data-source.tf"));
        assert_eq!(data.ws().output("schema_level").unwrap(), "3.4");
        assert_eq!(
            data.ws().output("new_for_3_6_1").unwrap()["core"][0],
            "021_340_to_350"
        );

        // The resource example: up, then finish once `finish = true`.
        let mut acc = Acceptance::new(core);
        acc.ws()
            .write_file("terraform.tfvars", &tfvars(false))
            .unwrap();
        let config = example("resources/kong_migration_phase/resource.tf");
        acc.apply(&config);
        assert_eq!(db.pending(), "opentelemetry: 001_331_to_332");
        acc.ws()
            .write_file("terraform.tfvars", &tfvars(true))
            .unwrap();
        acc.apply(&config);
        assert_eq!(db.pending(), "");
        data.apply(&example("data-sources/kong_migrations/data-source.tf"));
        assert_eq!(data.ws().output("schema_level").unwrap(), "3.6");
        assert_eq!(data.ws().output("migration_lock").unwrap(), "free");

        // The demo configuration plans Kong 3.7.1's migrations on that database.
        let demo = support::workspace(core);
        demo.write_config(&example("migrations-demo/main.tf"))
            .unwrap();
        demo.write_file(
            "terraform.tfvars",
            &format!(
                "pg_port = {}\npg_password = \"{KONG_PASSWORD}\"\npg_database = \"{}\"\nkongsim_bin = \"{}\"\nto_version = \"3.7.1\"\n",
                pg.port,
                db.name,
                kongsim_bin().display()
            ),
        )
        .unwrap();
        demo.init().unwrap();
        let plan = demo.plan().unwrap();
        assert_eq!(plan.exit_code(), Some(2), "{plan}");
        for name in ["023_360_to_370", "001_360_to_370"] {
            assert!(
                plan.stdout.contains(name),
                "the demo plan lists {name}:\n{plan}"
            );
        }
        assert!(
            !plan.stdout.contains("001_331_to_332"),
            "3.6.1 already ran its opentelemetry migration:\n{plan}"
        );
    }
}
