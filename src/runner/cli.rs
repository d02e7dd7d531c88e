//! Reading what the `kong migrations` CLI printed (Kong/kong `kong/cmd/migrations.lua`, e.g. https://github.com/Kong/kong/blob/3.9.3/kong/cmd/migrations.lua):
//! pure functions from a [`RunOutput`] to typed outcomes.
//!
//! Normal messages are on stdout without prefix (with `--v`, every line has
//! a `YYYY/MM/DD HH:MM:SS [level] ` prefix, which is stripped); errors are
//! `Error: <message>` on stderr with exit 1. `up`, `finish` and `bootstrap`
//! exit 0 even when they lost the lock race, hence the text matching.

use super::output::{RunOutput, ERROR_TAIL_LINES};
use crate::migrations::{MigrationPhase, SubsystemMigrations};
use serde::Deserialize;

pub const ABORTED: &str = "aborted: another node is performing database changes";
pub const ALREADY_UP_TO_DATE: &str = "Database is already up-to-date";
pub const PENDING_REFUSAL: &str = "Database has pending migrations; run 'kong migrations finish'";
pub const NO_PENDING_TO_FINISH: &str = "No pending migrations to finish";
pub const ALREADY_BOOTSTRAPPED: &str = "Database already bootstrapped";
pub const BOOTSTRAP_DONE: &str = "Database is up-to-date";
pub const LOCK_TIMEOUT: &str = "[PostgreSQL error] timeout";
pub const NEW_MIGRATIONS_AVAILABLE: &str =
    "New migrations available; run 'kong migrations up' to proceed";

/// How a migration was recorded, per its "migrated up to" line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedAs {
    Executed,
    Pending,
}

/// `<subsystem> migrated up to: <name> (executed|pending)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigratedLine {
    pub subsystem: String,
    pub migration: String,
    pub recorded_as: RecordedAs,
}

/// Why a phase had nothing to do (exit 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NothingToDo {
    AlreadyUpToDate,
    NoPendingToFinish,
    AlreadyBootstrapped,
}

/// What a failed `kong migrations` run (exit ≠ 0) was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// "Cannot run migrations: Database needs bootstrapping ..."
    NeedsBootstrap,
    /// "Database has pending migrations; run 'kong migrations finish'"
    PendingMigrations,
    /// "[PostgreSQL error] timeout": the lock stayed held for --lock-timeout.
    LockTimeout,
    /// "failed to run migration '<name>' up|teardown: ..."
    MigrationFailed {
        migration: Option<String>,
    },
    AuthenticationFailed,
    DatabaseUnreachable,
    /// "No such command for migrations: X" (e.g. `status` before 3.0).
    NoSuchCommand,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliFailure {
    pub kind: FailureKind,
    pub exit_code: i32,
    /// Kong's message without `Error: ` and the `--v` hint.
    pub message: String,
}

/// The typed result of `kong migrations bootstrap|up|finish`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliOutcome {
    /// Migrations ran. For `up`, `pending_remain` is Kong's hint to run
    /// `finish`; for `finish`, `new_remain` is its hint to run `up`.
    Completed {
        migrated: Vec<MigratedLine>,
        pending_remain: bool,
        new_remain: bool,
    },
    NothingToDo(NothingToDo),
    /// Another node held the lock; Kong exited 0 without migrating.
    LockNotAcquired,
    Failed(CliFailure),
}

impl CliOutcome {
    /// Worth retrying until the resource's timeout: someone else holds (or
    /// just released) the lock.
    pub fn is_lock_contention(&self) -> bool {
        matches!(self, CliOutcome::LockNotAcquired)
            || matches!(self, CliOutcome::Failed(f) if f.kind == FailureKind::LockTimeout)
    }
}

/// The output could not be understood as the expected Kong command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    #[error("`{command_line}` failed (exit {}): {}", failure.exit_code, failure.message)]
    Failed {
        command_line: String,
        failure: CliFailure,
    },
    #[error("`{command_line}` exited {exit_code} with output that does not look like `kong migrations {subcommand}`{}", super::output::format_tail(last_output))]
    Unrecognized {
        command_line: String,
        subcommand: String,
        exit_code: i32,
        last_output: Vec<String>,
    },
}

