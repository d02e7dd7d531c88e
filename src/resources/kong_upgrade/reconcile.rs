//! The next plan reconciles three records of an upgrade: the private state
//! Terraform handed back (lost when the provider was killed), the durable
//! journal (see `journal/`), and the world (Kong's `schema_meta`, the
//! clusters, the load balancer; see `execute::reconcile_in_flight`). And
//! the apply runs what the user approved, or nothing.

use super::config::{Intent, Settings};
use super::journal::{Journal, JournalError, Recorded};
use super::state::{steps_value, HistoryEntry, Private};
use crate::blocks::database::error_diagnostic;
use crate::planner::Plan;
use tfplug::{AttrPath, Diagnostic, Diagnostics, Value};

/// The journal of the upgrade `id`.
pub fn journal_of(intent: &Intent, settings: &Settings, id: &str) -> Journal {
    let backup_dir = intent.backup.as_ref().and_then(|b| b.store.directory());
    Journal::for_upgrade(settings, backup_dir, id)
}

/// A journal that cannot be read, on the attribute at fault: the journal
/// lives in X's database, so the database's own errors say what is wrong.
fn unreadable(journal: &Journal, e: &JournalError, config: &Value) -> Diagnostics {
    let why = format!(
        "The upgrade journal ({}) records every step of the upgrade; without it the provider cannot tell which \
         steps a killed apply ran.",
        journal.describe()
    );
    let d = match e {
        JournalError::Database(db) => {
            error_diagnostic(db, config.attr("database"), AttrPath::root("database"))
        }
        _ => Diagnostic::error("Cannot read the upgrade journal", e.to_string())
            .at(AttrPath::parse(e.attribute())),
    };
    let detail = format!("{}\n\n{why}", d.detail);
    Diagnostic { detail, ..d }.into()
}

/// What reading the journal gave.
pub struct Adoption {
    pub journal: Recorded,
    /// The journal was newer than the private state and replaced it.
    pub adopted: bool,
}

/// Reads the journal and, when it recorded more than `private` knows
/// (an apply whose provider died before Terraform saved its state), takes
/// its newest snapshot as the private state.
///
/// Only for an upgrade Terraform has in its state (`prior` not null). A
/// create never takes a journal over: Terraform plans the replacement of a
/// tainted upgrade as a create without prior state, and its destroy half,
/// which runs first, removes the journal. An upgrade whose first apply was
/// killed left no state: `refuse_if_under_way` finds it in the world and
/// points at `terraform import`, which reads the journal; one killed before
/// anything irreversible (freeze, backup) simply starts again.
pub async fn adopt_journal(
    journal: &Journal,
    private: &mut Private,
    config: &Value,
    prior: &Value,
) -> Result<Adoption, Diagnostics> {
    let recorded = journal
        .read()
        .await
        .map_err(|e| unreadable(journal, &e, config))?;
    let newer = if prior.is_null() {
        None
    } else {
        recorded
            .newer_than(private)
            .map_err(|e| unreadable(journal, &e, config))?
    };
    let adopted = newer.is_some();
    if let Some(newer) = newer {
        tracing::info!(
            journal_seq = newer.journal_seq,
            recorded_seq = private.journal_seq,
            "the upgrade journal went further than Terraform's state: resuming from the journal"
        );
        *private = newer;
    }
    Ok(Adoption {
        journal: recorded,
        adopted,
    })
}

/// The state's history followed by what only the journal recorded.
pub fn with_journal_history(
    mut history: Vec<HistoryEntry>,
    journal: &Recorded,
) -> Vec<HistoryEntry> {
    for entry in journal.history() {
        if !history.contains(&entry) {
            history.push(entry);
        }
    }
    history
}

/// A plan with nothing left to run after the journal was adopted: the
/// attributes still show what Terraform last saved, so the plan shows the
/// progress the journal recorded, and an apply without steps saves it.
pub fn show_adopted_progress(planned: &mut Value, plan: &Plan, private: &Private) {
    planned.set_attr("phase", plan.current_phase.name().into());
    planned.set_attr(
        "current_weight_y",
        Value::from(i64::from(private.checkpoint.weight_y.percent())),
    );
    planned.set_attr("planned_steps", steps_value(&plan.steps));
    planned.set_attr("history", Value::Unknown);
}

/// The steps the user approved (`planned_steps` of the plan) against those
/// the world calls for now. When they differ the apply runs nothing: the
/// next plan shows the new steps for approval.
pub fn steps_changed_since_plan(planned: &Value, plan: &Plan) -> Option<Diagnostics> {
    let approved = planned.attr("planned_steps");
    if !approved.is_wholly_known() || approved.is_null() {
        return None;
    }
    // An empty plan keeps the last apply's `planned_steps` (so that the
    // plan after it stays empty) and its `history`; a plan with steps
    // leaves `history` to the apply.
    let approved: Vec<String> = match approved {
        _ if planned.attr("history").is_wholly_known() => Vec::new(),
        Value::List(items) => items
            .iter()
            .filter_map(|s| s.attr("id").as_str().map(str::to_string))
            .collect(),
        _ => return None,
    };
    let now: Vec<String> = plan
        .steps
        .iter()
        .map(|s| s.id.as_str().to_string())
        .collect();
    let what = difference(&approved, &now)?;
    let mut d = Diagnostics::new();
    d.error_at(
        AttrPath::root("planned_steps"),
        "The upgrade changed since the plan",
        format!(
            "The plan approved [{}]; the clusters, the database and the upgrade journal now call for [{}] ({what}). \
             Nothing was run: run terraform plan (or apply) again to review the new steps.",
            approved.join(", "),
            now.join(", "),
        ),
    );
    Some(d)
}

/// How `now` differs from `approved`, in words; `None` when it does not.
fn difference(approved: &[String], now: &[String]) -> Option<String> {
    if approved == now {
        return None;
    }
    let only_in = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|s| !b.contains(s)).cloned().collect()
    };
    let (gone, added) = (only_in(approved, now), only_in(now, approved));
    let mut what = Vec::new();
    if !gone.is_empty() {
        what.push(format!(
            "already done or no longer needed: {}",
            gone.join(", ")
        ));
    }
    if !added.is_empty() {
        what.push(format!("now needed: {}", added.join(", ")));
    }
    if what.is_empty() {
        what.push("the same steps in another order".into());
    }
    Some(what.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_change_of_steps_is_named() {
        let approved = ids(&["wait_ready_y", "staging_tests"]);
        assert_eq!(difference(&approved, &approved), None);
        assert_eq!(
            difference(&approved, &ids(&["staging_tests"])).as_deref(),
            Some("already done or no longer needed: wait_ready_y")
        );
        assert_eq!(
            difference(
                &approved,
                &ids(&["start_y", "wait_ready_y", "staging_tests"])
            )
            .as_deref(),
            Some("now needed: start_y")
        );
        assert_eq!(
            difference(&approved, &ids(&["staging_tests", "wait_ready_y"])).as_deref(),
            Some("the same steps in another order")
        );
    }
}
