//! Properties over arbitrary inputs: the planner is total, respects the
//! checkpoint and the point of no return, keeps runbook order, and its
//! plans converge when executed (also after an interruption).

use proptest::prelude::*;
use proptest::strategy::Strategy;

use super::*;
use crate::planner::Strategy as UpgradeStrategy;

fn any_strategy() -> impl Strategy<Value = UpgradeStrategy> {
    prop::sample::select(UpgradeStrategy::ALL.to_vec())
}

fn any_version() -> impl Strategy<Value = KongVersion> {
    let known = prop::sample::select(vec![
        "1.5.0", "2.1.4", "2.6.0", "2.8.0", "2.8.1", "2.8.2", "2.8.4", "3.0.0", "3.1.0", "3.4.2",
        "3.4.3.5", "3.8.1", "3.9.2", "3.9.3", "3.10.0.1", "3.14.0.0", "4.0.0",
    ])
    .prop_map(v);
    prop_oneof![
        known,
        (0u32..5, 0u32..20, 0u32..5).prop_map(|(a, b, c)| KongVersion::new(a, b, c)),
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(a, b, c)| KongVersion::new(a, b, c)),
    ]
}

fn any_weight() -> impl Strategy<Value = TrafficWeight> {
    (0i64..=100).prop_map(|p| TrafficWeight::new(p).unwrap())
}

fn any_target() -> impl Strategy<Value = TargetPhase> {
    prop_oneof![
        Just(TargetPhase::Prepared),
        Just(TargetPhase::Migrated),
        any_weight().prop_map(|weight_y| TargetPhase::Serving { weight_y }),
        Just(TargetPhase::Finished),
        Just(TargetPhase::Completed),
    ]
}