fn unrecognized(output: &RunOutput, subcommand: &str) -> CliError {
    CliError::Unrecognized {
        command_line: output.command_line.clone(),
        subcommand: subcommand.to_owned(),
        exit_code: output.exit_code,
        last_output: output.last_lines(ERROR_TAIL_LINES),
    }
}

/// Interprets the output of `kong migrations <phase>`.
pub fn parse_phase_output(
    phase: MigrationPhase,
    output: &RunOutput,
) -> Result<CliOutcome, CliError> {
    if output.exit_code != 0 {
        return Ok(CliOutcome::Failed(failure_of(output)));
    }
    let lines: Vec<&str> = output.stdout_lines().map(strip_log_prefix).collect();
    let has = |needle: &str| lines.iter().any(|l| l.trim() == needle);
    if has(ABORTED) {
        return Ok(CliOutcome::LockNotAcquired);
    }
    let migrated: Vec<MigratedLine> = lines
        .iter()
        .filter_map(|l| parse_migrated_line(l))
        .collect();
    let pending_remain = lines
        .iter()
        .any(|l| l.starts_with("Database has pending migrations; run 'kong migrations finish'"));
    let new_remain = has(NEW_MIGRATIONS_AVAILABLE);
    if !migrated.is_empty() || (phase == MigrationPhase::Bootstrap && has(BOOTSTRAP_DONE)) {
        return Ok(CliOutcome::Completed {
            migrated,
            pending_remain,
            new_remain,
        });
    }
    let nothing = match phase {
        MigrationPhase::Up if has(ALREADY_UP_TO_DATE) => Some(NothingToDo::AlreadyUpToDate),
        MigrationPhase::Finish if has(NO_PENDING_TO_FINISH) => Some(NothingToDo::NoPendingToFinish),
        MigrationPhase::Bootstrap if has(ALREADY_BOOTSTRAPPED) => {
            Some(NothingToDo::AlreadyBootstrapped)
        }
        _ => None,
    };
    if let Some(nothing) = nothing {
        return Ok(CliOutcome::NothingToDo(nothing));
    }
    // `up -f` with nothing new and `finish` leaving new ones print only
    // hints; they are successes with nothing migrated.
    if pending_remain || new_remain {
        return Ok(CliOutcome::Completed {
            migrated,
            pending_remain,
            new_remain,
        });
    }
    Err(unrecognized(output, phase.as_str()))
}

fn parse_migrated_line(line: &str) -> Option<MigratedLine> {
    let (subsystem, rest) = line.split_once(" migrated up to: ")?;
    let (migration, state) = rest.trim().rsplit_once(' ')?;
    let recorded_as = match state {
        "(executed)" => RecordedAs::Executed,
        "(pending)" => RecordedAs::Pending,
        _ => return None,
    };
    Some(MigratedLine {
        subsystem: subsystem.trim().to_owned(),
        migration: migration.trim().to_owned(),
        recorded_as,
    })
}

/// Kong's error message and what it is about.
pub fn failure_of(output: &RunOutput) -> CliFailure {
    let message = error_message(output);
    CliFailure {
        kind: failure_kind(&message),
        exit_code: output.exit_code,
        message,
    }
}

fn error_message(output: &RunOutput) -> String {
    let stderr: Vec<&str> = output.stderr_lines().map(strip_log_prefix).collect();
    if let Some(start) = stderr.iter().position(|l| l.starts_with("Error: ")) {
        let mut message: Vec<&str> = vec![stderr[start].trim_start_matches("Error: ")];
        message.extend(
            stderr[start + 1..]
                .iter()
                .take_while(|l| !l.trim_start().starts_with("Run with --v")),
        );
        return message.join("\n").trim().to_owned();
    }
    output.last_lines(ERROR_TAIL_LINES).join("\n")
}

