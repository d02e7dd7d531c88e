//! A throwaway PostgreSQL cluster: `initdb` + `pg_ctl` in a temp dir on a free
//! loopback port, trust authentication for the superuser `postgres` plus a
//! password-authenticated `kong` role owning database `kong`.

use crate::process::{find_program, free_port, wait_for_tcp};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PG_BIN_DIRS: &[&str] = &[
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
];

/// Password of the `kong` role every cluster is created with.
pub const KONG_PASSWORD: &str = "kong-test-password";

pub struct Postgres {
    pub port: u16,
    bin_dir: PathBuf,
    data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Starts a fresh cluster with a `kong` database owned by role `kong`.
    pub fn start() -> Result<Self, String> {
        let initdb = find_program("initdb", PG_BIN_DIRS)
            .ok_or("initdb not found: install Debian's postgresql package")?;
        // /usr/local/bin/initdb may be a symlink; psql and pg_ctl live beside
        // the real binary.
        let initdb = initdb.canonicalize().unwrap_or(initdb);
        let bin_dir = initdb.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = tempfile::Builder::new()
            .prefix("kong-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let data_dir = dir.path().join("data");
        let port = free_port();
        // PostgreSQL refuses to run as root; the sandbox is usually root.
        let as_postgres = running_as_root();
        if as_postgres {
            chown_to_postgres(dir.path())?;
        }
        run(
            &bin_dir,
            as_postgres,
            "initdb",
            &[
                "-D",
                path_str(&data_dir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n",
            dir.path().display()
        );
        append(&data_dir.join("postgresql.conf"), &conf)?;
        // Password auth over TCP for everyone but the superuser, so tests can
        // exercise a wrong password; `postgres` stays trusted for fixtures.
        std::fs::write(
            data_dir.join("pg_hba.conf"),
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )
        .map_err(|e| e.to_string())?;
        let log = dir.path().join("postgres.log");
        run(
            &bin_dir,
            as_postgres,
            "pg_ctl",
            &[
                "-D",
                path_str(&data_dir),
                "-l",
                path_str(&log),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        wait_for_tcp(port, Duration::from_secs(30))?;
        let pg = Postgres {
            port,
            bin_dir,
            data_dir,
            _dir: dir,
        };
        // Two statements: CREATE DATABASE cannot run inside psql's implicit
        // transaction for a multi-statement -c.
        pg.psql_as_superuser(&format!(
            "CREATE ROLE kong LOGIN PASSWORD '{KONG_PASSWORD}'"
        ))?;
        pg.psql_as_superuser("CREATE DATABASE kong OWNER kong")?;
        Ok(pg)
    }

    /// Runs SQL as the superuser against database `kong`; returns stdout
    /// (unaligned, tuples only).
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        self.psql_db("kong", sql)
    }

    fn psql_as_superuser(&self, sql: &str) -> Result<String, String> {
        self.psql_db("postgres", sql)
    }

    pub fn psql_db(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin_dir.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "psql failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A libpq URL for role `kong` on database `kong`.
    pub fn kong_url(&self) -> String {
        format!(
            "postgres://kong:{KONG_PASSWORD}@127.0.0.1:{}/kong",
            self.port
        )
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = run(
            &self.bin_dir,
            running_as_root(),
            "pg_ctl",
            &[
                "-D",
                path_str(&self.data_dir),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chown_to_postgres(dir: &Path) -> Result<(), String> {
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres", path_str(dir)])
        .status()
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err("cannot chown the PostgreSQL temp dir to user postgres (is the postgresql package installed?)".into())
    }
}

fn run(bin_dir: &Path, as_postgres: bool, program: &str, args: &[&str]) -> Result<(), String> {
    let binary = bin_dir.join(program);
    let mut cmd = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&binary);
        c
    } else {
        Command::new(&binary)
    };
    let out = cmd
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| e.to_string())?;
    f.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_a_cluster_with_a_password_protected_kong_role() {
        let pg = Postgres::start().expect("postgres starts");
        assert_eq!(pg.psql("SELECT current_database()").unwrap().trim(), "kong");
        let wrong = Command::new(pg.bin_dir().join("psql"))
            .env("PGPASSWORD", "wrong")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &pg.port.to_string(),
                "-U",
                "kong",
                "-d",
                "kong",
                "-c",
                "select 1",
            ])
            .output()
            .unwrap();
        assert!(!wrong.status.success(), "a wrong password must be refused");
    }
}
