//! Typed settings from the configuration, the resource ID and import IDs.

use super::*;

/// A wholly known configuration, parsed.
pub(super) struct PhaseSettings {
    pub(super) phase: MigrationPhase,
    /// Normalized (`v3.6.1` → `3.6.1`).
    pub(super) target_version: String,
    pub(super) force: bool,
    pub(super) db_timeout: Option<Duration>,
    pub(super) lock_timeout: Option<Duration>,
    pub(super) database: DatabaseConfig,
    pub(super) runner: runner::RunnerSettings,
    /// The blocks as configured, to point diagnostics at their attributes.
    pub(super) database_block: Value,
    pub(super) runner_block: Value,
}

impl PhaseSettings {
    pub(super) fn database_diagnostic(&self, e: &crate::migrations::MigrationsError) -> Diagnostic {
        database::error_diagnostic(e, &self.database_block, AttrPath::root("database"))
    }

    pub(super) fn runner_diagnostic(&self, e: &RunnerError) -> Diagnostic {
        runner::error_diagnostic_in(e, &self.runner_block, AttrPath::root("runner"))
    }

    /// Why the phase run failed, on the attribute at fault.
    pub(super) fn migrate_diagnostic(&self, e: &MigrateError) -> Diagnostic {
        let d = Diagnostic::error(e.summary(), e.to_string());
        let runner = AttrPath::root("runner");
        match e.culprit() {
            Culprit::Database => d.at(AttrPath::root("database").attr("host")),
            Culprit::Phase => d.at(AttrPath::root("phase")),
            Culprit::Runner => d.at(runner),
            Culprit::RunnerProgram { ssh_attribute } => d.at(runner::attribute_path(
                &self.runner_block,
                runner,
                ssh_attribute,
            )),
            Culprit::Nothing => d,
        }
    }

    pub(super) fn command(&self) -> MigrationCommand {
        let mut command = MigrationCommand::new(self.phase);
        command.force = self.force;
        command.db_timeout = self.db_timeout;
        if let Some(lock_timeout) = self.lock_timeout {
            command.lock_timeout = lock_timeout;
        }
        command.conf_path = self.runner.conf_path.clone();
        command
    }
}

pub(super) fn seconds(config: &Value, name: &str) -> Result<Option<Duration>, Diagnostic> {
    let value = config.attr(name);
    if value.is_null() || value.is_unknown() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n.is_finite() && (1.0..=86_400.0).contains(&n) => {
            Ok(Some(Duration::from_secs_f64(n)))
        }
        _ => Err(Diagnostic::error(
            "Invalid number of seconds",
            format!("{name} must be a number of seconds from 1 to 86400, got {value}."),
        )
        .at(AttrPath::root(name))),
    }
}

pub(super) fn parse_phase(config: &Value) -> Result<Option<MigrationPhase>, Diagnostic> {
    match config.attr("phase").as_str() {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|e: crate::migrations::UnknownPhase| {
                Diagnostic::error("Invalid phase", e.to_string()).at(AttrPath::root("phase"))
            }),
    }
}

pub(super) fn parse_target_version(config: &Value) -> Result<Option<String>, Diagnostic> {
    match config.attr("target_version").as_str() {
        None => Ok(None),
        Some(text) => KongVersion::from_str(text)
            .map(|v| Some(v.to_string()))
            .map_err(|e| {
                Diagnostic::error("Invalid Kong version", e.to_string())
                    .at(AttrPath::root("target_version"))
            }),
    }
}

/// Checks that need no network and tolerate unknown values.
pub(super) fn validate_config(config: &Value, write_only_allowed: bool) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let mut keep = |r: Result<(), Diagnostic>| {
        if let Err(d) = r {
            diags.push(d)
        }
    };
    keep(parse_phase(config).map(drop));
    keep(parse_target_version(config).map(drop));
    keep(seconds(config, "db_timeout").map(drop));
    keep(seconds(config, "lock_timeout").map(drop));
    for op in ["create", "update"] {
        keep(timeouts::timeout(config, op, DEFAULT_APPLY_TIMEOUT).map(drop));
    }
    diags.extend(database::validate(
        config.attr("database"),
        &AttrPath::root("database"),
        write_only_allowed,
    ));
    diags.extend(runner::validate(
        config.attr("runner"),
        &AttrPath::root("runner"),
    ));
    diags
}

