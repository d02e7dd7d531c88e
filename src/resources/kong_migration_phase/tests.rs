//! Unit tests of the resource's settings, IDs and plan decisions.

use super::*;
use crate::migrations::{KnownMigration, KnownSource, KnownSubsystem, SubsystemRow};

#[test]
fn import_ids_round_trip_through_the_id_attribute() {
    for id in [
        "db.internal:5432/kong/up@3.6.1",
        "10.0.0.7:6432/kong_prod/kong_s/finish@3.4.2",
        "[::1]:5432/kong/bootstrap@3.4.2",
    ] {
        let target = parse_import_id(id).unwrap();
        let state = imported_state(&target).unwrap();
        assert_eq!(state.attr("id").as_str(), Some(id), "{id}");
    }
    let t = parse_import_id("[::1]:5432/kong/bootstrap@3.4.2").unwrap();
    assert_eq!(
        (t.host.as_str(), t.port, t.phase),
        ("::1", 5432, MigrationPhase::Bootstrap)
    );
}

#[test]
fn bad_import_ids_say_what_is_expected() {
    for id in [
        "kong/up@3.6.1",
        "db:5432/kong/up",
        "db:0/kong/up@3.6.1",
        "db:5432/kong/reset@3.6.1",
        "db:5432/up@3.6.1",
        "db:5432/kong/up@three",
    ] {
        let e = parse_import_id(id).unwrap_err();
        assert!(
            e.contains("expected host:port/database/phase@target_version"),
            "{id}: {e}"
        );
    }
}

#[test]
fn the_id_follows_the_configuration_with_kong_defaults() {
    let state = imported_state(&parse_import_id("db:5432/kong/up@3.6.1").unwrap()).unwrap();
    let mut config = state.clone();
    let mut db = config.attr("database").clone();
    db.set_attr("port", Value::Null);
    db.set_attr("database", Value::Null);
    config.set_attr("database", db.clone());
    assert_eq!(id_of(&config).as_deref(), Some("db:5432/kong/up@3.6.1"));
    db.set_attr("host", Value::Unknown);
    config.set_attr("database", db);
    assert_eq!(id_of(&config), None, "unknown while the host is");
}

fn known() -> KnownMigrations {
    let subsystem = |name: &str, names: &[(&str, bool)]| KnownSubsystem {
        name: name.into(),
        migrations: names
            .iter()
            .map(|(n, t)| KnownMigration {
                name: (*n).into(),
                has_teardown: Some(*t),
            })
            .collect(),
    };
    KnownMigrations {
        kong_version: "3.6.1".into(),
        subsystems: vec![
            subsystem("core", &[("000", false), ("022", false)]),
            subsystem("acme", &[("003", true)]),
        ],
        source: KnownSource::Catalog {
            provenance: "test".into(),
        },
    }
}

fn row(subsystem: &str, last: &str, executed: &[&str], pending: &[&str]) -> SubsystemRow {
    SubsystemRow {
        subsystem: subsystem.into(),
        last_executed: Some(last.into()),
        executed: executed.iter().map(|s| (*s).into()).collect(),
        pending: pending.iter().map(|s| (*s).into()).collect(),
    }
}

#[test]
fn a_phase_result_holds_until_its_own_work_is_undone() {
    let known = known();
    let fresh = classify(
        &SchemaMeta {
            needs_bootstrap: true,
            ..Default::default()
        },
        &known,
    );
    let at_34 = classify(
        &SchemaMeta {
            subsystems: vec![row("core", "000", &["000"], &[])],
            ..Default::default()
        },
        &known,
    );
    let after_up = classify(
        &SchemaMeta {
            subsystems: vec![
                row("core", "022", &["000", "022"], &[]),
                row("acme", "", &[], &["003"]),
            ],
            ..Default::default()
        },
        &known,
    );
    let finished = classify(
        &SchemaMeta {
            subsystems: vec![
                row("core", "022", &["000", "022"], &[]),
                row("acme", "003", &["003"], &[]),
            ],
            ..Default::default()
        },
        &known,
    );
    use MigrationPhase::{Bootstrap, Finish, Up};
    assert!(!result_holds(Bootstrap, &fresh));
    assert!(result_holds(Bootstrap, &at_34));
    assert!(!result_holds(Up, &at_34), "restored to before the up");
    assert!(result_holds(Up, &after_up));
    assert!(
        result_holds(Up, &finished),
        "a finish after the up is progress, not drift"
    );
    assert!(!result_holds(Finish, &after_up));
    assert!(result_holds(Finish, &finished));
}

#[test]
fn schema_attributes_match_what_plan_and_apply_write() {
    let ty = schema().value_type();
    let Type::Object(attrs) = ty else {
        panic!("object")
    };
    assert_eq!(attrs["migrations_to_run"], migrations_type());
    let list = encode_migrations(&[]);
    assert_eq!(list, Value::List(vec![]));
    assert!(tfplug::value::to_msgpack(&list, &migrations_type()).is_ok());
}

#[test]
fn configuration_checks_point_at_the_attribute() {
    let mut config = Value::from_json(&serde_json::json!({}), &schema().value_type()).unwrap();
    config.set_attr("phase", "reset".into());
    config.set_attr("target_version", "three.six".into());
    config.set_attr("lock_timeout", Value::from(0i64));
    let paths: Vec<String> = validate_config(&config, true)
        .iter()
        .filter_map(|d| d.path.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(paths, ["phase", "target_version", "lock_timeout"]);
}
