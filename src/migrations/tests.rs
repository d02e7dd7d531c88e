//! Reading Kong's bookkeeping from a real PostgreSQL (testbed), with the
//! tables and rows created by SQL exactly as Kong's connector creates them.

use super::*;
use std::time::Duration;
use testbed::postgres::KONG_PASSWORD;
use testbed::Postgres;

/// `schema_bootstrap` of Kong's PostgreSQL connector.
const KONG_BOOTSTRAP_SQL: &str = "
CREATE TABLE IF NOT EXISTS schema_meta (
  key TEXT, subsystem TEXT, last_executed TEXT, executed TEXT[], pending TEXT[],
  PRIMARY KEY (key, subsystem));
CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, owner TEXT, ttl TIMESTAMP WITH TIME ZONE);
CREATE INDEX IF NOT EXISTS locks_ttl_idx ON locks (ttl);";

fn config(pg: &Postgres) -> DatabaseConfig {
    let mut cfg = DatabaseConfig::new(
        "127.0.0.1",
        pg.port,
        "kong",
        Secret::new(KONG_PASSWORD),
        "kong",
    );
    cfg.sslmode = SslMode::Disable;
    cfg.timeout = Duration::from_secs(5);
    cfg
}

/// Runs SQL as role `kong`, so it owns what it creates, as Kong would.
fn as_kong(pg: &Postgres, sql: &str) {
    pg.psql(&format!("SET ROLE kong; {sql}"))
        .expect("fixture SQL runs");
}

#[tokio::test]
async fn reads_bootstrap_state_rows_lock_and_schema() {
    let pg = Postgres::start().unwrap();
    let cfg = config(&pg);

    let fresh = read_schema_state(&cfg).await.unwrap();
    assert!(fresh.needs_bootstrap);
    assert!(fresh.subsystems.is_empty() && fresh.lock.is_none());

    as_kong(&pg, KONG_BOOTSTRAP_SQL);
    let empty = read_schema_state(&cfg).await.unwrap();
    assert!(
        !empty.needs_bootstrap,
        "an empty schema_meta is bootstrapped, as Kong sees it"
    );

    as_kong(
        &pg,
        "INSERT INTO schema_meta VALUES
           ('schema_meta', 'core', '022_350_to_360', ARRAY['000_base','021_340_to_350','022_350_to_360'], NULL),
           ('schema_meta', 'acme', '000_base_acme', ARRAY['000_base_acme'], ARRAY['003_350_to_360']),
           ('other_key', 'core', 'x', ARRAY['x'], NULL);
         INSERT INTO locks VALUES ('migrations', 'node-1f2e', now() + interval '45 seconds');",
    );
    let meta = read_schema_state(&cfg).await.unwrap();
    assert_eq!(
        meta.subsystems,
        vec![
            SubsystemRow {
                subsystem: "acme".into(),
                last_executed: Some("000_base_acme".into()),
                executed: vec!["000_base_acme".into()],
                pending: vec!["003_350_to_360".into()],
            },
            SubsystemRow {
                subsystem: "core".into(),
                last_executed: Some("022_350_to_360".into()),
                executed: vec![
                    "000_base".into(),
                    "021_340_to_350".into(),
                    "022_350_to_360".into()
                ],
                pending: vec![],
            },
        ],
        "only key 'schema_meta' rows, NULL arrays read as empty"
    );
    assert_eq!(meta.core_last_executed(), Some("022_350_to_360"));
    assert_eq!(meta.schema_level(), Some("3.6"));
    let lock = meta.lock.expect("the unexpired lock is reported");
    assert_eq!(lock.owner, "node-1f2e");
    assert!(
        lock.expires_in > Duration::from_secs(30) && lock.expires_in <= Duration::from_secs(45)
    );
    assert!(
        lock.expires_at.ends_with('Z') && lock.expires_at.contains('T'),
        "{}",
        lock.expires_at
    );

    as_kong(&pg, "UPDATE locks SET ttl = now() - interval '1 second'");
    assert_eq!(
        read_schema_state(&cfg).await.unwrap().lock,
        None,
        "an expired lock is free, as Kong treats it"
    );

    // The classification over a real read: 3.6.1 code vs this database.
    let known = KnownMigrations::from_catalog("3.6.1").unwrap();
    let state = classify(&read_schema_state(&cfg).await.unwrap(), &known);
    assert_eq!(state.subsystem("acme").unwrap().pending, ["003_350_to_360"]);

    // Kong's pg_schema: another schema has its own bookkeeping.
    as_kong(
        &pg,
        &format!(
            "CREATE SCHEMA kong_blue; SET search_path TO kong_blue; {KONG_BOOTSTRAP_SQL}
             INSERT INTO schema_meta VALUES ('schema_meta', 'core', '000_base', ARRAY['000_base'], NULL);"
        ),
    );
    let mut blue = cfg.clone();
    blue.schema = Some("kong_blue".into());
    let meta = read_schema_state(&blue).await.unwrap();
    assert_eq!(meta.core_last_executed(), Some("000_base"));
    blue.schema = Some("no_such_schema".into());
    assert!(read_schema_state(&blue).await.unwrap().needs_bootstrap);
}