fn any_facts() -> impl Strategy<Value = DeploymentFacts> {
    (
        prop::sample::select(Role::ALL.to_vec()),
        prop::sample::select(Database::ALL.to_vec()),
        prop::option::of(prop::sample::select(vec![
            Edition::Community,
            Edition::Enterprise,
        ])),
        prop::option::of(any_version()),
        prop::collection::vec(any_version(), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(role, database, edition, cp, dps, second, vitals)| DeploymentFacts {
                role,
                database,
                edition,
                database_backed_counters: if vitals {
                    vec!["rate-limiting".into()]
                } else {
                    Vec::new()
                },
                vitals_enabled: vitals,
                control_plane_version: cp,
                data_plane_versions: dps,
                second_database_configured: second,
            },
        )
}

fn any_checkpoint() -> impl Strategy<Value = Checkpoint> {
    let ids: Vec<String> = all_step_ids().into_iter().collect();
    (
        prop::sample::subsequence(ids.clone(), 0..=ids.len()),
        any_weight(),
        prop::option::of(Just("/backups/kong.dump".to_string())),
    )
        .prop_map(|(done, weight_y, backup_location)| Checkpoint {
            completed: done.into_iter().map(StepId::new).collect(),
            weight_y,
            backup_location,
            gates_pending_at: None,
        })
}

fn any_options() -> impl Strategy<Value = Options> {
    let hook_names: Vec<String> = all_step_ids()
        .into_iter()
        .flat_map(|id| [format!("before_{id}"), format!("after_{id}")])
        .chain(["stop_x", "start_x", "start_y", "decommission_x", "bogus"].map(String::from))
        .collect();
    (
        prop::array::uniform6(any::<bool>()),
        prop::collection::vec(-5i64..=120, 0..5),
        prop::sample::subsequence(hook_names.clone(), 0..4),
        0..3u8,
    )
        .prop_map(|(flags, traffic_steps, hooks, published)| Options {
            allow_downtime: flags[0],
            accept_unsupported_path: flags[1],
            backup_enabled: flags[2],
            staging_tests_configured: flags[3],
            traffic_configured: flags[4] || flags[5],
            traffic_steps,
            traffic_owned_by_split: flags[5] && !flags[4],
            published_traffic: match published {
                0 => None,
                1 => Some(PublishedTraffic { observed: None }),
                _ => Some(PublishedTraffic {
                    observed: Some(crate::traffic::progression::Progression::Direct),
                }),
            },
            hooks: hooks.into_iter().collect(),
        })
}

fn any_input() -> impl Strategy<Value = PlanInput> {
    (
        any_strategy(),
        any_version(),
        any_version(),
        any_facts(),
        any_checkpoint(),
        any_target(),
        any_options(),
    )
        .prop_map(
            |(strategy, from, to, facts, checkpoint, target, options)| PlanInput {
                strategy,
                from,
                to,
                facts,
                checkpoint,
                target,
                options,
            },
        )
}

/// Checks what must hold of any plan the planner returns.
fn check_plan_invariants(input: &PlanInput, plan: &Plan) -> Result<(), TestCaseError> {
    let done = |id: &str| input.checkpoint.is_done(&StepId::new(id));
    let mut seen = BTreeSet::new();
    let mut weight = input.checkpoint.weight_y;
    let mut backed_up = done("backup") || !input.options.backup_enabled;
    let past_no_return =
        (input.strategy.shares_database() && done("migrations_finish")) || done("decommission_x");
    for step in &plan.steps {
        prop_assert!(seen.insert(step.id.clone()), "{} planned twice", step.id);
        if step.kind.recurrence() == Recurrence::Once {
            prop_assert!(
                !input.checkpoint.is_done(&step.id),
                "completed step {} planned again",
                step.id
            );
        }
        if step.destructive {
            prop_assert!(backed_up, "{} before the backup", step.id);
        }
        if past_no_return {
            let rollback = match step.kind {
                StepKind::TrafficBackToX | StepKind::StartClusterX { .. } => true,
                StepKind::ShiftTraffic { to_weight } => to_weight < weight,
                _ => false,
            };
            prop_assert!(!rollback, "{} after the point of no return", step.id);
        }
        match step.kind {
            StepKind::Backup { .. } => backed_up = true,
            StepKind::ShiftTraffic { to_weight } => {
                if weight == TrafficWeight::ZERO && to_weight > weight {
                    prop_assert!(
                        plan.steps.iter().any(|s| s.kind
                            == StepKind::VerifyFreeze {
                                before: FreezeGate::Cutover
                            }),
                        "first traffic without a freeze check"
                    );
                }
                weight = to_weight;
            }
            StepKind::TrafficBackToX => weight = TrafficWeight::ZERO,
            StepKind::MigrationsFinish {
                database: MigrationDatabase::Shared,
            } => {
                prop_assert!(
                    input.strategy == UpgradeStrategy::InPlace || weight == TrafficWeight::FULL,
                    "finish with {weight} on Y"
                );
            }
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Total: any input gives a plan or errors, and plans keep the invariants.
    #[test]
    fn planner_is_total_and_keeps_invariants(input in any_input()) {
        if let Ok(plan) = plan(&input) {
            check_plan_invariants(&input, &plan)?;
        }
        for on_destroy in OnDestroy::ALL {
            if let Ok(plan) = plan_destroy(&input, *on_destroy) {
                check_plan_invariants(&input, &plan)?;
            }
        }
        let _ = current_phase(&input);
    }

    /// Errors always name an attribute and say something.
    #[test]
    fn errors_are_attributed(input in any_input()) {
        if let Err(errors) = plan(&input) {
            prop_assert!(!errors.is_empty());
            for error in errors {
                prop_assert!(!error.message.is_empty());
                prop_assert!(!error.field.attribute().is_empty());
            }
        }
    }
}

/// A valid upgrade of the given strategy: every rule satisfied.
fn valid_input(strategy: UpgradeStrategy) -> impl Strategy<Value = PlanInput> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::sample::subsequence(vec![10i64, 25, 50, 75, 100], 0..=5),
        prop::sample::subsequence(hook_choices(strategy), 0..=3),
    )
        .prop_map(move |(staging, backup, traffic_steps, hooks)| {
            let mut input = baseline();
            input.strategy = strategy;
            input.options.staging_tests_configured =
                staging && strategy != UpgradeStrategy::InPlace;
            input.options.backup_enabled = backup;
            input.options.traffic_steps = traffic_steps;
            input.options.hooks = hooks.into_iter().collect();
            match strategy {
                UpgradeStrategy::InPlace => input.options.allow_downtime = true,
                UpgradeStrategy::DualCluster => input.facts.second_database_configured = true,
                UpgradeStrategy::Rolling => {
                    input.facts.role = Role::DataPlane;
                    input.facts.database = Database::Off;
                    input.facts.control_plane_version = Some(v("3.9.3"));
                }
                UpgradeStrategy::BlueGreen => {}
            }
            input
        })
}

fn hook_choices(strategy: UpgradeStrategy) -> Vec<String> {
    let mut input = baseline();
    input.strategy = strategy;
    runbook::known_hooks(&input)
        .into_iter()
        .filter(|name| name != "before_backup" && name != "after_backup")
        .collect()
}

fn valid_scenario() -> impl Strategy<Value = (PlanInput, Vec<(TargetPhase, Option<usize>)>)> {
    any_strategy().prop_flat_map(|strategy| {
        let target = any_target().prop_map(move |t| match (strategy, t) {
            // In-place serves only at 100 %.
            (UpgradeStrategy::InPlace, TargetPhase::Serving { .. }) => TargetPhase::Finished,
            (_, t) => t,
        });
        (
            valid_input(strategy),
            prop::collection::vec((target, prop::option::of(0usize..20)), 1..8),
        )
    })
}

/// What `current_phase` should say after a forward plan ran completely.
fn expected_after(plan: &Plan) -> Phase {
    match plan.target_phase {
        Phase::Serving { weight_y } if weight_y == TrafficWeight::ZERO => Phase::Migrated,
        phase => phase,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Executing plans (sometimes interrupted) and re-planning: a full run
    /// converges (re-plan is empty: no perpetual diff), an interrupted run
    /// resumes with exactly the remaining once-only steps.
    #[test]
    fn executed_plans_converge_and_resume((mut input, targets) in valid_scenario()) {
        for (target, interrupt_at) in targets {
            input.target = target;
            let Ok(first) = plan(&input) else { continue };
            check_plan_invariants(&input, &first)?;
            let cut = interrupt_at.map_or(first.steps.len(), |k| k.min(first.steps.len()));
            for step in &first.steps[..cut] {
                input.checkpoint.record(&step.kind);
            }
            let again = plan(&input);
            prop_assert!(again.is_ok(), "re-plan failed: {:?}", again);
            let again = again.unwrap_or_else(|_| unreachable!());
            check_plan_invariants(&input, &again)?;
            let once = |steps: &[PlannedStep]| -> Vec<StepId> {
                steps.iter().filter(|s| s.kind.recurrence() == Recurrence::Once).map(|s| s.id.clone()).collect()
            };
            prop_assert_eq!(once(&again.steps), once(&first.steps[cut..]));
            if cut == first.steps.len() {
                prop_assert!(again.steps.is_empty(), "not converged: {:?}", ids(&again.steps));
                let forward = first.target_phase.rank() >= first.current_phase.rank();
                if forward {
                    prop_assert_eq!(current_phase(&input), expected_after(&first));
                }
            }
        }
    }
}
