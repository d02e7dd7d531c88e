//! Acceptance: `kong_migration_phase` decides from what Kong records, not
//! from the embedded catalog, and takes the provider's upgrade lock; the
//! way back to X (`kong_abort`, `on_destroy = "rollback"`) is judged from
//! what Kong had pending right after `up` against `schema_meta` now. Real
//! Terraform (1.15.5 and 1.0.3), kongsim's `kong migrations` (the project's
//! Kong stand-in) and a real PostgreSQL.

mod support;

use std::time::{Duration, Instant};
use support::phase::{listed, mentions, phase, Db};
use support::runbooks::{blue_green_vars, FAST};
use support::upgrade::{abort_action, example_config, flat, points_at, Sandbox, TO};
use support::{Acceptance, TerraformVersion};
use testbed::Postgres;

/// A core migration with a teardown that kongsim's 3.6.0 knows and the
/// catalog does not list (see kongsim's README).
const EXTRA: &str = "core/999_records_extra+";

/// Kong 3.6.0 leaves nothing pending after `up` by the catalog; kongsim
/// also knows [`EXTRA`], which `up` leaves pending. `finish` must tear it
/// down because Kong records it as pending, and the next plan is empty.
#[test]
fn finish_runs_for_what_kong_records_as_pending() {
    let pg = Postgres::start().unwrap();
    for core in support::versions() {
        let db = Db::for_core(&pg, "records", core);
        db.kong_outside("3.5.0", &["migrations", "bootstrap"]);
        let mut acc = Acceptance::new(core);
        acc.ws_mut().set_env("KONGSIM_TEST_EXTRA_MIGRATIONS", EXTRA);
        let up = phase("up", "up", "3.6.0", &db, core, "");
        acc.apply(&up);
        assert_eq!(db.pending(), "core: 999_records_extra");

        let finish = phase(
            "finish",
            "finish",
            "3.6.0",
            &db,
            core,
            "  after          = kong_migration_phase.up.applied_at",
        );
        let config = format!("{up}\n{finish}");
        acc.configure(&config);
        let plan = acc.ws().plan().unwrap();
        assert!(
            mentions(
                &plan,
                "Kong records pending migrations the list of known migrations does not include"
            ) && plan.stdout.contains("999_records_extra"),
            "the plan warns and lists what Kong has pending:\n{plan}"
        );
        acc.apply(&config);
        assert_eq!(
            listed(&acc.values("kong_migration_phase.finish")),
            ["core:999_records_extra"]
        );
        assert_eq!(db.pending(), "", "finish tore down what Kong had pending");
        assert!(
            db.schema_meta().contains("999_records_extra"),
            "{}",
            db.schema_meta()
        );
        acc.destroy();
    }
}

/// kongsim's 3.6.0 lacks `response-ratelimiting/001_350_to_360`, which the
/// catalog lists, and no `runner.discover` is set: the plan previews the
/// catalog's list. Apply asks the target's `kong migrations status` and
/// follows it: `up` is verified against Kong's list (not "still new"), a
/// warning names the difference, and the next plan is empty.
#[test]
fn up_follows_kong_when_the_catalog_lists_a_migration_kong_lacks() {
    const LACKED: &str = "response-ratelimiting/001_350_to_360";
    let pg = Postgres::start().unwrap();
    for core in support::versions() {
        let db = Db::for_core(&pg, "lacks", core);
        db.kong_outside("3.5.0", &["migrations", "bootstrap"]);
        let mut acc = Acceptance::new(core);
        acc.ws_mut().set_env("KONGSIM_TEST_DROP_MIGRATIONS", LACKED);
        let up = phase("up", "up", "3.6.0", &db, core, "");
        acc.configure(&up);
        let plan = acc.ws().plan().unwrap();
        assert!(
            plan.stdout.contains("001_350_to_360"),
            "the preview lists it:\n{plan}"
        );
        let out = acc.apply(&up);
        assert!(
            mentions(&out, "Kong's migrations differ from the preview")
                && mentions(
                    &out,
                    &format!("{LACKED}: the preview listed it, Kong 3.6.0 does not know it")
                ),
            "{out}"
        );
        let meta = db.schema_meta();
        let ran = |subsystem: &str, name: &str| {
            meta.lines()
                .any(|l| l.starts_with(&format!("{subsystem}|")) && l.contains(name))
        };
        assert!(
            ran("core", "022_350_to_360") && !ran("response-ratelimiting", "001_350_to_360"),
            "{meta}"
        );
        assert_eq!(db.pending(), "");
        acc.destroy();
    }
}