fn failure_kind(message: &str) -> FailureKind {
    let lower = message.to_ascii_lowercase();
    if message.trim() == LOCK_TIMEOUT {
        FailureKind::LockTimeout
    } else if let Some(rest) = message.split("failed to run migration '").nth(1) {
        FailureKind::MigrationFailed {
            migration: rest.split('\'').next().map(str::to_owned),
        }
    } else if message.contains(PENDING_REFUSAL) {
        FailureKind::PendingMigrations
    } else if lower.contains("needs bootstrapping") || lower.contains("cannot run migrations") {
        FailureKind::NeedsBootstrap
    } else if lower.contains("no such command") {
        FailureKind::NoSuchCommand
    } else if lower.contains("authentication failed") || lower.contains("password authentication") {
        FailureKind::AuthenticationFailed
    } else if lower.contains("connection refused")
        || lower.contains("server_version_num")
        || lower.contains("no route to host")
        || lower.contains("could not resolve")
    {
        FailureKind::DatabaseUnreachable
    } else {
        FailureKind::Other
    }
}

/// Drops Kong's `YYYY/MM/DD HH:MM:SS [level] ` prefix (verbose modes and
/// stderr); other lines are returned unchanged.
pub fn strip_log_prefix(line: &str) -> &str {
    let bytes = line.as_bytes();
    let shape = b"dddd/dd/dd dd:dd:dd [";
    if bytes.len() < shape.len() {
        return line;
    }
    let matches = shape.iter().zip(bytes).all(|(s, b)| {
        if *s == b'd' {
            b.is_ascii_digit()
        } else {
            s == b
        }
    });
    if !matches {
        return line;
    }
    match line[shape.len()..].find("] ") {
        Some(end) => &line[shape.len() + end + 2..],
        None => line,
    }
}

/// `kong migrations list`, read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListReport {
    pub exit_code: i32,
    pub needs_bootstrap: bool,
    pub executed: Vec<SubsystemMigrations>,
    pub pending: Vec<SubsystemMigrations>,
    pub new: Vec<SubsystemMigrations>,
}

/// Exit 3: needs bootstrap; 4: pending (maybe new too); 5: new only; 0: up
/// to date; anything else: failure.
pub fn parse_list_output(output: &RunOutput) -> Result<ListReport, CliError> {
    let mut report = ListReport {
        exit_code: output.exit_code,
        ..ListReport::default()
    };
    match output.exit_code {
        3 => {
            report.needs_bootstrap = true;
            return Ok(report);
        }
        0 | 4 | 5 => {}
        _ => {
            return Err(CliError::Failed {
                command_line: output.command_line.clone(),
                failure: failure_of(output),
            })
        }
    }
    #[derive(Clone, Copy)]
    enum Block {
        Executed,
        Pending,
        New,
    }
    let mut block: Option<Block> = None;
    let mut saw_header = false;
    for line in output.stdout_lines().map(strip_log_prefix) {
        let header = match line.trim() {
            "Executed migrations:" => Some(Block::Executed),
            "Pending migrations:" => Some(Block::Pending),
            "New migrations available:" => Some(Block::New),
            _ => None,
        };
        if header.is_some() {
            block = header;
            saw_header = true;
            continue;
        }
        let Some(current) = block else { continue };
        let Some((subsystem, names)) = line.split_once(": ").filter(|_| !line.trim().is_empty())
        else {
            block = None;
            continue;
        };
        let entry = SubsystemMigrations {
            subsystem: subsystem.trim().to_owned(),
            migrations: names.split(", ").map(|n| n.trim().to_owned()).collect(),
        };
        match current {
            Block::Executed => report.executed.push(entry),
            Block::Pending => report.pending.push(entry),
            Block::New => report.new.push(entry),
        }
    }
    if !saw_header {
        return Err(unrecognized(output, "list"));
    }
    Ok(report)
}

/// `kong migrations status` (3.0+), read. Empty buckets are omitted by
/// Kong and come back empty here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusReport {
    pub needs_bootstrap: bool,
    pub executed: Vec<SubsystemMigrations>,
    pub pending: Vec<SubsystemMigrations>,
    pub new: Vec<SubsystemMigrations>,
    pub missing: Vec<SubsystemMigrations>,
}

#[derive(Deserialize)]
struct StatusJson {
    needs_bootstrap: bool,
    #[serde(default)]
    executed_migrations: Option<Vec<StatusEntry>>,
    #[serde(default)]
    pending_migrations: Option<Vec<StatusEntry>>,
    #[serde(default)]
    new_migrations: Option<Vec<StatusEntry>>,
    #[serde(default)]
    missing_migrations: Option<Vec<StatusEntry>>,
}

