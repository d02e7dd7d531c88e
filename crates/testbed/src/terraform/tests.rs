//! The harness against the real cores in `.tools/bin` (installed by
//! `scripts/install-terraform.sh`).

use super::*;

const OUTPUT_ONLY_CONFIG: &str = r#"
locals {
  greeting = "hello"
}

output "greeting" {
  value = local.greeting
}
"#;

/// A resource whose create blocks in a provisioner, so an apply can be
/// interrupted while it is in flight (`terraform_data` needs 1.4+).
const SLOW_CREATE_CONFIG: &str = r#"
resource "terraform_data" "slow" {
  input = "x"

  provisioner "local-exec" {
    command = "sleep 30"
  }
}
"#;

fn os(keys: &[&str]) -> Vec<OsString> {
    keys.iter().map(OsString::from).collect()
}

#[test]
fn every_core_reports_its_version() {
    for version in TerraformVersion::all() {
        let ws = Workspace::without_provider(version).unwrap();
        let out = ws.run(&["version"]).unwrap();
        assert!(out.success(), "{out}");
        assert!(
            out.stdout.starts_with(&format!("Terraform v{version}\n")),
            "{out}"
        );
    }
}

#[test]
fn apply_then_plan_is_empty_and_show_json_and_output_read_the_state_on_every_core() {
    for version in TerraformVersion::all() {
        let ws = Workspace::without_provider(version).unwrap();
        ws.write_config(OUTPUT_ONLY_CONFIG).unwrap();
        ws.init().unwrap();
        assert!(
            !ws.plan_is_empty().unwrap(),
            "{version}: nothing applied yet"
        );
        ws.apply().unwrap();

        ws.expect_empty_plan().unwrap();
        assert_eq!(ws.output("greeting").unwrap(), "hello", "{version}");
        let state = ws.state_json().unwrap();
        assert_eq!(
            state["values"]["outputs"]["greeting"]["value"], "hello",
            "{version}: {state}"
        );
        assert_eq!(state["terraform_version"], version.as_str());
    }
}