/// Two `kong_migration_phase` applies on one database: the second fails at
/// once, naming the holder of the provider's upgrade lock, and the first
/// completes undisturbed.
#[test]
fn a_second_phase_on_the_same_database_fails_at_once_naming_the_holder() {
    let pg = Postgres::start().unwrap();
    for core in support::versions() {
        let db = Db::for_core(&pg, "locked", core);
        db.kong_outside("3.4.2", &["migrations", "bootstrap"]);
        let mut first = Acceptance::new(core);
        first
            .ws_mut()
            .set_env("KONGSIM_TEST_MIGRATION_DELAY_MS", "1500");
        first.configure(&phase("up", "up", "3.6.1", &db, core, ""));
        let run = first.ws().spawn_apply_in_new_process_group().unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        while db
            .psql("SELECT count(*) FROM schema_meta, unnest(executed) AS n WHERE n = '021_340_to_350'")
            .trim()
            != "1"
        {
            assert!(Instant::now() < deadline, "the first up never started");
            std::thread::sleep(Duration::from_millis(50));
        }

        let mut second = Acceptance::new(core);
        second.configure(&phase("again", "up", "3.6.1", &db, core, ""));
        let started = Instant::now();
        let out = second.ws().apply_expect_error().unwrap();
        let took = started.elapsed();
        assert!(
            mentions(&out, "Another upgrade or migration phase is running")
                && mentions(&out, "terraform-provider-kong pid")
                && mentions(&out, "connected since"),
            "{out}"
        );
        // Terraform's own plan and apply included; the lock itself does
        // not wait.
        assert!(took < Duration::from_secs(10), "took {took:?}");

        let done = run.wait_with_timeout(Duration::from_secs(120)).unwrap();
        assert!(done.success(), "{done}");
        assert_eq!(db.pending(), "opentelemetry: 001_331_to_332");
        assert!(second.ws().state_list().unwrap().is_empty());
    }
}

// ------------------------------------------- the way back, from the record

const EXAMPLE: &str = "upgrades/blue_green";

/// A blue-green upgrade of the sandbox taken to `migrated` (after `up`,
/// before `finish`) with `on_destroy = "rollback"`; on cores with actions,
/// the configuration also holds `action "kong_abort" "now"`.
fn migrated_with_rollback(
    core: TerraformVersion,
    sb: &Sandbox,
    env: &[(&str, &str)],
) -> Acceptance {
    let mut acc = Acceptance::new(core);
    for (name, value) in env {
        // Inherited by the kong CLI the runner starts and by Y's start hook.
        acc.ws_mut().set_env(name, value);
    }
    let mut vars = blue_green_vars(sb, "migrated", None, "{}", FAST);
    vars.push_str("on_destroy = \"rollback\"\n");
    acc.ws().write_file("terraform.tfvars", &vars).unwrap();
    let mut config = example_config(EXAMPLE);
    if core.at_least(1, 14) {
        config.push_str(&abort_action(TO, sb.pg().port, &sb.haproxy.admin_socket()));
    }
    acc.apply(&config);
    assert_eq!(acc.values("kong_upgrade.this")["phase"], "migrated");
    acc
}

