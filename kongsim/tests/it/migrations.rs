use crate::helpers::{cli, migrations, migrations_with_env, sql};
use std::process::Stdio;
use std::time::{Duration, Instant};
use testbed::Postgres;

fn pg() -> Postgres {
    crate::helpers::postgres()
}

fn hold_lock(pg: &Postgres, owner: &str, seconds: u32) {
    sql(
        pg,
        &format!("INSERT INTO locks (key, owner, ttl) VALUES ('migrations', '{owner}', now() + interval '{seconds} seconds')"),
    );
}

#[test]
fn bootstrap_then_list_reports_an_up_to_date_3_4_database() {
    let pg = pg();
    let before = migrations("3.4.2", &pg, &["list"]);
    assert_eq!(before.code, 3, "{before:?}");
    assert!(
        before
            .stdout
            .starts_with("Database needs bootstrapping or is older than Kong 1.0."),
        "{before:?}"
    );

    let boot = migrations("3.4.2", &pg, &["bootstrap"]);
    assert_eq!(boot.code, 0, "{boot:?}");
    assert!(
        boot.stdout
            .starts_with("Bootstrapping database...\nmigrating core on database 'kong'...\n"),
        "{boot:?}"
    );
    assert!(
        boot.stdout
            .contains("core migrated up to: 016_280_to_300 (executed)"),
        "{boot:?}"
    );
    assert!(
        boot.stdout
            .ends_with("58 migrations processed\n58 executed\nDatabase is up-to-date\n"),
        "{boot:?}"
    );

    let list = migrations("3.4.2", &pg, &["list"]);
    assert_eq!(list.code, 0, "{list:?}");
    assert!(
        list.stdout
            .starts_with("Executed migrations:\n                 core: 000_base, 003_100_to_110"),
        "{list:?}"
    );
    assert!(
        !list.stdout.contains("Pending") && !list.stdout.contains("New migrations"),
        "{list:?}"
    );

    assert_eq!(sql(&pg, "SELECT last_executed FROM schema_meta WHERE key = 'schema_meta' AND subsystem = 'core'"), "020_330_to_340");
    assert_eq!(sql(&pg, "SELECT count(*) FROM schema_meta WHERE pending IS NOT NULL AND cardinality(pending) > 0"), "0");
    assert_eq!(
        sql(
            &pg,
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'locks_ttl_idx'"
        ),
        "CREATE INDEX locks_ttl_idx ON public.locks USING btree (ttl)"
    );
    assert_eq!(
        sql(&pg, "SELECT count(*) FROM locks"),
        "0",
        "the lock is released after bootstrap"
    );
    assert_eq!(
        sql(
            &pg,
            "SELECT count(*) FROM parameters WHERE key = 'cluster_id'"
        ),
        "1"
    );

    let again = migrations("3.4.2", &pg, &["bootstrap"]);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "Database already bootstrapped\n")
    );
}

