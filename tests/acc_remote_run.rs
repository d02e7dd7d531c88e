//! Acceptance: `examples/upgrades/remote_run`, a dual-cluster upgrade as an
//! ephemeral runner does it. The kong CLI runs behind `env -i` (a boundary
//! that passes no environment on, like `kubectl exec`) with the settings
//! sent over stdin; the backup streams into an upload command (a directory
//! standing in for an object store) and is restored, checked, from a
//! download command in a later apply, after the Terraform working directory
//! was replaced by a brand-new one.

mod support;

use support::runbooks::{
    cluster_vars, create_orders_service, phase_vars, traffic_vars, FAST, NEW_DATABASE,
};
use support::upgrade::{
    example_config, far_side_kong, hcl_list, hcl_string, history_count, tfvars, Sandbox,
    CONFIG_TABLES, TO,
};
use support::{Acceptance, TerraformVersion};
use testbed::postgres::KONG_PASSWORD;

/// The example's variables; `store` is the "object store" the commands use.
fn remote_run_vars(
    sb: &Sandbox,
    store: &std::path::Path,
    far_kong: &str,
    (phase, weight_y): (&str, Option<u8>),
) -> String {
    let store = store.display();
    let mut vars = phase_vars(phase, weight_y);
    vars.extend(cluster_vars(sb));
    vars.extend(traffic_vars(sb, FAST));
    vars.extend([
        ("pg_host", hcl_string("127.0.0.1")),
        ("pg_port", sb.pg().port.to_string()),
        ("pg_password", hcl_string(KONG_PASSWORD)),
        ("pg_database", hcl_string("kong")),
        ("new_pg_host", hcl_string("127.0.0.1")),
        ("new_pg_port", sb.pg().port.to_string()),
        ("new_pg_password", hcl_string(KONG_PASSWORD)),
        ("new_pg_database", hcl_string(NEW_DATABASE)),
        (
            "kong_cli",
            hcl_list(&["env", "-i", "PATH=/usr/bin:/bin", far_kong]),
        ),
        (
            "backup_upload_command",
            hcl_list(&[
                "sh",
                "-c",
                &format!("cat > '{store}'/\"$KONG_BACKUP_NAME\""),
            ]),
        ),
        (
            "backup_download_command",
            hcl_list(&["sh", "-c", &format!("cat '{store}'/\"$KONG_BACKUP_NAME\"")]),
        ),
        (
            "start_y_command",
            hcl_list(&sb.start_y_on_database(NEW_DATABASE)),
        ),
    ]);
    tfvars(&vars)
}

fn remote_run(version: TerraformVersion) {
    let sb = Sandbox::traditional();
    create_orders_service(&sb.x.admin_url);
    sb.create_database(NEW_DATABASE);
    let x_rows = sb.rows_hash("kong", CONFIG_TABLES);
    let store = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let far_kong = far_side_kong(tools.path(), TO);
    let config = example_config("upgrades/remote_run");
    let mut acc = Acceptance::new(version);
    let apply_weighted = |acc: &mut Acceptance, phase: &str, weight_y: Option<u8>| {
        let vars = remote_run_vars(&sb, store.path(), &far_kong, (phase, weight_y));
        acc.ws().write_file("terraform.tfvars", &vars).unwrap();
        acc.apply(&config);
        let v = acc.values("kong_upgrade.this");
        assert_eq!(v["phase"], phase, "{v}");
        v
    };
    let apply = |acc: &mut Acceptance, phase: &str| apply_weighted(acc, phase, None);

    let v = apply(&mut acc, "prepared");
    let location = v["backup_location"].as_str().unwrap().to_owned();
    let name = location
        .strip_prefix("upload_command:")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("a command backup: {location}"));
    let stored = std::fs::read(store.path().join(name)).unwrap();
    let sha256 = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&stored))
    };
    assert!(
        location.ends_with(&format!("bytes={} sha256={sha256}", stored.len())),
        "backup_location records the size and sha256 of what was uploaded: {location}"
    );

    // A new machine: the old working directory is gone.
    let old_dir = acc.ws().dir().to_path_buf();
    let mut acc = acc.moved_to_a_new_directory();
    assert!(!old_dir.exists());

    let v = apply(&mut acc, "migrated");
    assert_eq!(
        history_count(&v["history"], "restore_new_database", "ok"),
        1,
        "{}",
        v["history"]
    );
    assert_eq!(
        sb.rows_hash(NEW_DATABASE, CONFIG_TABLES),
        x_rows,
        "the downloaded backup restored X's configuration into Y's database"
    );
    assert_eq!(
        sb.pending_in(NEW_DATABASE),
        "",
        "up and finish ran there, through env -i"
    );
    assert!(sb.schema_meta(NEW_DATABASE).contains("003_350_to_360"));
    assert_eq!(v["backup_location"], location.as_str());

    // The rest of the runbook, one target_phase per run.
    let v = apply_weighted(&mut acc, "serving", Some(50));
    assert_eq!(v["current_weight_y"], 50);
    let v = apply(&mut acc, "finished");
    assert_eq!(v["current_weight_y"], 100);
    apply(&mut acc, "completed");
    assert!(
        !support::upgrade::answers(&sb.x.admin_url),
        "X was decommissioned"
    );
}

#[test]
fn a_dual_cluster_upgrade_survives_a_new_working_directory_between_backup_and_restore() {
    for version in support::versions() {
        remote_run(version);
    }
}
