//! Acceptance: `kong_migration_phase` decides from what Kong records, not
//! from the embedded catalog, and takes the provider's upgrade lock. Real
//! Terraform (1.15.5 and 1.0.3), kongsim's `kong migrations` (the project's
//! Kong stand-in) and a real PostgreSQL.

mod support;

use std::time::{Duration, Instant};
use support::phase::{listed, mentions, phase, Db};
use support::Acceptance;
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