#[test]
fn a_changed_configuration_makes_the_plan_non_empty_on_every_core() {
    for version in TerraformVersion::all() {
        let ws = Workspace::without_provider(version).unwrap();
        ws.write_config(OUTPUT_ONLY_CONFIG).unwrap();
        ws.init().unwrap();
        ws.apply().unwrap();
        ws.write_config(&OUTPUT_ONLY_CONFIG.replace("hello", "bye"))
            .unwrap();

        let err = ws.expect_empty_plan().unwrap_err();
        let TerraformError::PlanNotEmpty { output } = &err else {
            panic!("{version}: expected PlanNotEmpty, got {err}");
        };
        assert_eq!(output.exit_code(), Some(2));
        assert!(err.to_string().contains(r#""hello" -> "bye""#), "{err}");
    }
}

#[test]
fn a_failing_command_reports_terraforms_own_diagnostics_on_every_core() {
    for version in TerraformVersion::all() {
        let ws = Workspace::without_provider(version).unwrap();
        ws.write_config(r#"output "broken" { value = 1 + "one" }"#)
            .unwrap();
        ws.init().unwrap();

        let err = ws.apply().unwrap_err();
        let message = format!("{err:?}");
        assert!(matches!(err, TerraformError::Failed { .. }), "{message}");
        assert!(message.contains("Invalid operand"), "{message}");
        assert!(message.contains("--- stderr ---"), "{message}");

        let output = ws.apply_expect_error().unwrap();
        assert_eq!(output.exit_code(), Some(1), "{output}");
        assert!(output.stderr.contains("Invalid operand"), "{output}");
    }
}

#[test]
fn an_unexpected_success_is_an_error() {
    let ws = Workspace::without_provider(TerraformVersion::V1_0_3).unwrap();
    ws.write_config(OUTPUT_ONLY_CONFIG).unwrap();
    ws.init().unwrap();
    let err = ws.apply_expect_error().unwrap_err();
    assert!(
        matches!(err, TerraformError::UnexpectedSuccess { .. }),
        "{err}"
    );
}

#[test]
fn import_state_resource_and_destroy_work_with_a_builtin_resource() {
    let ws = Workspace::without_provider(TerraformVersion::V1_15_5).unwrap();
    ws.write_config("resource \"terraform_data\" \"imported\" {}\n")
        .unwrap();
    ws.init().unwrap();

    ws.import("terraform_data.imported", "some-id").unwrap();
    let resource = ws.state_resource("terraform_data.imported").unwrap();
    assert_eq!(resource["values"]["id"], "some-id", "{resource}");
    assert_eq!(ws.state_list().unwrap(), ["terraform_data.imported"]);

    let missing = ws.state_resource("terraform_data.other").unwrap_err();
    assert!(
        matches!(&missing, TerraformError::NotInState { present, .. } if present == &["terraform_data.imported"]),
        "{missing}"
    );

    ws.destroy().unwrap();
    assert!(ws.state_list().unwrap().is_empty());
}

#[test]
fn sigint_to_the_process_group_interrupts_an_apply_and_the_resource_stays_in_state() {
    // Proves that a terminal's Ctrl-C reaches Terraform's own signal handling
    // through the launcher of the embedded 1.15.5 core.
    let ws = Workspace::without_provider(TerraformVersion::V1_15_5).unwrap();
    ws.write_config(SLOW_CREATE_CONFIG).unwrap();
    ws.init().unwrap();

    let run = ws.spawn_apply_in_new_process_group().unwrap();
    run.wait_for_output("Executing:", Duration::from_secs(60))
        .unwrap();
    run.send_sigint_to_group().unwrap();
    let output = run.wait_with_timeout(Duration::from_secs(60)).unwrap();

    assert_eq!(output.exit_code(), Some(1), "{output}");
    assert!(output.stdout.contains("Interrupt received"), "{output}");
    let resource = ws.state_resource("terraform_data.slow").unwrap();
    assert_eq!(resource["tainted"], true, "{resource}");
}

#[test]
fn waiting_for_output_ends_when_terraform_exits_without_printing_it() {
    let ws = Workspace::without_provider(TerraformVersion::V1_0_3).unwrap();
    ws.write_config(r#"output "broken" { value = 1 + "one" }"#)
        .unwrap();
    ws.init().unwrap();

    let run = ws.spawn_apply_in_new_process_group().unwrap();
    let err = run
        .wait_for_output("never printed", Duration::from_secs(600))
        .unwrap_err();
    let TerraformError::OutputNotSeen { when, partial, .. } = &err else {
        panic!("expected OutputNotSeen, got {err}");
    };
    assert_eq!(when, "before terraform exited");
    assert!(partial.contains("exit status: 1"), "{partial}");
    assert!(partial.contains("Invalid operand"), "{partial}");
}

#[test]
fn dropping_a_background_run_kills_its_whole_process_group() {
    let ws = Workspace::without_provider(TerraformVersion::V1_15_5).unwrap();
    ws.write_config(SLOW_CREATE_CONFIG).unwrap();
    ws.init().unwrap();

    let run = ws.spawn_apply_in_new_process_group().unwrap();
    run.wait_for_output("Executing:", Duration::from_secs(60))
        .unwrap();
    let pgid = run.pid();
    assert!(!live_members_of_group(pgid).is_empty());
    drop(run);

    // SIGKILL is asynchronous: give the kernel a moment to finish the job.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !live_members_of_group(pgid).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(live_members_of_group(pgid), Vec::<u32>::new());
}

/// Processes in group `pgid` that are not zombies (this machine's init may
/// reap orphans late, and a zombie is dead already).
fn live_members_of_group(pgid: u32) -> Vec<u32> {
    let mut live = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, pgrp, ...
        let Some(rest) = stat.rsplit_once(") ").map(|(_, rest)| rest) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2) == Some(&pgid.to_string().as_str()) && fields.first() != Some(&"Z") {
            live.push(pid);
        }
    }
    live
}

#[test]
fn a_command_past_its_timeout_is_killed_and_reported() {
    let mut ws = Workspace::without_provider(TerraformVersion::V1_15_5).unwrap();
    ws.write_config(&SLOW_CREATE_CONFIG.replace("sleep 30", "sleep 3"))
        .unwrap();
    ws.init().unwrap();
    ws.set_command_timeout(Duration::from_millis(300));

    let err = ws.apply().unwrap_err();
    assert!(matches!(err, TerraformError::TimedOut { .. }), "{err}");
}

#[test]
fn the_log_goes_to_the_workspace_file_not_to_stderr() {
    let mut ws = Workspace::without_provider(TerraformVersion::V1_0_3).unwrap();
    ws.enable_log("DEBUG");
    let out = ws.run(&["version"]).unwrap();
    assert!(!out.stderr.contains("[DEBUG]"), "{out}");
    assert!(ws
        .read_log()
        .unwrap()
        .contains("[INFO]  Terraform version: 1.0.3"));
}

#[test]
fn settings_from_the_developers_shell_are_dropped_but_logging_passes_through() {
    let dropped = variables_to_drop(
        os(&[
            "TF_CLI_CONFIG_FILE",
            "TF_PLUGIN_CACHE_DIR",
            "TF_REATTACH_PROVIDERS",
            "TF_VAR_token",
            "TF_LOG_PATH",
            "KONG_ADMIN_TOKEN",
            "TF_LOG",
            "TF_LOG_PROVIDER",
            "TF_ACC",
            "TF_ACC_TERRAFORM_1_0_3",
            "PATH",
            "HOME",
        ])
        .into_iter(),
    );
    assert_eq!(
        dropped,
        os(&[
            "TF_CLI_CONFIG_FILE",
            "TF_PLUGIN_CACHE_DIR",
            "TF_REATTACH_PROVIDERS",
            "TF_VAR_token",
            "TF_LOG_PATH",
            "KONG_ADMIN_TOKEN",
        ])
    );
}

#[test]
fn versions_parse_compare_and_name_their_override_variable() {
    assert_eq!(
        TerraformVersion::parse("1.0.3").unwrap(),
        TerraformVersion::V1_0_3
    );
    assert!(matches!(
        TerraformVersion::parse("0.12.31"),
        Err(TerraformError::UnknownVersion(v)) if v == "0.12.31"
    ));
    assert!(TerraformVersion::V1_15_5.at_least(1, 11));
    assert!(!TerraformVersion::V1_0_3.at_least(1, 8));
    assert!(TerraformVersion::V1_0_3.at_least(1, 0));
    assert_eq!(
        TerraformVersion::V1_15_5.override_variable(),
        "TF_ACC_TERRAFORM_1_15_5"
    );
}

#[test]
fn the_mirror_cli_config_installs_only_the_provider_under_test_from_the_mirror() {
    let config = cli_config(Path::new("/tmp/m \"q\""));
    assert!(config.contains(r#"path    = "/tmp/m \"q\"""#), "{config}");
    assert!(config.contains(r#"include = ["registry.terraform.io/kong-upgrades/kong"]"#));
    assert!(config.contains(r#"exclude = ["registry.terraform.io/kong-upgrades/kong"]"#));
    assert!(!config.contains("plugin_cache_dir"));
}

#[test]
fn provider_version_is_the_root_crates_package_version() {
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let package = manifest.split("[package]").nth(1).unwrap();
    let version_line = package.lines().find(|l| l.starts_with("version")).unwrap();
    assert_eq!(version_line, format!("version = \"{PROVIDER_VERSION}\""));
}

#[test]
fn init_installs_the_built_provider_from_the_mirror_on_every_core() {
    let provider = provider_binary().unwrap();
    for version in TerraformVersion::all() {
        let ws = Workspace::new(version, &provider).unwrap();
        ws.write_config(&required_providers_hcl()).unwrap();

        let out = ws.init().unwrap();
        assert!(
            out.stdout
                .contains("Installed kong-upgrades/kong v0.1.0 (unauthenticated)"),
            "{out}"
        );
        let lock = std::fs::read_to_string(ws.dir().join(".terraform.lock.hcl")).unwrap();
        assert!(
            lock.contains("provider \"registry.terraform.io/kong-upgrades/kong\""),
            "{lock}"
        );
        assert!(lock.contains("version     = \"0.1.0\""), "{lock}");
    }
}

#[test]
fn the_mirrored_provider_is_a_cached_copy_without_debug_info() {
    let provider = provider_binary().unwrap();
    let first = without_debug_info(&provider);
    let second = without_debug_info(&provider);
    assert_ne!(first, provider, "objcopy should have produced a copy");
    assert_eq!(first, second, "one copy per build");
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(size(&first) < size(&provider));
}

#[test]
fn processes_stripping_one_build_at_once_share_the_first_copy() {
    use std::os::unix::fs::MetadataExt;
    // A build nobody has stripped yet: a fresh copy of a small executable.
    let dir = tempfile::tempdir().unwrap();
    let build = dir.path().join("fresh-build");
    std::fs::copy("/bin/true", &build).unwrap();
    let start = std::sync::Arc::new(std::sync::Barrier::new(4));
    let strippers: Vec<_> = (0..4)
        .map(|_| {
            let (start, build) = (start.clone(), build.clone());
            std::thread::spawn(move || {
                start.wait();
                let copy = without_debug_info(&build);
                let inode = std::fs::metadata(&copy).unwrap().ino();
                std::thread::sleep(Duration::from_millis(200));
                (copy.clone(), inode, std::fs::metadata(&copy).unwrap().ino())
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|s| s.join().unwrap())
        .collect::<Vec<_>>();
    let first = &strippers[0];
    assert_ne!(first.0, build, "objcopy should have produced a copy");
    for (copy, inode_then, inode_later) in &strippers {
        assert_eq!(copy, &first.0);
        assert_eq!(
            (inode_then, inode_later),
            (&first.1, &first.1),
            "{strippers:?}"
        );
    }
    let _ = std::fs::remove_file(&first.0);
}
