//! One row per planner rule, written as data.
//!
//! `given` adjusts the baseline (see `baseline()`); `expect` is a list of
//! `;`-separated clauses, all of which must hold:
//! - `error FIELD CODE`: the errors, all of them (order-free);
//! - `warn CODE` / `nowarn CODE`: a warning is / is not present;
//! - `steps a,b,c`: exactly these step ids, in order; `first a,b`: a prefix;
//! - `action ID TEXT` / `why ID TEXT`: the planned step ID's one-line
//!   description / reason contains TEXT;
//! - `says TEXT`: some error or warning message contains TEXT;
//! - `downtime START..END`: the downtime window (`-` for none);
//! - `phase NAME`: the phase the upgrade stands at before the plan.
//!
//! With no `error` clause the plan must succeed.

use super::*;

struct Case {
    rule: &'static str,
    given: &'static str,
    expect: &'static str,
}

const BG_ALL: &str = "freeze,backup,migrations_up,start_y,wait_ready_y,verify_freeze_before_cutover,staging_tests,shift_traffic_to_10,shift_traffic_to_50,shift_traffic_to_100,verify_freeze_before_finish,migrations_finish,decommission_x,complete";

#[rustfmt::skip]
const CASES: &[Case] = &[
    // ── upgrade paths ──────────────────────────────────────────────────
    Case { rule: "patch to patch is supported",
        given: "from=3.9.2 to=3.9.3",
        expect: "first freeze,backup" },
    Case { rule: "same version: nothing to do",
        given: "from=3.9.3 to=3.9.3",
        expect: "steps ; warn nothing_to_do" },
    Case { rule: "downgrades are refused",
        given: "dual_cluster second_db from=3.9.3 to=3.9.2",
        expect: "error to_version downgrade; says cannot be reversed" },
    Case { rule: "2.6 to 3.4 goes through 2.8.x",
        given: "dual_cluster second_db from=2.6.0 to=3.4.2",
        expect: "error to_version unsupported_path; says 2.6.0 → 3.4.2 is not a supported upgrade path: go through 2.8.x first" },
    Case { rule: "2.7 to 3.0 goes through 2.8.1+",
        given: "dual_cluster second_db from=2.7.0 to=3.0.0",
        expect: "error to_version unsupported_path; says go through 2.8.x (2.8.1 or later) first" },
    Case { rule: "3.1 from 2.8 goes through 3.0",
        given: "dual_cluster second_db from=2.8.4 to=3.1.0",
        expect: "error to_version unsupported_path; says go through 3.0.x first" },
    Case { rule: "1.x goes through 2.1 and 2.8 before 3.x",
        given: "dual_cluster second_db from=1.5.0 to=3.4.2",
        expect: "error to_version unsupported_path; says go through 2.1.x, then 2.8.x first" },
    Case { rule: "accept_unsupported_path skips stops above the migration floor",
        given: "dual_cluster second_db from=3.4.2 to=3.6.0 accept",
        expect: "warn unsupported_path_accepted; first freeze" },
    Case { rule: "accept_unsupported_path cannot go below the migration floor",
        given: "dual_cluster second_db from=2.0.0 to=3.0.0 accept",
        expect: "error to_version unsupported_path; says only accept databases from 2.1.0 or later" },
    Case { rule: "no documented path",
        given: "dual_cluster second_db from=3.9.3 to=4.0.0",
        expect: "error to_version no_documented_path" },
    Case { rule: "LTS pairs are supported, with a note",
        given: "dual_cluster second_db from=3.4.3.5 to=3.10.0.1",
        expect: "warn lts_jump; first freeze" },
    Case { rule: "3.10+ without a build number is flagged Enterprise-only",
        given: "dual_cluster second_db from=3.9.3 to=3.10.0",
        expect: "warn enterprise_only_release" },
    Case { rule: "a 3.1 stop in hybrid mode should be 3.1.1.3+",
        given: "dual_cluster second_db from=2.8.4 to=3.2.0 accept",
        expect: "warn hybrid_protocol_3_1_1_3; warn unsupported_path_accepted" },
    Case { rule: "a community deployment cannot go to 3.10+",
        given: "dual_cluster second_db edition=community from=3.9.3 to=3.10.0.1",
        expect: "error to_version enterprise_only_target; says OSS, which stops at 3.9.3" },
    // ── databases and deployment kinds ─────────────────────────────────
    Case { rule: "Cassandra is refused for 3.x targets",
        given: "dual_cluster second_db db=cassandra from=2.8.4 to=3.4.2",
        expect: "error to_version cassandra_unsupported" },
    Case { rule: "Cassandra stays allowed within 2.x",
        given: "dual_cluster second_db db=cassandra from=2.8.3 to=2.8.4",
        expect: "first freeze,backup,restore_new_database" },
    Case { rule: "DB-less nodes are upgraded with rolling only",
        given: "blue_green db=off",
        expect: "error strategy rolling_only; says a DB-less node" },
    Case { rule: "data planes are upgraded with rolling only",
        given: "in_place downtime role=data_plane db=off cp=3.9.3",
        expect: "error strategy rolling_only" },
    Case { rule: "rolling is refused for a traditional node with a database",
        given: "rolling",
        expect: "error strategy rolling_needs_dbless" },
    Case { rule: "rolling is refused for a control plane",
        given: "rolling role=control_plane",
        expect: "error strategy rolling_needs_dbless; says a hybrid control plane" },
    // ── hybrid mode ────────────────────────────────────────────────────
    Case { rule: "a data plane may not pass its control plane's minor",
        given: "rolling role=data_plane db=off cp=3.8.1 from=3.8.0 to=3.9.0",
        expect: "error to_version data_plane_ahead_of_control_plane; says data plane version 3.9.0 is incompatible with older control plane version 3.8.1" },
    Case { rule: "a data plane's major must match its control plane's",
        given: "rolling role=data_plane db=off cp=2.8.4 from=2.8.3 to=3.0.0",
        expect: "error to_version data_plane_major_mismatch; says (2.x.y are accepted)" },
    Case { rule: "a data plane may catch up with its control plane (newer patch is fine)",
        given: "rolling role=data_plane db=off cp=3.9.1 from=3.8.1 to=3.9.3",
        expect: "steps freeze,backup,start_y,wait_ready_y,verify_freeze_before_cutover,staging_tests,shift_traffic_to_10,shift_traffic_to_50,shift_traffic_to_100,verify_freeze_before_finish,cutover_confirmed,verify_freeze_before_decommission,decommission_x,complete" },
    Case { rule: "a data-plane upgrade without the control plane's version warns",
        given: "rolling role=data_plane db=off",
        expect: "warn control_plane_version_unknown" },
    Case { rule: "a control plane goes to 3.x only when data planes are on 2.8",
        given: "dual_cluster second_db role=control_plane from=2.8.4 to=3.4.2 dps=2.8.4,2.6.0",
        expect: "error to_version data_planes_below_2_8; says found 2.6.0" },
    Case { rule: "2.8 data planes disconnect from a 3.x control plane until upgraded",
        given: "dual_cluster second_db role=control_plane from=2.8.4 to=3.4.2 dps=2.8.4",
        expect: "warn data_planes_disconnect" },
    Case { rule: "older-minor data planes are fine but temporary",
        given: "dual_cluster second_db role=control_plane from=3.8.1 to=3.9.0 dps=3.8.1,3.7.0",
        expect: "warn data_planes_older_minor; says 3.8.1, 3.7.0" },
    // ── blue-green ─────────────────────────────────────────────────────
    Case { rule: "blue-green to 3.x needs X on 2.8.2+ in traditional mode",
        given: "from=2.8.1 to=3.4.2 accept",
        expect: "error strategy blue_green_needs_2_8_2; says X runs 2.8.1" },
    Case { rule: "blue-green across a major/LTS jump is refused by default",
        given: "from=2.8.2 to=3.4.2",
        expect: "error strategy blue_green_major_jump" },
    Case { rule: "blue-green across a major/LTS jump with accept_unsupported_path",
        given: "from=2.8.2 to=3.4.2 accept",
        expect: "warn blue_green_jump_accepted; warn lts_jump" },
    Case { rule: "the 2.8.2 minimum is for traditional mode only",
        given: "role=control_plane from=2.8.1 to=3.0.0 accept",
        expect: "warn blue_green_jump_accepted" },
    Case { rule: "blue-green for a minor jump warns",
        given: "from=3.8.1 to=3.9.0",
        expect: "warn blue_green_minor_jump" },
    Case { rule: "blue-green steps follow Kong's runbook",
        given: "",
        expect: "steps freeze,backup,migrations_up,start_y,wait_ready_y,verify_freeze_before_cutover,staging_tests,shift_traffic_to_10,shift_traffic_to_50,shift_traffic_to_100,verify_freeze_before_finish,migrations_finish,decommission_x,complete; downtime -" },
    // ── in-place ───────────────────────────────────────────────────────
    Case { rule: "in-place needs allow_downtime",
        given: "in_place",
        expect: "error allow_downtime downtime_not_acknowledged" },
    Case { rule: "in-place steps, and where downtime starts and ends",
        given: "in_place downtime no_staging hooks=stop_x,start_y",
        expect: "steps freeze,backup,verify_freeze_before_stop_x,stop_x,migrations_up,migrations_finish,start_y,wait_ready_y,decommission_x,complete; downtime stop_x..wait_ready_y; nowarn manual_step_in_downtime" },
    Case { rule: "in-place without hooks waits inside the downtime window",
        given: "in_place downtime no_staging target=migrated",
        expect: "warn manual_step_in_downtime; says stop_x, start_y" },
    Case { rule: "in-place cannot run staging tests",
        given: "in_place downtime",
        expect: "warn staging_tests_skipped_in_place" },
    Case { rule: "in-place has no traffic split",
        given: "in_place downtime target=serving:50",
        expect: "error weight_y in_place_no_traffic_split" },
    Case { rule: "in-place resumes inside its downtime window",
        given: "in_place downtime no_staging done=@prepared,stop_x",
        expect: "steps migrations_up,migrations_finish,start_y,wait_ready_y,decommission_x,complete; downtime -..wait_ready_y; phase prepared" },
    Case { rule: "in-place rollback before finish starts X again",
        given: "in_place downtime no_staging hooks=start_x done=@prepared,stop_x,migrations_up target=prepared",
        expect: "steps start_x; downtime -..start_x; warn rollback_keeps_migrations" },
    Case { rule: "in-place after finish cannot go back",
        given: "in_place downtime no_staging done=@prepared,stop_x,migrations_up,migrations_finish,start_y,wait_ready_y target=prepared backup_at=/backups/kong-3.9.2.dump",
        expect: "error target_phase no_way_back_after_finish; says restoring the backup (taken at /backups/kong-3.9.2.dump)" },
    // ── dual-cluster ───────────────────────────────────────────────────
    Case { rule: "dual-cluster needs a second database",
        given: "dual_cluster",
        expect: "error new_database second_database_missing" },
    Case { rule: "dual-cluster splits database-backed counters",
        given: "dual_cluster second_db counters=rate-limiting-advanced vitals",
        expect: "warn counters_split; says rate-limiting-advanced, Vitals" },
    Case { rule: "dual-cluster steps follow Kong's runbook",
        given: "dual_cluster second_db",
        expect: "steps freeze,backup,restore_new_database,migrations_up,migrations_finish,start_y,wait_ready_y,verify_freeze_before_cutover,staging_tests,shift_traffic_to_10,shift_traffic_to_50,shift_traffic_to_100,verify_freeze_before_finish,cutover_confirmed,verify_freeze_before_decommission,decommission_x,complete" },
    Case { rule: "dual-cluster can roll back after finishing (X's database untouched)",
        given: "dual_cluster second_db done=@dual_finished weight=100 target=migrated",
        expect: "steps traffic_back_to_x; nowarn rollback_keeps_migrations" },
    Case { rule: "no rollback once X is decommissioned",
        given: "dual_cluster second_db done=@dual_completed weight=100 target=serving:50",
        expect: "error target_phase x_decommissioned" },
    // ── options ────────────────────────────────────────────────────────
    Case { rule: "without backup, the plan warns and skips it",
        given: "no_backup target=migrated",
        expect: "steps freeze,migrations_up,start_y,wait_ready_y; warn no_backup" },
    Case { rule: "first traffic without staging tests warns",
        given: "no_staging target=serving:10",
        expect: "first freeze,backup,migrations_up,start_y,wait_ready_y,verify_freeze_before_cutover,shift_traffic_to_10; warn no_staging_tests" },
    Case { rule: "traffic steps must be increasing percentages",
        given: "steps=50,10",
        expect: "error traffic.steps invalid_traffic_steps" },
    Case { rule: "moving traffic needs a traffic block",
        given: "no_traffic target=serving:10",
        expect: "error traffic traffic_not_configured" },
    Case { rule: "with traffic_split_id, first traffic is a verification of the split, gates run after it moved",
        given: "split done=@bg_migrated target=serving:50",
        expect: "steps verify_freeze_before_cutover,staging_tests,shift_traffic_to_50; \
                 action shift_traffic_to_50 verify that the kong_traffic_split (traffic_split_id) gives Y 50% of traffic; \
                 why staging_tests has already sent Y its first traffic; why verify_freeze_before_cutover only setting the split's weight_y = 0" },
    Case { rule: "with traffic_split_id, finishing verifies 100 % on Y first",
        given: "split done=@bg_migrated weight=50 target=finished",
        expect: "steps shift_traffic_to_100,verify_freeze_before_finish,migrations_finish; \
                 action shift_traffic_to_100 gives Y 100%; why verify_freeze_before_finish no way back to X" },
    Case { rule: "with traffic_split_id, a rollback waits for the split to be set to 0",
        given: "split done=@bg_migrated weight=50 target=migrated",
        expect: "steps traffic_back_to_x; warn rollback_keeps_migrations; \
                 action traffic_back_to_x verify that the kong_traffic_split (traffic_split_id) sends all traffic back to X" },
    Case { rule: "the upgrade's own traffic block moves traffic",
        given: "done=@bg_migrated target=serving:50",
        expect: "action shift_traffic_to_50 send 50% of traffic to Y; why staging_tests exercise Y with the same requests" },
    Case { rule: "phases without traffic need no traffic block",
        given: "no_traffic target=migrated",
        expect: "steps freeze,backup,migrations_up,start_y,wait_ready_y" },
    Case { rule: "hooks must name a step of the strategy",
        given: "hooks=stop_x",
        expect: "error hooks unknown_hook; says known hooks: start_y, decommission_x" },
    Case { rule: "before_/after_ hooks run around their step",
        given: "hooks=before_migrations_finish,after_migrations_up target=finished done=@prepared",
        expect: "steps migrations_up,hook_after_migrations_up,start_y,wait_ready_y,verify_freeze_before_cutover,staging_tests,shift_traffic_to_10,shift_traffic_to_50,shift_traffic_to_100,verify_freeze_before_finish,hook_before_migrations_finish,migrations_finish" },
    // ── phases ─────────────────────────────────────────────────────────
    Case { rule: "target_phase is one of the five phases",
        given: "target=halfway",
        expect: "error target_phase invalid_target_phase" },
    Case { rule: "serving needs a weight",
        given: "target=serving",
        expect: "error weight_y invalid_target_phase" },
    Case { rule: "prepared: freeze and back up",
        given: "target=prepared",
        expect: "steps freeze,backup; phase not_started" },
    Case { rule: "migrated after prepared",
        given: "done=@prepared target=migrated",
        expect: "steps migrations_up,start_y,wait_ready_y; phase prepared" },
    Case { rule: "serving steps through the traffic steps, gates only at first traffic",
        given: "done=@bg_migrated weight=10 target=serving:75",
        expect: "steps shift_traffic_to_50,shift_traffic_to_75; phase serving" },
    Case { rule: "lowering weight_y before finish is a partial rollback",
        given: "done=@bg_migrated weight=50 target=serving:10",
        expect: "steps shift_traffic_to_10; warn rollback_keeps_migrations" },
    Case { rule: "moving back to migrated sends all traffic to X",
        given: "done=@bg_migrated weight=50 target=migrated",
        expect: "steps traffic_back_to_x; warn rollback_keeps_migrations" },
    Case { rule: "after finish, going back to serving is refused",
        given: "done=@bg_finished weight=100 target=serving:50",
        expect: "error target_phase no_way_back_after_finish; says location not recorded" },
    Case { rule: "after finish, target_phase cannot move back",
        given: "done=@bg_finished weight=100 target=migrated backup_at=/b/kong.dump",
        expect: "error target_phase no_way_back_after_finish; says /b/kong.dump" },
    Case { rule: "finished ramps to 100 first, then verifies the freeze",
        given: "done=@bg_migrated weight=50 target=finished",
        expect: "steps shift_traffic_to_100,verify_freeze_before_finish,migrations_finish" },
    Case { rule: "an interrupted apply resumes after the last completed step",
        given: "done=freeze,backup,migrations_up",
        expect: "first start_y,wait_ready_y" },
    Case { rule: "a finished upgrade is not finished again",
        given: "done=@bg_finished weight=100 target=completed",
        expect: "steps decommission_x,complete; phase finished" },
    Case { rule: "a completed upgrade plans nothing",
        given: "done=@bg_completed weight=100",
        expect: "steps ; phase completed" },
    // ── destroy ────────────────────────────────────────────────────────
    Case { rule: "destroying an upgrade in progress is refused by default",
        given: "done=@bg_migrated weight=50 destroy=refuse",
        expect: "error on_destroy destroy_unfinished; says stands at serving (50% on Y)" },
    Case { rule: "on_destroy = rollback sends traffic back to X",
        given: "done=@bg_migrated weight=50 destroy=rollback",
        expect: "steps traffic_back_to_x" },
    Case { rule: "on_destroy = rollback is refused after finish",
        given: "done=@bg_finished weight=100 destroy=rollback",
        expect: "error on_destroy no_way_back_after_finish" },
    Case { rule: "destroying a prepared upgrade only ends the freeze",
        given: "done=@prepared destroy=refuse",
        expect: "steps ; warn destroy_ends_freeze" },
    Case { rule: "destroying a completed upgrade does nothing",
        given: "done=@bg_completed weight=100 destroy=refuse",
        expect: "steps ; nowarn destroy_ends_freeze" },
];

