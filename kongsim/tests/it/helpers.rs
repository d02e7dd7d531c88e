use std::process::{Command, Stdio};
use testbed::kongsim::{kong_pg_env, KongSim, KongSimBuilder};
use testbed::Postgres;

pub const BIN: &str = env!("CARGO_BIN_EXE_kongsim");

/// A PostgreSQL cluster for one test.
pub fn postgres() -> Postgres {
    Postgres::start().expect("postgres starts")
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `kongsim --kong-version <version> migrations <args>` against `pg`.
pub fn migrations(version: &str, pg: &Postgres, args: &[&str]) -> Out {
    migrations_with_env(version, pg, args, &[])
}

pub fn migrations_with_env(
    version: &str,
    pg: &Postgres,
    args: &[&str],
    env: &[(&str, &str)],
) -> Out {
    let out = cli(version, pg)
        .arg("migrations")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .stdin(Stdio::null())
        .output()
        .expect("kongsim runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn cli(version: &str, pg: &Postgres) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--kong-version", version])
        .envs(kong_pg_env(pg))
        .env_remove("KONGSIM_KONG_VERSION");
    cmd
}

pub fn node(version: &str) -> KongSimBuilder {
    KongSim::builder(version).binary(BIN)
}

/// One value from the `kong` database (psql -At output, trimmed).
pub fn sql(pg: &Postgres, query: &str) -> String {
    pg.psql(query).expect("psql").trim().to_string()
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}