/// `kong migrations finish` run by hand with kongsim at the target version.
fn finish_by_hand(sb: &Sandbox, env: &[(&str, &str)]) {
    let out = testbed::kongsim::kongsim_cli(TO, sb.pg())
        .envs(env.iter().copied())
        .args(["migrations", "finish"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// 3.5.0 → 3.6.1: `up` leaves `opentelemetry/001_331_to_332` pending (the
/// upgrade journal records it). Abort is allowed then. Someone runs
/// `kong migrations finish` by hand, which the upgrade's checkpoint does not
/// see; Kong's records do: abort and `on_destroy = "rollback"` are refused,
/// naming the migration torn down, and nothing moves.
#[test]
fn rollback_is_refused_once_a_teardown_ran_since_up() {
    for core in support::versions() {
        let sb = Sandbox::traditional();
        let acc = migrated_with_rollback(core, &sb, &[]);
        assert_eq!(sb.pending(), "opentelemetry:001_331_to_332");
        if core.at_least(1, 14) {
            let allowed = acc.invoke("action.kong_abort.now");
            assert!(allowed.success(), "{allowed}");
            assert!(
                !flat(&allowed.to_string()).contains("schema_meta alone"),
                "{allowed}"
            );
        }

        finish_by_hand(&sb, &[]);
        assert_eq!(sb.pending(), "");
        let torn_down = "teardown since: opentelemetry: 001_331_to_332";
        if core.at_least(1, 14) {
            sb.set_haproxy_weight("y", 10);
            let refused = acc.invoke("action.kong_abort.now");
            assert!(!refused.success(), "{refused}");
            let text = flat(&refused.to_string());
            assert!(
                text.contains("Abort refused") && text.contains(torn_down),
                "{refused}"
            );
            assert_eq!(sb.haproxy_weight("y"), 10, "nothing moved");
        }
        let refused = acc.ws().destroy().unwrap_err().to_string();
        let text = flat(&refused);
        assert!(
            text.contains("Rollback refused: migrations finish has run")
                && text.contains(torn_down),
            "{refused}"
        );
        assert!(
            points_at(&refused, "on_destroy") || text.contains("on_destroy"),
            "{refused}"
        );
        assert_eq!(
            acc.ws().state_list().unwrap(),
            ["kong_upgrade.this"],
            "kept in state"
        );
    }
}

/// kongsim's 3.6.1 made to lack its one migration with a teardown: like
/// 3.5.0 → 3.6.0, `up` leaves nothing pending (recorded as such), so
/// schema_meta alone looks finished. The record says no teardown ran: abort
/// is allowed, before and after a `finish` that had nothing to do.
#[test]
fn abort_is_allowed_after_up_when_nothing_had_a_teardown() {
    let Some(core) = support::versions()
        .into_iter()
        .find(|core| core.at_least(1, 14))
    else {
        return;
    };
    let env = [(
        "KONGSIM_TEST_DROP_MIGRATIONS",
        "opentelemetry/001_331_to_332",
    )];
    let sb = Sandbox::traditional();
    let acc = migrated_with_rollback(core, &sb, &env);
    assert_eq!(sb.pending(), "", "{}", sb.schema_meta("kong"));
    for when in ["after up", "after a finish with nothing to do"] {
        sb.set_haproxy_weight("y", 10);
        let allowed = acc.invoke("action.kong_abort.now");
        assert!(allowed.success(), "{when}: {allowed}");
        assert_eq!(
            sb.haproxy_weight("y"),
            0,
            "{when}: all traffic back on X\n{allowed}"
        );
        finish_by_hand(&sb, &env);
    }
    acc.destroy();
}

/// A target the catalog does not know (a future release): without
/// `runner.discover`, the plan asks the target's own `kong migrations
/// status` through the runner instead of failing because it is new, lists
/// what Kong would run (here the newest known release's migrations plus
/// one only the future release has) and apply follows Kong's records.
/// kongsim serves such a version only when a test names the known
/// version standing in for it (see kongsim's README).
#[test]
fn a_version_the_catalog_does_not_know_is_asked_of_the_runner() {
    let pg = Postgres::start().unwrap();
    for core in support::versions() {
        let db = Db::for_core(&pg, "future", core);
        db.kong_outside("3.9.3", &["migrations", "bootstrap"]);
        let mut acc = Acceptance::new(core);
        acc.ws_mut()
            .set_env("KONGSIM_TEST_UNKNOWN_VERSION_AS", "3.9.3")
            .set_env("KONGSIM_TEST_EXTRA_MIGRATIONS", "core/400_399_to_3100");
        let up = phase("up", "up", "3.99.0", &db, core, "");
        acc.configure(&up);
        let plan = acc.ws().plan().unwrap();
        assert!(
            plan.stdout.contains("400_399_to_3100") && plan.stdout.contains("\"runner\""),
            "the plan lists what Kong 3.99.0 itself reports:\n{plan}"
        );
        acc.apply(&up);
        let values = acc.values("kong_migration_phase.up");
        assert_eq!(listed(&values), ["core:400_399_to_3100"]);
        assert_eq!(values["known_migrations_source"], "runner");
        assert!(
            db.schema_meta().contains("400_399_to_3100"),
            "{}",
            db.schema_meta()
        );
        acc.destroy();
    }
}