/// Kong 3.6.1: the redis migrations have no teardown (their `up` moves the
/// fields at once; 3.7.0 split them), and 3.6.1's opentelemetry migration
/// is the one `up` leaves pending.
#[test]
fn upgrade_3_4_to_3_6_1_leaves_only_opentelemetry_pending_until_finish() {
    let pg = pg();
    assert_eq!(migrations("3.4.2", &pg, &["bootstrap"]).code, 0);
    sql(
        &pg,
        r#"INSERT INTO plugins (id, name, config, enabled) VALUES
           ('11111111-1111-4111-8111-111111111111', 'rate-limiting', '{"minute": 5, "redis_host": "redis-a", "redis_port": 6379}', true)"#,
    );

    let new = migrations("3.6.1", &pg, &["list"]);
    assert_eq!(new.code, 5, "{new:?}");
    assert!(new.stdout.contains("New migrations available:\n                 core: 021_340_to_350, 022_350_to_360\n                 acme: 003_350_to_360\n        opentelemetry: 001_331_to_332\n        rate-limiting: 006_350_to_360\nresponse-ratelimiting: 001_350_to_360\n\nRun 'kong migrations up' to proceed\n"), "{new:?}");

    let up = migrations("3.6.1", &pg, &["up"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(
        up.stdout
            .contains("rate-limiting migrated up to: 006_350_to_360 (executed)")
            && up
                .stdout
                .contains("opentelemetry migrated up to: 001_331_to_332 (pending)"),
        "{up:?}"
    );
    assert!(up.stdout.ends_with("6 migrations processed\n5 executed\n1 pending\n\nDatabase has pending migrations; run 'kong migrations finish' when ready\n"), "{up:?}");
    assert_eq!(
        sql(&pg, "SELECT string_agg(subsystem || ':' || array_to_string(pending, ','), ' ' ORDER BY subsystem) FROM schema_meta WHERE cardinality(pending) > 0"),
        "opentelemetry:001_331_to_332"
    );
    // 3.6's `up` moved the redis fields in one statement.
    assert_eq!(sql(&pg, "SELECT (config ? 'redis_host')::text || ' ' || (config->'redis'->>'host') FROM plugins WHERE name = 'rate-limiting'"), "false redis-a");

    let pending = migrations("3.6.1", &pg, &["list"]);
    assert_eq!(pending.code, 4, "{pending:?}");
    assert!(
        pending
            .stdout
            .ends_with("\nRun 'kong migrations finish' when ready\n"),
        "{pending:?}"
    );
    let old_node = migrations("3.4.2", &pg, &["list"]);
    assert_eq!(
        old_node.code, 0,
        "names a 3.4 node does not know are ignored: {old_node:?}"
    );

    let refused = migrations("3.6.1", &pg, &["up"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .starts_with("Error: Database has pending migrations; run 'kong migrations finish'"),
        "{refused:?}"
    );

    let finish = migrations("3.6.1", &pg, &["finish"]);
    assert_eq!(finish.code, 0, "{finish:?}");
    assert!(
        finish
            .stdout
            .contains("opentelemetry migrated up to: 001_331_to_332 (executed)"),
        "{finish:?}"
    );
    assert!(
        finish
            .stdout
            .contains("1 migration processed\n1 executed\n"),
        "{finish:?}"
    );

    assert_eq!(migrations("3.6.1", &pg, &["list"]).code, 0);
    let noop = migrations("3.6.1", &pg, &["up"]);
    assert_eq!(
        (noop.code, noop.stdout.as_str()),
        (0, "Database is already up-to-date\n")
    );
    let nothing = migrations("3.6.1", &pg, &["finish"]);
    assert_eq!(
        (nothing.code, nothing.stdout.as_str()),
        (0, "No pending migrations to finish\n")
    );
    // Nothing ran twice: every executed name appears once.
    assert_eq!(
        sql(&pg, "SELECT count(*) FROM (SELECT subsystem, n FROM schema_meta, unnest(executed) n GROUP BY 1, 2 HAVING count(*) > 1) d"),
        "0"
    );
}

#[test]
fn pending_and_new_migrations_together_exit_4_with_a_warning() {
    let pg = pg();
    assert_eq!(migrations("2.8.5", &pg, &["bootstrap"]).code, 0);
    sql(
        &pg,
        r"INSERT INTO routes (id, name, paths, protocols) VALUES
          ('22222222-2222-4222-8222-222222222222', 'regex', ARRAY['/api/v\d+/users', '/plain/path'], ARRAY['http'])",
    );
    assert_eq!(
        sql(
            &pg,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'vaults_beta'"
        ),
        "1"
    );

    let up = migrations("3.0.0", &pg, &["up"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(
        up.stdout
            .contains("core migrated up to: 016_280_to_300 (pending)"),
        "{up:?}"
    );
    assert!(
        up.stdout
            .contains("http-log migrated up to: 001_280_to_300 (pending)"),
        "{up:?}"
    );
    assert_eq!(
        sql(
            &pg,
            "SELECT array_to_string(paths, ' ') FROM routes WHERE name = 'regex'"
        ),
        r"~/api/v\d+/users /plain/path"
    );

    let both = migrations("3.1.0", &pg, &["list"]);
    assert_eq!(both.code, 4, "{both:?}");
    assert!(both.stdout.contains("\nPending migrations:\n"), "{both:?}");
    assert!(
        both.stdout
            .contains("\nNew migrations available:\ncore: 017_300_to_310\n"),
        "{both:?}"
    );
    assert!(both.stderr.contains("[warn] Database has pending migrations from a previous upgrade, and new migrations from this upgrade (version 3.1.0)"), "{both:?}");
    assert!(both.stdout.ends_with("Run 'kong migrations finish' when ready to complete pending migrations (postgres database will be incompatible with the previous Kong version)\n"), "{both:?}");

    let finish = migrations("3.1.0", &pg, &["finish"]);
    assert_eq!(finish.code, 0, "{finish:?}");
    assert!(
        finish
            .stdout
            .ends_with("\nNew migrations available; run 'kong migrations up' to proceed\n"),
        "{finish:?}"
    );
    assert_eq!(
        sql(
            &pg,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'vaults_beta'"
        ),
        "0",
        "teardown dropped vaults_beta"
    );
}

#[test]
fn up_waits_for_a_held_lock_and_fails_after_lock_timeout() {
    let pg = pg();
    assert_eq!(migrations("3.4.2", &pg, &["bootstrap"]).code, 0);
    hold_lock(&pg, "other-node", 60);
    let up = migrations("3.6.1", &pg, &["up", "--lock-timeout", "1"]);
    assert_eq!(up.code, 1, "{up:?}");
    assert!(
        up.stderr.starts_with("Error: [PostgreSQL error] timeout\n"),
        "{up:?}"
    );
    assert_eq!(
        sql(
            &pg,
            "SELECT last_executed FROM schema_meta WHERE subsystem = 'core'"
        ),
        "020_330_to_340"
    );
    assert_eq!(sql(&pg, "SELECT owner FROM locks"), "other-node");
}

/// Returns once a `kong migrations` run has tried to take the lock and
/// found it held: its insert (`ON CONFLICT DO NOTHING`) has completed, or
/// it is already polling the lock. Releasing the lock any earlier would
/// let it simply take the lock, however slow the machine is.
fn wait_until_waiting_for_the_lock(pg: &Postgres) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let query = "SELECT count(*) FROM pg_stat_activity \
                 WHERE pid <> pg_backend_pid() \
                   AND ((state = 'idle' AND query LIKE '%ON CONFLICT DO NOTHING%') \
                        OR query LIKE '%FROM locks%LIMIT 1%')";
    while sql(pg, query) == "0" {
        assert!(
            Instant::now() < deadline,
            "kong migrations up never tried to take the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn up_aborts_when_the_holder_releases_the_lock_first() {
    let pg = pg();
    assert_eq!(migrations("3.4.2", &pg, &["bootstrap"]).code, 0);
    hold_lock(&pg, "other-node", 60);
    let child = cli("3.6.1", &pg)
        .args(["migrations", "up", "--lock-timeout", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_until_waiting_for_the_lock(&pg);
    sql(&pg, "DELETE FROM locks WHERE owner = 'other-node'");
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        "aborted: another node is performing database changes\n"
    );
    assert_eq!(
        migrations("3.6.1", &pg, &["list"]).code,
        5,
        "the loser ran nothing"
    );
}

#[test]
fn finish_and_bootstrap_do_not_wait_for_the_lock() {
    let pg = pg();
    assert_eq!(migrations("3.4.2", &pg, &["bootstrap"]).code, 0);
    assert_eq!(migrations("3.6.1", &pg, &["up"]).code, 0);
    hold_lock(&pg, "other-node", 60);
    let started = Instant::now();
    let finish = migrations("3.6.1", &pg, &["finish"]);
    assert_eq!(
        (finish.code, finish.stdout.as_str()),
        (0, "aborted: another node is performing database changes\n"),
        "{finish:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "finish must not wait"
    );
    assert_eq!(migrations("3.6.1", &pg, &["list"]).code, 4, "still pending");

    let boot = migrations("3.6.1", &pg, &["bootstrap", "-f"]);
    assert_eq!(boot.code, 0, "{boot:?}");
    assert!(
        boot.stdout
            .starts_with("aborted: another node is performing database changes\n"),
        "{boot:?}"
    );
}

#[test]
fn reset_needs_yes_without_a_terminal() {
    let pg = pg();
    assert_eq!(migrations("3.6.1", &pg, &["bootstrap"]).code, 0);
    let refused = migrations("3.6.1", &pg, &["reset"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .starts_with("Error: not a tty: invoke 'reset' non-interactively with the --yes flag"),
        "{refused:?}"
    );
    let reset = migrations("3.6.1", &pg, &["reset", "-y"]);
    assert_eq!(
        (reset.code, reset.stdout.as_str()),
        (0, "Resetting database...\nDatabase successfully reset\n"),
        "{reset:?}"
    );
    assert_eq!(migrations("3.6.1", &pg, &["list"]).code, 3);
    let nothing = migrations("3.6.1", &pg, &["reset", "--yes"]);
    assert_eq!(
        (nothing.code, nothing.stdout.as_str()),
        (1, "Database not bootstrapped, nothing to reset\n")
    );
}

#[test]
fn status_prints_json_without_empty_keys() {
    let pg = pg();
    let fresh = migrations("3.4.2", &pg, &["status"]);
    assert_eq!(fresh.code, 0, "{fresh:?}");
    let json: serde_json::Value = serde_json::from_str(&fresh.stdout).expect("json");
    assert_eq!(json["needs_bootstrap"], true);
    assert_eq!(
        json["new_migrations"][0]["namespace"],
        "kong.db.migrations.core"
    );

    assert_eq!(migrations("3.4.2", &pg, &["bootstrap", "-q"]).stdout, "");
    let status = migrations("3.6.1", &pg, &["status", "-q"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["executed_migrations", "needs_bootstrap", "new_migrations"]
    );
    assert_eq!(json["new_migrations"][3]["subsystem"], "rate-limiting");
    assert_eq!(
        json["new_migrations"][3]["migrations"],
        serde_json::json!(["006_350_to_360"])
    );

    let old = migrations("2.8.5", &pg, &["status"]);
    assert_eq!(
        (old.code, old.stderr.as_str()),
        (1, "No such command for migrations: status\n")
    );
}

#[test]
fn connection_failures_are_reported_like_kong() {
    let pg = pg();
    let wrong = migrations_with_env("3.6.1", &pg, &["list"], &[("KONG_PG_PASSWORD", "wrong")]);
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(wrong.stderr.starts_with("Error: [PostgreSQL error] failed to retrieve PostgreSQL server_version_num: FATAL: password authentication failed for user \"kong\""), "{wrong:?}");
    let closed = testbed::free_port().to_string();
    let refused = migrations_with_env("3.6.1", &pg, &["up"], &[("KONG_PG_PORT", &closed)]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.starts_with("Error: [PostgreSQL error] failed to retrieve PostgreSQL server_version_num: connection refused"), "{refused:?}");
}

/// Kong/kong#12978: the client gives up (pg_timeout) while the server still
/// commits the migration, so it is applied but never recorded.
#[test]
fn db_timeout_can_leave_a_migration_applied_but_unrecorded() {
    let pg = pg();
    assert_eq!(migrations("3.4.2", &pg, &["bootstrap"]).code, 0);
    let up = migrations_with_env(
        "3.5.0",
        &pg,
        &["up", "--db-timeout", "1"],
        &[("KONGSIM_TEST_MIGRATION_DELAY_MS", "2000")],
    );
    assert_eq!(up.code, 1, "{up:?}");
    assert!(up.stderr.contains("cluster_mutex callback threw an error: [PostgreSQL error] failed to run migration '021_340_to_350' up: timeout"), "{up:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while sql(
        &pg,
        "SELECT count(*) FROM pg_tables WHERE tablename = 'filter_chains'",
    ) != "1"
    {
        assert!(
            Instant::now() < deadline,
            "the server never committed the migration"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        sql(
            &pg,
            "SELECT last_executed FROM schema_meta WHERE subsystem = 'core'"
        ),
        "020_330_to_340"
    );
    assert_eq!(
        migrations("3.5.0", &pg, &["list"]).code,
        5,
        "still reported as new"
    );
}

#[test]
fn a_failing_migration_stops_the_run_and_releases_the_lock() {
    let pg = pg();
    assert_eq!(migrations("3.4.2", &pg, &["bootstrap"]).code, 0);
    let up = migrations_with_env(
        "3.6.1",
        &pg,
        &["up"],
        &[("KONGSIM_TEST_FAIL_MIGRATION", "core/022_350_to_360")],
    );
    assert_eq!(up.code, 1, "{up:?}");
    assert!(up.stderr.starts_with("Error: [PostgreSQL error] cluster_mutex callback threw an error: [PostgreSQL error] failed to run migration '022_350_to_360' up: ERROR: kongsim: injected failure"), "{up:?}");
    assert!(
        up.stdout
            .contains("core migrated up to: 021_340_to_350 (executed)"),
        "{up:?}"
    );
    assert_eq!(
        sql(
            &pg,
            "SELECT last_executed FROM schema_meta WHERE subsystem = 'core'"
        ),
        "021_340_to_350"
    );
    assert_eq!(sql(&pg, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'clustering_data_planes' AND column_name = 'labels'"), "0", "the failed step was rolled back");
    assert_eq!(sql(&pg, "SELECT count(*) FROM locks"), "0");
}

#[test]
fn pg_schema_keeps_kong_tables_out_of_public() {
    let pg = pg();
    let env = [("KONG_PG_SCHEMA", "kong_tables")];
    assert_eq!(
        migrations_with_env("3.6.1", &pg, &["bootstrap"], &env).code,
        0
    );
    assert_eq!(sql(&pg, "SELECT count(*) FROM pg_tables WHERE schemaname = 'kong_tables' AND tablename IN ('schema_meta', 'locks', 'services')"), "3");
    assert_eq!(
        sql(
            &pg,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ),
        "0"
    );
    assert_eq!(migrations_with_env("3.6.1", &pg, &["list"], &env).code, 0);
    assert_eq!(
        migrations("3.6.1", &pg, &["list"]).code,
        3,
        "public has no schema_meta"
    );
}

#[test]
fn up_force_reruns_executed_migrations_and_records_them_again() {
    let pg = pg();
    assert_eq!(migrations("3.6.1", &pg, &["bootstrap"]).code, 0);
    let forced = migrations("3.6.1", &pg, &["up", "-f"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert!(
        forced
            .stdout
            .contains("core migrated up to: 000_base (executed)"),
        "{forced:?}"
    );
    assert_eq!(
        sql(
            &pg,
            "SELECT array_length(executed, 1) FROM schema_meta WHERE subsystem = 'acme'"
        ),
        "8",
        "Kong appends re-run names again"
    );
}

/// From 3.7.0 the redis migrations have a teardown: `up` copies the flat
/// fields (both shapes readable in the blue/green window), `finish`
/// removes the flat ones.
#[test]
fn upgrade_3_6_1_to_3_7_keeps_the_redis_teardown_pending_until_finish() {
    let pg = pg();
    assert_eq!(migrations("3.5.0", &pg, &["bootstrap"]).code, 0);
    sql(
        &pg,
        r#"INSERT INTO plugins (id, name, config, enabled) VALUES
           ('11111111-1111-4111-8111-111111111111', 'rate-limiting', '{"minute": 5, "redis_host": "redis-a", "redis_port": 6379}', true)"#,
    );
    let up = migrations("3.7.0", &pg, &["up"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(
        up.stdout
            .contains("rate-limiting migrated up to: 006_350_to_360 (pending)"),
        "{up:?}"
    );
    assert_eq!(sql(&pg, "SELECT config->'redis'->>'host' || ' ' || (config->>'redis_host') FROM plugins WHERE name = 'rate-limiting'"), "redis-a redis-a");
    assert_eq!(migrations("3.7.0", &pg, &["finish"]).code, 0);
    assert_eq!(sql(&pg, "SELECT (config ? 'redis_host')::text || ' ' || (config->'redis'->>'host') FROM plugins WHERE name = 'rate-limiting'"), "false redis-a");
}
