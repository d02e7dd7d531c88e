//! A Kong database per Terraform core and `kong_migration_phase`
//! configurations running kongsim's CLI, for the migration-phase tests.

use super::{Acceptance, TerraformVersion, TfOutput};
use std::process::Output;
use testbed::kongsim::{kongsim_bin, kongsim_cli};
use testbed::postgres::KONG_PASSWORD;
use testbed::Postgres;

/// One Kong database inside the test's PostgreSQL cluster.
pub struct Db<'a> {
    pub pg: &'a Postgres,
    pub name: String,
}

impl<'a> Db<'a> {
    pub fn create(pg: &'a Postgres, name: &str) -> Db<'a> {
        pg.psql_db("postgres", &format!("CREATE DATABASE {name} OWNER kong"))
            .unwrap();
        Db {
            pg,
            name: name.to_owned(),
        }
    }

    /// A database per Terraform core: `<prefix>_tf1155`.
    pub fn for_core(pg: &'a Postgres, prefix: &str, version: TerraformVersion) -> Db<'a> {
        Db::create(
            pg,
            &format!("{prefix}_tf{}", version.as_str().replace('.', "")),
        )
    }

    pub fn psql(&self, sql: &str) -> String {
        self.pg.psql_db(&self.name, sql).unwrap()
    }

    /// `schema_meta` as text, to prove a failed plan or apply left it alone.
    pub fn schema_meta(&self) -> String {
        self.psql(
            "SELECT coalesce(string_agg(subsystem || '|' || coalesce(last_executed, '') || '|' || array_to_string(executed, ',') \
             || '|' || array_to_string(pending, ','), E'\\n' ORDER BY subsystem), '') FROM schema_meta",
        )
    }

    /// `subsystem: pending names` lines of the subsystems with pending ones.
    pub fn pending(&self) -> String {
        self.psql(
            "SELECT coalesce(string_agg(subsystem || ': ' || array_to_string(pending, ', '), E'\\n' ORDER BY subsystem), '') \
             FROM schema_meta WHERE cardinality(pending) > 0",
        )
        .trim()
        .to_owned()
    }

    /// `kong migrations ...` of Kong `version` run outside Terraform.
    pub fn kong_outside(&self, version: &str, args: &[&str]) -> Output {
        let out = kongsim_cli(version, self.pg)
            .env("KONG_PG_DATABASE", &self.name)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kong {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn import_id(&self, phase: &str, version: &str) -> String {
        format!("127.0.0.1:{}/{}/{phase}@{version}", self.pg.port, self.name)
    }
}

/// The password lines of a `database` block: write-only where the core
/// supports it, so the password never reaches the state.
pub fn password_lines(core: TerraformVersion) -> String {
    if core.at_least(1, 11) {
        format!("    password_wo         = \"{KONG_PASSWORD}\"\n    password_wo_version = 1")
    } else {
        format!("    password = \"{KONG_PASSWORD}\"")
    }
}

pub fn database_block(db: &Db, core: TerraformVersion) -> String {
    format!(
        "  database {{\n    host     = \"127.0.0.1\"\n    port     = {}\n    database = \"{}\"\n{}\n  }}\n",
        db.pg.port,
        db.name,
        password_lines(core)
    )
}

pub fn command_runner(version: &str) -> String {
    format!(
        "  runner {{\n    command {{\n      argv = [\"{}\", \"--kong-version\", \"{version}\"]\n    }}\n  }}\n",
        kongsim_bin().display()
    )
}

/// A `kong_migration_phase` running kongsim's CLI of `version`.
pub fn phase(
    name: &str,
    phase: &str,
    version: &str,
    db: &Db,
    core: TerraformVersion,
    extra: &str,
) -> String {
    format!(
        "resource \"kong_migration_phase\" \"{name}\" {{\n  phase          = \"{phase}\"\n  target_version = \"{version}\"\n{extra}\n{}{}}}\n",
        database_block(db, core),
        command_runner(version)
    )
}

/// The names listed in a `migrations_to_run` value.
pub fn listed(values: &serde_json::Value) -> Vec<String> {
    values["migrations_to_run"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            let subsystem = s["subsystem"].as_str().unwrap().to_owned();
            s["migrations"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |m| format!("{subsystem}:{}", m.as_str().unwrap()))
        })
        .collect()
}

/// Whether Terraform's output mentions `needle`, however it wrapped lines.
pub fn mentions(out: &TfOutput, needle: &str) -> bool {
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    squash(&format!("{}\n{}", out.stdout, out.stderr)).contains(&squash(needle))
}

/// The text of the diagnostic about `resource` (from its `Error:`/`Warning:`
/// line to the next one).
pub fn diagnostic_about(out: &TfOutput, resource: &str) -> String {
    let text = format!("{}\n{}", out.stdout, out.stderr);
    let marker = format!("with kong_migration_phase.{resource},");
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("no diagnostic about {resource}:\n{out}"));
    let is_head = |l: &&str| l.contains("Error: ") || l.contains("Warning: ");
    let start = lines[..at].iter().rposition(&is_head).unwrap_or(0);
    let end = lines[at..]
        .iter()
        .position(&is_head)
        .map(|i| at + i)
        .unwrap_or(lines.len());
    lines[start..end].join("\n")
}

/// The configuration line a diagnostic points at (`on main.tf line N`).
pub fn pointed_line(acc: &Acceptance, diag: &str) -> String {
    let n: usize = diag
        .split("on main.tf line ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line in:\n{diag}"));
    let config = std::fs::read_to_string(acc.ws().dir().join("main.tf")).unwrap();
    config.lines().nth(n - 1).unwrap_or_default().to_owned()
}