#[derive(Deserialize)]
struct StatusEntry {
    subsystem: String,
    migrations: Vec<StatusMigration>,
}

/// A name, or (for `missing_migrations`, which Kong does not clean up) the
/// whole migration object.
#[derive(Deserialize)]
#[serde(untagged)]
enum StatusMigration {
    Name(String),
    Object { name: String },
}

pub fn parse_status_output(output: &RunOutput) -> Result<StatusReport, CliError> {
    if output.exit_code != 0 {
        return Err(CliError::Failed {
            command_line: output.command_line.clone(),
            failure: failure_of(output),
        });
    }
    let json = output
        .stdout_lines()
        .map(strip_log_prefix)
        .find(|l| l.trim_start().starts_with('{'))
        .and_then(|l| serde_json::from_str::<StatusJson>(l).ok())
        .ok_or_else(|| unrecognized(output, "status"))?;
    let convert = |entries: Option<Vec<StatusEntry>>| -> Vec<SubsystemMigrations> {
        entries
            .unwrap_or_default()
            .into_iter()
            .map(|e| SubsystemMigrations {
                subsystem: e.subsystem,
                migrations: e
                    .migrations
                    .into_iter()
                    .map(|m| match m {
                        StatusMigration::Name(name) | StatusMigration::Object { name } => name,
                    })
                    .collect(),
            })
            .collect()
    };
    Ok(StatusReport {
        needs_bootstrap: json.needs_bootstrap,
        executed: convert(json.executed_migrations),
        pending: convert(json.pending_migrations),
        new: convert(json.new_migrations),
        missing: convert(json.missing_migrations),
    })
}

#[cfg(test)]
mod tests {
    use super::super::output::{OutputLine, Stream};
    use super::*;
    use std::time::Duration;

    fn output(exit_code: i32, stdout: &str, stderr: &str) -> RunOutput {
        let lines = stdout
            .lines()
            .map(|l| (Stream::Stdout, l))
            .chain(stderr.lines().map(|l| (Stream::Stderr, l)))
            .map(|(stream, text)| OutputLine {
                stream,
                text: text.to_owned(),
            })
            .collect();
        RunOutput {
            exit_code,
            lines,
            dropped_lines: 0,
            duration: Duration::ZERO,
            command_line: "kong migrations up".into(),
        }
    }

    const HINT: &str = "\n  Run with --v (verbose) or --vv (debug) for more details\n";