#[tokio::test]
async fn connection_failures_are_typed_and_never_show_the_password() {
    let pg = Postgres::start().unwrap();

    let mut wrong = config(&pg);
    wrong.password = Secret::new("definitely-wrong-pw");
    let err = read_schema_state(&wrong).await.unwrap_err();
    assert!(
        matches!(err, MigrationsError::AuthenticationFailed { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{}", pg.port)) && text.contains("\"kong\""),
        "{text}"
    );
    assert!(
        !text.contains("definitely-wrong-pw")
            && !format!("{err:?}").contains("definitely-wrong-pw")
    );

    let mut missing = config(&pg);
    missing.database = "no_such_db".into();
    let err = read_schema_state(&missing).await.unwrap_err();
    assert!(
        matches!(err, MigrationsError::DatabaseNotFound { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"no_such_db\""), "{err}");

    // Tables owned by another role, as when Kong ran as a different user.
    pg.psql(KONG_BOOTSTRAP_SQL).unwrap();
    let err = read_schema_state(&config(&pg)).await.unwrap_err();
    assert!(
        matches!(err, MigrationsError::PermissionDenied { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("schema_meta"), "{err}");

    let mut unreachable = config(&pg);
    unreachable.port = testbed::free_port();
    let err = read_schema_state(&unreachable).await.unwrap_err();
    assert!(
        matches!(err, MigrationsError::Unreachable { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{}", unreachable.port)),
        "{err}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out_with_the_address() {
    // Accepts TCP and never speaks: a firewall black hole or a hung server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut cfg = DatabaseConfig::new("127.0.0.1", port, "kong", Secret::new("x-password"), "kong");
    cfg.sslmode = SslMode::Disable;
    cfg.timeout = Duration::from_millis(300);
    let err = read_schema_state(&cfg).await.unwrap_err();
    assert!(
        matches!(err, MigrationsError::ConnectTimeout { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    drop(listener);
}

#[tokio::test]
async fn tls_modes_behave_like_libpq() {
    let pg = Postgres::start().unwrap();
    let mut cfg = config(&pg);
    cfg.sslmode = SslMode::Require;
    let err = read_schema_state(&cfg).await.unwrap_err();
    assert!(
        matches!(err, MigrationsError::Tls { .. }),
        "TLS required from a plain server: {err:?}"
    );

    let certs = TestCerts::issue();
    let dir = certs.dir.path();
    for setting in [
        format!("ssl_cert_file = '{}'", dir.join("server.crt").display()),
        format!("ssl_key_file = '{}'", dir.join("server.key").display()),
        "ssl = on".to_owned(),
    ] {
        pg.psql(&format!("ALTER SYSTEM SET {setting}")).unwrap();
    }
    pg.psql("SELECT pg_reload_conf()").unwrap();
    wait_for_ssl(&pg);

    cfg.sslmode = SslMode::Require;
    assert!(
        read_schema_state(&cfg).await.unwrap().needs_bootstrap,
        "require encrypts without verifying"
    );
    cfg.sslmode = SslMode::VerifyFull;
    let err = read_schema_state(&cfg).await.unwrap_err();
    assert!(
        matches!(err, MigrationsError::Tls { .. }),
        "an unknown CA fails verify-full: {err:?}"
    );
    cfg.ssl_root_cert_pem = Some(certs.ca_pem.clone());
    assert!(
        read_schema_state(&cfg).await.unwrap().needs_bootstrap,
        "verify-full with the right CA"
    );
}

fn wait_for_ssl(pg: &Postgres) {
    for _ in 0..50 {
        if pg
            .psql("SHOW ssl")
            .map(|s| s.trim() == "on")
            .unwrap_or(false)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("PostgreSQL did not turn ssl on");
}

/// A CA and a server certificate for 127.0.0.1, made with openssl, readable
/// by the `postgres` user (the server refuses a key others can read).
struct TestCerts {
    dir: tempfile::TempDir,
    ca_pem: String,
}

impl TestCerts {
    fn issue() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        std::fs::write(
            d.join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=kong-test-ca",
            "-days",
            "2",
        ]);
        run(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ]);
        let status = std::process::Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(d)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::set_permissions(
            d.join("server.key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let ca_pem = std::fs::read_to_string(d.join("ca.crt")).unwrap();
        TestCerts { dir, ca_pem }
    }
}