pub(super) fn parse_settings(config: &Value) -> Result<PhaseSettings, Diagnostics> {
    let mut diags = Diagnostics::new();
    let phase = parse_phase(config)
        .map_err(|d| diags.push(d))
        .ok()
        .flatten();
    let target_version = parse_target_version(config)
        .map_err(|d| diags.push(d))
        .ok()
        .flatten();
    let db_timeout = seconds(config, "db_timeout")
        .map_err(|d| diags.push(d))
        .ok()
        .flatten();
    let lock_timeout = seconds(config, "lock_timeout")
        .map_err(|d| diags.push(d))
        .ok()
        .flatten();
    let database = database::parse(config.attr("database"), AttrPath::root("database"))
        .map_err(|d| diags.extend(d));
    let runner =
        runner::parse(config.attr("runner"), AttrPath::root("runner")).map_err(|d| diags.extend(d));
    match (phase, target_version, database, runner) {
        (Some(phase), Some(target_version), Ok(database), Ok(runner)) if !diags.has_errors() => {
            Ok(PhaseSettings {
                phase,
                target_version,
                force: config.attr("force").as_bool().unwrap_or(false),
                db_timeout,
                lock_timeout,
                database,
                runner,
                database_block: config.attr("database").clone(),
                runner_block: config.attr("runner").clone(),
            })
        }
        _ => Err(diags),
    }
}

// ---------------------------------------------------------------------- id

/// `host:port/database[/schema]/phase@version`, from a configuration;
/// `None` while any part is unknown.
pub(super) fn id_of(config: &Value) -> Option<String> {
    let db = config.attr("database");
    let host = db.attr("host").as_str()?;
    let port = match db.attr("port") {
        Value::Null => i64::from(database::DEFAULT_PORT),
        v => v.as_i64()?,
    };
    let name = match db.attr("database") {
        Value::Null => database::DEFAULT_DATABASE,
        v => v.as_str()?,
    };
    let schema = match db.attr("schema") {
        Value::Null => None,
        v => Some(v.as_str()?),
    };
    let phase = config.attr("phase").as_str()?;
    let version = config.attr("target_version").as_str()?;
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let schema = schema.map(|s| format!("/{s}")).unwrap_or_default();
    Some(format!("{host}:{port}/{name}{schema}/{phase}@{version}"))
}

/// What an import ID names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ImportTarget {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) database: String,
    pub(super) schema: Option<String>,
    pub(super) phase: MigrationPhase,
    pub(super) target_version: String,
}

pub(super) const IMPORT_FORMAT: &str =
    "host:port/database/phase@target_version (or host:port/database/schema/phase@target_version), e.g. db.internal:5432/kong/up@3.6.1";

pub(super) fn parse_import_id(id: &str) -> Result<ImportTarget, String> {
    let bad = |why: &str| format!("import ID {id:?}: {why}; expected {IMPORT_FORMAT}");
    let (authority, path) = id.split_once('/').ok_or_else(|| bad("no database"))?;
    let (host, port) = authority.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
    let (path, target_version) = path
        .rsplit_once('@')
        .ok_or_else(|| bad("no @target_version"))?;
    KongVersion::from_str(target_version).map_err(|e| bad(&e.to_string()))?;
    let parts: Vec<&str> = path.split('/').collect();
    let (database, schema, phase) = match parts[..] {
        [database, phase] => (database, None, phase),
        [database, schema, phase] => (database, Some(schema), phase),
        _ => return Err(bad("expected database[/schema]/phase before @")),
    };
    if host.is_empty() || database.is_empty() || schema.is_some_and(str::is_empty) {
        return Err(bad("empty host, database or schema"));
    }
    Ok(ImportTarget {
        host: host.to_owned(),
        port,
        database: database.to_owned(),
        schema: schema.map(str::to_owned),
        phase: phase
            .parse()
            .map_err(|e: crate::migrations::UnknownPhase| bad(&e.to_string()))?,
        target_version: target_version.to_owned(),
    })
}