    fn failed(phase: MigrationPhase, stderr: &str) -> CliFailure {
        match parse_phase_output(phase, &output(1, "", &format!("{stderr}{HINT}"))) {
            Ok(CliOutcome::Failed(f)) => f,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn up_that_ran_reports_each_migration_and_the_pending_hint() {
        let stdout = "migrating core on database 'kong'...\n\
                      core migrated up to: 021_340_to_350 (executed)\n\
                      core migrated up to: 022_350_to_360 (executed)\n\
                      migrating acme on database 'kong'...\n\
                      acme migrated up to: 003_350_to_360 (pending)\n\
                      3 migrations processed\n2 executed\n1 pending\n\n\
                      Database has pending migrations; run 'kong migrations finish' when ready";
        let outcome = parse_phase_output(MigrationPhase::Up, &output(0, stdout, "")).unwrap();
        let CliOutcome::Completed {
            migrated,
            pending_remain,
            new_remain,
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert!(pending_remain && !new_remain);
        assert_eq!(migrated.len(), 3);
        assert_eq!(
            migrated[2],
            MigratedLine {
                subsystem: "acme".into(),
                migration: "003_350_to_360".into(),
                recorded_as: RecordedAs::Pending
            }
        );
    }

    #[test]
    fn exit_zero_messages_are_told_apart() {
        let cases = [
            (MigrationPhase::Up, ABORTED, CliOutcome::LockNotAcquired),
            (MigrationPhase::Finish, ABORTED, CliOutcome::LockNotAcquired),
            (
                MigrationPhase::Bootstrap,
                "Bootstrapping database...\naborted: another node is performing database changes",
                CliOutcome::LockNotAcquired,
            ),
            (
                MigrationPhase::Up,
                "2024/05/01 10:00:00 [info] aborted: another node is performing database changes",
                CliOutcome::LockNotAcquired,
            ),
            (
                MigrationPhase::Up,
                "Database is already up-to-date",
                CliOutcome::NothingToDo(NothingToDo::AlreadyUpToDate),
            ),
            (
                MigrationPhase::Finish,
                "No pending migrations to finish",
                CliOutcome::NothingToDo(NothingToDo::NoPendingToFinish),
            ),
            (
                MigrationPhase::Bootstrap,
                "Database already bootstrapped",
                CliOutcome::NothingToDo(NothingToDo::AlreadyBootstrapped),
            ),
        ];
        for (phase, stdout, want) in cases {
            assert_eq!(
                parse_phase_output(phase, &output(0, stdout, "")).unwrap(),
                want,
                "{stdout}"
            );
        }
    }

    #[test]
    fn finish_and_bootstrap_successes() {
        let finish = "migrating acme on database 'kong'...\n\
                      acme migrated up to: 003_350_to_360 (executed)\n\
                      1 migration processed\n1 executed\n\n\
                      New migrations available; run 'kong migrations up' to proceed";
        let outcome = parse_phase_output(MigrationPhase::Finish, &output(0, finish, "")).unwrap();
        assert!(
            matches!(
                outcome,
                CliOutcome::Completed {
                    new_remain: true,
                    pending_remain: false,
                    ..
                }
            ),
            "{outcome:?}"
        );

        let bootstrap = "Bootstrapping database...\nmigrating core on database 'kong'...\n\
                         core migrated up to: 000_base (executed)\n\
                         core migrated up to: 003_100_to_110 (executed)\n\
                         2 migrations processed\n2 executed\nDatabase is up-to-date";
        let outcome =
            parse_phase_output(MigrationPhase::Bootstrap, &output(0, bootstrap, "")).unwrap();
        assert!(
            matches!(&outcome, CliOutcome::Completed { migrated, .. } if migrated.len() == 2),
            "{outcome:?}"
        );
    }

    #[test]
    fn failures_are_classified_from_kongs_error_line() {
        let f = failed(
            MigrationPhase::Up,
            "Error: Database has pending migrations; run 'kong migrations finish'",
        );
        assert_eq!(f.kind, FailureKind::PendingMigrations);
        assert_eq!(
            f.message,
            "Database has pending migrations; run 'kong migrations finish'"
        );

        let f = failed(MigrationPhase::Up, "Error: [PostgreSQL error] timeout");
        assert_eq!(f.kind, FailureKind::LockTimeout);
        assert!(CliOutcome::Failed(f).is_lock_contention());

        let f = failed(
            MigrationPhase::Up,
            "Error: [PostgreSQL error] cluster_mutex callback threw an error: /usr/local/share/lua/5.1/kong/cmd/utils/migrations.lua:131: [PostgreSQL error] failed to run migration '022_350_to_360' up: receive_message: failed to get type: timeout",
        );
        assert_eq!(
            f.kind,
            FailureKind::MigrationFailed {
                migration: Some("022_350_to_360".into())
            }
        );

        let f = failed(
            MigrationPhase::Finish,
            "Error: Cannot run migrations: Database needs bootstrapping or is older than Kong 1.0.\n\nTo start a new installation from scratch, run 'kong migrations bootstrap'.\n",
        );
        assert_eq!(f.kind, FailureKind::NeedsBootstrap);
        assert!(
            f.message
                .starts_with("Cannot run migrations: Database needs bootstrapping"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("run 'kong migrations bootstrap'"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("Run with --v"));

        let f = failed(MigrationPhase::Up, "Error: [PostgreSQL error] failed to retrieve PostgreSQL server_version_num: connection refused");
        assert_eq!(f.kind, FailureKind::DatabaseUnreachable);
        let f = failed(MigrationPhase::Up, "Error: [PostgreSQL error] failed to retrieve PostgreSQL server_version_num: FATAL: password authentication failed for user \"kong\"");
        assert_eq!(f.kind, FailureKind::AuthenticationFailed);
        let f = failed(
            MigrationPhase::Up,
            "Error: No such command for migrations: status",
        );
        assert_eq!(f.kind, FailureKind::NoSuchCommand);
        let f = failed(
            MigrationPhase::Up,
            "2024/05/01 10:00:00 [error] something odd\nError: boom",
        );
        assert_eq!((f.kind, f.message.as_str()), (FailureKind::Other, "boom"));
    }

    #[test]
    fn output_that_is_not_kong_is_an_error_with_the_last_lines() {
        let err = parse_phase_output(
            MigrationPhase::Up,
            &output(0, "hello from a wrong image", ""),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("does not look like `kong migrations up`"),
            "{text}"
        );
        assert!(text.contains("hello from a wrong image"), "{text}");
    }

    #[test]
    fn list_reports_follow_the_exit_code_and_blocks() {
        let needs = parse_list_output(&output(
            3,
            "Database needs bootstrapping or is older than Kong 1.0.",
            "",
        ))
        .unwrap();
        assert!(needs.needs_bootstrap);

        let new_only = "Executed migrations:\n      core: 000_base\nenterprise: 000_base, 006_1301_to_1500\n\n\
                        New migrations available:\n        session: 000_base_session, 001_add_ttl_index, 002_320_to_330\n\
                        with-migrations: 000_base_with_migrations, 001_14_to_15\n\nRun 'kong migrations up' to proceed";
        let report = parse_list_output(&output(5, new_only, "")).unwrap();
        assert_eq!(report.executed.len(), 2);
        assert_eq!(
            report.executed[1].migrations,
            ["000_base", "006_1301_to_1500"]
        );
        assert_eq!(report.new[0].subsystem, "session");
        assert_eq!(report.new[0].migrations.len(), 3);
        assert!(report.pending.is_empty());

        let both = "Executed migrations:\ncore: 000_base\n\nPending migrations:\nacme: 003_350_to_360\n\n\
                    New migrations available:\ncore: 023_360_to_370\n\n\n\
                    Run 'kong migrations finish' when ready to complete pending migrations (postgres database will be incompatible with the previous Kong version)";
        let report = parse_list_output(&output(
            4,
            both,
            "2024/05/01 10:00:00 [warn] Database has pending migrations from a previous upgrade, and new migrations from this upgrade (version 3.7.1)",
        ))
        .unwrap();
        assert_eq!((report.pending.len(), report.new.len()), (1, 1));

        let err = parse_list_output(&output(1, "", "Error: [PostgreSQL error] failed to retrieve PostgreSQL server_version_num: connection refused")).unwrap_err();
        assert!(
            matches!(err, CliError::Failed { ref failure, .. } if failure.kind == FailureKind::DatabaseUnreachable),
            "{err}"
        );
    }

    #[test]
    fn status_json_with_omitted_keys() {
        let json = r#"{"executed_migrations":[{"subsystem":"core","namespace":"kong.db.migrations.core","migrations":["000_base","003_100_to_110"]}],"needs_bootstrap":false,"new_migrations":[{"subsystem":"acme","namespace":"kong.plugins.acme.migrations","migrations":["003_350_to_360"]}]}"#;
        let report = parse_status_output(&output(0, json, "")).unwrap();
        assert!(!report.needs_bootstrap);
        assert_eq!(
            report.executed[0].migrations,
            ["000_base", "003_100_to_110"]
        );
        assert_eq!(report.new[0].subsystem, "acme");
        assert!(report.pending.is_empty() && report.missing.is_empty());

        let fresh = r#"{"needs_bootstrap":true,"new_migrations":[{"subsystem":"core","namespace":"x","migrations":["000_base"]}]}"#;
        assert!(
            parse_status_output(&output(0, fresh, ""))
                .unwrap()
                .needs_bootstrap
        );

        let missing = r#"{"needs_bootstrap":false,"missing_migrations":[{"subsystem":"core","namespace":"x","migrations":[{"name":"001_x","postgres":{}}]}]}"#;
        assert_eq!(
            parse_status_output(&output(0, missing, ""))
                .unwrap()
                .missing[0]
                .migrations,
            ["001_x"]
        );

        assert!(matches!(
            parse_status_output(&output(0, "not json", "")),
            Err(CliError::Unrecognized { .. })
        ));
    }
}