#[test]
fn every_rule_row_holds() {
    let mut failures = Vec::new();
    for case in CASES {
        if let Err(why) = check(case) {
            failures.push(format!(
                "{}\n    given: {}\n    {why}",
                case.rule, case.given
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check(case: &Case) -> Result<(), String> {
    let (input, call) = given(case.given);
    let result = input
        .map_err(|err| vec![err])
        .and_then(|input| run(&input, &call));
    let clauses: Vec<(&str, &str)> = case
        .expect
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| c.split_once(' ').unwrap_or((c, "")))
        .collect();
    let expected_errors: Vec<String> = clauses
        .iter()
        .filter(|(verb, _)| *verb == "error")
        .map(|(_, rest)| rest.to_string())
        .collect();
    let (plan, messages) = match &result {
        Ok(plan) => (
            Some(plan),
            plan.warnings.iter().map(|w| w.message.clone()).collect(),
        ),
        Err(errors) => (
            None,
            errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>(),
        ),
    };
    match &result {
        Err(errors) => {
            let mut found: Vec<String> = errors
                .iter()
                .map(|e| format!("{} {}", e.field.attribute(), e.code))
                .collect();
            let mut wanted = expected_errors.clone();
            found.sort();
            wanted.sort();
            if found != wanted {
                return Err(format!("errors {found:?}, wanted {wanted:?}: {messages:?}"));
            }
        }
        Ok(_) if !expected_errors.is_empty() => {
            return Err(format!("planned fine, wanted errors {expected_errors:?}"));
        }
        Ok(_) => {}
    }
    for (verb, rest) in clauses {
        check_clause(verb, rest, plan, &messages)?;
    }
    Ok(())
}

fn check_clause(
    verb: &str,
    rest: &str,
    plan: Option<&Plan>,
    messages: &[String],
) -> Result<(), String> {
    let needs_plan =
        || plan.ok_or_else(|| format!("`{verb} {rest}` needs a plan, got errors {messages:?}"));
    match verb {
        "error" => Ok(()),
        "says" => messages
            .iter()
            .any(|m| m.contains(rest))
            .then_some(())
            .ok_or_else(|| format!("no message says {rest:?}: {messages:?}")),
        "warn" | "nowarn" => {
            let plan = needs_plan()?;
            let present = plan.warnings.iter().any(|w| w.code.as_str() == rest);
            (present == (verb == "warn"))
                .then_some(())
                .ok_or_else(|| format!("{verb} {rest}: warnings {:?}", codes(plan)))
        }
        "steps" | "first" => {
            let plan = needs_plan()?;
            let wanted: Vec<String> = expand(rest);
            let got = ids(&plan.steps);
            let ok = if verb == "steps" {
                got == wanted
            } else {
                got.starts_with(&wanted)
            };
            ok.then_some(())
                .ok_or_else(|| format!("{verb}: got {got:?}, wanted {wanted:?}"))
        }
        "downtime" => {
            let plan = needs_plan()?;
            let got = match &plan.downtime {
                None => "-".to_string(),
                Some(w) => format!(
                    "{}..{}",
                    w.starts_at.as_ref().map_or("-", |id| id.as_str()),
                    w.ends_after.as_ref().map_or("-", |id| id.as_str())
                ),
            };
            (got == rest)
                .then_some(())
                .ok_or_else(|| format!("downtime {got}, wanted {rest}"))
        }
        "action" | "why" => {
            let plan = needs_plan()?;
            let (id, text) = rest.split_once(' ').unwrap_or((rest, ""));
            let step = plan
                .steps
                .iter()
                .find(|step| step.id.as_str() == id)
                .ok_or_else(|| format!("{verb}: no step {id} in {:?}", ids(&plan.steps)))?;
            let said = if verb == "action" {
                step.describe()
            } else {
                step.why.clone()
            };
            said.contains(text)
                .then_some(())
                .ok_or_else(|| format!("{verb} of {id} is {said:?}, wanted {text:?}"))
        }
        "phase" => {
            let plan = needs_plan()?;
            (plan.current_phase.name() == rest)
                .then_some(())
                .ok_or_else(|| format!("phase {}, wanted {rest}", plan.current_phase))
        }
        other => Err(format!("unknown clause {other:?}")),
    }
}

fn codes(plan: &Plan) -> Vec<&'static str> {
    plan.warnings.iter().map(|w| w.code.as_str()).collect()
}

/// Every error and warning code has at least one row: a rule without a
/// row is a rule nobody checked.
#[test]
fn every_code_has_a_row() {
    let expectations: Vec<&str> = CASES.iter().map(|case| case.expect).collect();
    let mentioned = |code: &str| {
        expectations.iter().any(|expect| {
            expect
                .split(';')
                .any(|clause| clause.trim().split(' ').any(|word| word == code))
        })
    };
    let missing: Vec<&str> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .chain(WarningCode::ALL.iter().map(|c| c.as_str()))
        .filter(|code| !mentioned(code))
        .collect();
    assert!(missing.is_empty(), "codes without a table row: {missing:?}");
}

#[test]
fn blue_green_sample_matches_the_documented_order() {
    let (input, call) = given("");
    let plan = run(&input.unwrap(), &call).unwrap();
    assert_eq!(ids(&plan.steps), expand(BG_ALL));
    assert!(plan
        .steps
        .iter()
        .all(|step| !step.describe().is_empty() && !step.why.is_empty()));
}

#[test]
fn plans_serialize_for_state() {
    let (input, call) = given("done=@bg_migrated weight=10 target=serving:50");
    let input = input.unwrap();
    let plan = run(&input, &call).unwrap();
    let json = serde_json::to_string(&plan).unwrap();
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);
    let checkpoint = serde_json::to_value(&input.checkpoint).unwrap();
    assert_eq!(checkpoint["weight_y"], 10);
    let again: Checkpoint = serde_json::from_value(checkpoint).unwrap();
    assert_eq!(again, input.checkpoint);
    let bad = serde_json::json!({"completed": [], "weight_y": 101, "backup_location": null});
    assert!(serde_json::from_value::<Checkpoint>(bad).is_err());
    let step = serde_json::to_value(&plan.steps[0]).unwrap();
    assert_eq!(step["kind"]["kind"], "shift_traffic");
    assert_eq!(step["kind"]["to_weight"], 50);
}

/// `upgrade_path_for_strategy`: from, to, strategy, supported, codes that
/// must appear among its refusals and warnings.
const STRATEGY_PATHS: &[(&str, &str, &str, bool, &[&str])] = &[
    ("3.9.2", "3.9.3", "blue_green", true, &[]),
    (
        "3.8.1",
        "3.9.0",
        "blue_green",
        true,
        &["blue_green_minor_jump"],
    ),
    (
        "2.8.2",
        "3.4.2",
        "blue_green",
        false,
        &["blue_green_major_jump", "lts_jump"],
    ),
    (
        "2.8.1",
        "3.0.0",
        "blue_green",
        false,
        &["blue_green_needs_2_8_2", "blue_green_major_jump"],
    ),
    ("2.8.2", "3.4.2", "dual_cluster", true, &["lts_jump"]),
    ("2.6.0", "3.4.2", "dual_cluster", false, &[]),
];

#[test]
fn strategy_narrows_the_path_answer() {
    for (from, to, strategy, supported, codes) in STRATEGY_PATHS {
        let answer = upgrade_path_for_strategy(&v(from), &v(to), strategy.parse().unwrap());
        let row = format!("{from} → {to} ({strategy})");
        assert_eq!(answer.supported, *supported, "{row}: {answer:?}");
        let found: Vec<&str> = answer
            .refusals
            .iter()
            .map(|e| e.code.as_str())
            .chain(answer.warnings.iter().map(|w| w.code.as_str()))
            .collect();
        for code in *codes {
            assert!(found.contains(code), "{row}: {code} not in {found:?}");
        }
    }
}
