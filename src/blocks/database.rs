//! `database { ... }`: how to reach one Kong datastore (Kong's `pg_*`
//! settings), parsed into a [`DatabaseConfig`].
//!
//! The password comes from exactly one of `password` (sensitive, kept in
//! state like every argument) or `password_wo` (write-only: Terraform ≥ 1.11
//! never stores it in plan or state). Either is read from the configuration
//! at every plan and apply, so rotating it needs no special step;
//! `password_wo_version` only makes a rotation visible in the plan.

use super::{seconds_attr, string_attr};
use crate::migrations::{
    DatabaseConfig, MigrationsError, Secret, SslMode, DEFAULT_DATABASE_TIMEOUT,
};
use tfplug::{
    AttrPath, Attribute, Block, Check, Constraint, Diagnostic, Diagnostics, NestedBlock, PemKind,
    Value,
};

pub const BLOCK_NAME: &str = "database";
pub const DEFAULT_PORT: u16 = 5432;
pub const DEFAULT_USER: &str = "kong";
pub const DEFAULT_DATABASE: &str = "kong";

/// The block for managed resources: `password` or write-only `password_wo`.
pub fn block() -> NestedBlock {
    NestedBlock::single(BLOCK_NAME, attributes(true)).min_items(1)
}

/// The block for data sources, whose configuration Terraform keeps in state
/// anyway and which cannot have write-only attributes: `password` only.
pub fn data_source_block() -> NestedBlock {
    NestedBlock::single(BLOCK_NAME, attributes(false)).min_items(1)
}

fn attributes(write_only: bool) -> Block {
    let mut b = Block::new()
        .describe("The PostgreSQL database of the Kong cluster (Kong's `pg_*` settings). The provider reads `schema_meta` and `locks` there with its own connection, and passes the same settings to the `kong` CLI as `KONG_PG_*` environment variables (the password never appears in an argv).")
        .attr(Attribute::string("host").required().describe("Host name or address of the PostgreSQL server (`pg_host`)."))
        .attr(Attribute::number("port").optional().check(Check::WholeNumber { min: 1, max: 65_535 }).describe("Port (`pg_port`). Default `5432`."))
        .attr(Attribute::string("user").optional().describe("Role to log in as (`pg_user`). Default `kong`."))
        .attr(password_attribute(write_only));
    if write_only {
        b = b
            .constraint(Constraint::ExactlyOneOf(vec!["password".into(), "password_wo".into()]))
            .attr(
                Attribute::string("password_wo")
                    .optional()
                    .sensitive()
                    .write_only()
                    .describe("Write-only password of `user` (Terraform ≥ 1.11): read at every plan and apply, never stored in plan or state. No default."),
            )
            .attr(Attribute::number("password_wo_version").optional().describe(
                "Any number; change it when `password_wo` changes so the rotation shows in the plan (Terraform cannot compare write-only values). The provider reads the current password at every plan and apply either way. Default: none.",
            ));
    }
    b.attr(Attribute::string("database").optional().describe("Database name (`pg_database`). Default `kong`."))
        .attr(Attribute::string("schema").optional().describe("Schema holding Kong's tables (`pg_schema`). Default: the server's `search_path`."))
        .attr(Attribute::string("sslmode").optional().check(Check::one_of(SslMode::ALL.map(SslMode::as_str))).describe(
            "TLS towards PostgreSQL, with libpq's meanings: `disable`, `prefer` (the default: TLS if offered, Kong told `pg_ssl = off`), `require` (encrypted, certificate not checked; Kong told `pg_ssl = on`) or `verify-full` (certificate and host name checked; Kong told `pg_ssl_verify = on`).",
        ))
        .attr(Attribute::string("ssl_root_cert").optional().check(Check::Pem(PemKind::Certificate)).describe("PEM CA certificates trusted for `verify-full`, on top of the Web PKI roots. Default: the Web PKI roots only."))
        .attr(Attribute::number("connect_timeout").optional().check(Check::WholeNumber { min: 1, max: 604_800 }).describe("Seconds allowed for connecting and for each statement the provider runs. Default `10`."))
}

/// `password`: one of two for managed resources (with `password_wo`),
/// required for data sources, where no write-only attribute exists.
fn password_attribute(write_only: bool) -> Attribute {
    let a = Attribute::string("password").sensitive();
    if write_only {
        a.optional().describe("Password of `user` (`pg_password`). Stored in state (marked sensitive); on Terraform ≥ 1.11 prefer `password_wo`, which is never stored. No default.")
    } else {
        a.required().describe("Password of `user` (`pg_password`).")
    }
}

/// `password_wo` on a Terraform that would store it (< 1.11): refused.
/// Exactly one of `password`/`password_wo` is the schema's constraint;
/// whether this Terraform can keep a write-only value is the client's.
/// Apart from [`validate`] so a caller can check it while other values are
/// still unknown (Terraform's first validation, which stops before planning
/// on any error); an unknown `password_wo` counts as set.
pub fn validate_write_only(
    block: &Value,
    path: &AttrPath,
    write_only_allowed: bool,
) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if block.is_null() || block.is_unknown() || write_only_allowed {
        return diags;
    }
    if !block.attr("password_wo").is_null() {
        diags.push(super::write_only_needs_terraform_1_11(
            path.clone().attr("password_wo"),
            "password",
            "password_wo",
            "password",
        ));
    }
    diags
}

/// Plan-time checks of the block's value, tolerant of unknown values (they
/// are checked again once known). `write_only_allowed` is the client's
/// capability: older cores would store `password_wo` in state.
pub fn validate(block: &Value, path: &AttrPath, write_only_allowed: bool) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if block.is_null() || block.is_unknown() {
        return diags;
    }
    diags.extend(validate_write_only(block, path, write_only_allowed));
    let set = |name: &str| !block.attr(name).is_null();
    if set("password_wo_version") && !set("password_wo") {
        diags.error_at(
            path.clone().attr("password_wo_version"),
            "password_wo_version without password_wo",
            "password_wo_version tracks rotations of password_wo; remove it or set password_wo.",
        );
    }
    if let Err(d) = port(block, path) {
        diags.push(d);
    }
    if let Some(mode) = block.attr("sslmode").as_str() {
        if let Err(e) = mode.parse::<SslMode>() {
            diags.push(
                Diagnostic::error("Invalid sslmode", e.to_string())
                    .at(path.clone().attr("sslmode")),
            );
        }
    }
    if let Err(d) = seconds_attr(block, "connect_timeout", path) {
        diags.push(d);
    }
    diags
}

fn port(block: &Value, path: &AttrPath) -> Result<u16, Diagnostic> {
    let value = block.attr("port");
    if value.is_null() || value.is_unknown() {
        return Ok(DEFAULT_PORT);
    }
    tfplug::read::<u16>(value, &path.clone().attr("port"))
        .ok()
        .and_then(tfplug::Known::value)
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            Diagnostic::error(
                "Invalid port",
                format!("port must be a whole number from 1 to 65535, got {value}."),
            )
            .at(path.clone().attr("port"))
        })
}

/// The settings in a wholly known `database` block (from the configuration,
/// where write-only values are).
pub fn parse(block: &Value, path: AttrPath) -> Result<DatabaseConfig, Diagnostics> {
    if block.is_null() {
        return Err(Diagnostic::error(
            "Missing database block",
            "A database { ... } block is required.",
        )
        .at(path)
        .into());
    }
    if !block.is_wholly_known() {
        return Err(Diagnostic::error(
            "Database settings not known yet",
            "The database settings depend on values known only after apply.",
        )
        .at(path)
        .into());
    }
    let mut diags = Diagnostics::new();
    let port = port(block, &path)
        .map_err(|d| diags.push(d))
        .unwrap_or(DEFAULT_PORT);
    let password = string_attr(block, "password_wo")
        .or_else(|| string_attr(block, "password"))
        .unwrap_or_default();
    let mut cfg = DatabaseConfig::new(
        string_attr(block, "host").unwrap_or_default(),
        port,
        string_attr(block, "user").unwrap_or_else(|| DEFAULT_USER.to_owned()),
        Secret::new(password),
        string_attr(block, "database").unwrap_or_else(|| DEFAULT_DATABASE.to_owned()),
    );
    cfg.schema = string_attr(block, "schema");
    cfg.ssl_root_cert_pem = string_attr(block, "ssl_root_cert");
    if let Some(mode) = block.attr("sslmode").as_str() {
        match mode.parse::<SslMode>() {
            Ok(mode) => cfg.sslmode = mode,
            Err(e) => diags.push(
                Diagnostic::error("Invalid sslmode", e.to_string())
                    .at(path.clone().attr("sslmode")),
            ),
        }
    }
    match seconds_attr(block, "connect_timeout", &path) {
        Ok(timeout) => cfg.timeout = timeout.unwrap_or(DEFAULT_DATABASE_TIMEOUT),
        Err(d) => diags.push(d),
    }
    if let Err(e) = cfg.validate() {
        diags.push(error_diagnostic(&e, block, path.clone()));
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(cfg)
    }
}

/// A PostgreSQL edge error as a diagnostic on the attribute of the
/// `database` block (value `block`, at `path`) most likely at fault: the
/// password for a refused login, the host for an unreachable server (so
/// Terraform can point at its line). The error texts name the server and
/// never contain the password.
pub fn error_diagnostic(e: &MigrationsError, block: &Value, path: AttrPath) -> Diagnostic {
    let set = |name: &'static str| (!block.attr(name).is_null()).then_some(name);
    let attribute = match e {
        MigrationsError::AuthenticationFailed { .. } => {
            set("password_wo").or(set("password")).or(set("user"))
        }
        MigrationsError::DatabaseNotFound { .. } => set("database"),
        MigrationsError::PermissionDenied { .. } => set("user").or(set("schema")),
        MigrationsError::Tls { .. } => set("sslmode"),
        MigrationsError::Unreachable { .. } | MigrationsError::ConnectTimeout { .. } => set("port"),
        MigrationsError::InvalidConfig(_)
        | MigrationsError::StatementTimeout { .. }
        | MigrationsError::Query { .. } => None,
    }
    .unwrap_or("host");
    let summary = match e {
        MigrationsError::InvalidConfig(_) => "Invalid database settings",
        MigrationsError::Unreachable { .. } | MigrationsError::ConnectTimeout { .. } => {
            "Cannot reach the Kong database"
        }
        MigrationsError::AuthenticationFailed { .. } => "The Kong database rejected the login",
        MigrationsError::DatabaseNotFound { .. } => "Kong database not found",
        MigrationsError::PermissionDenied { .. } => "No permission to read Kong's migration tables",
        MigrationsError::Tls { .. } => "TLS to the Kong database failed",
        MigrationsError::StatementTimeout { .. } | MigrationsError::Query { .. } => {
            "Reading Kong's migration state failed"
        }
    };
    Diagnostic::error(summary, e.to_string()).at(path.attr(attribute))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_value(pairs: &[(&str, Value)]) -> Value {
        let mut v = Value::object([
            ("host", Value::Null),
            ("port", Value::Null),
            ("user", Value::Null),
            ("password", Value::Null),
            ("password_wo", Value::Null),
            ("password_wo_version", Value::Null),
            ("database", Value::Null),
            ("schema", Value::Null),
            ("sslmode", Value::Null),
            ("ssl_root_cert", Value::Null),
            ("connect_timeout", Value::Null),
        ]);
        for (k, val) in pairs {
            v.set_attr(k, val.clone());
        }
        v
    }

    fn root() -> AttrPath {
        AttrPath::root("database")
    }

    fn paths(d: &Diagnostics) -> Vec<String> {
        d.iter()
            .map(|d| d.path.as_ref().map(ToString::to_string).unwrap_or_default())
            .collect()
    }

    #[test]
    fn defaults_are_kongs() {
        let cfg = parse(
            &block_value(&[("host", "db".into()), ("password", "pw".into())]),
            root(),
        )
        .unwrap();
        assert_eq!(
            (cfg.port, cfg.user.as_str(), cfg.database.as_str()),
            (5432, "kong", "kong")
        );
        assert_eq!(cfg.sslmode, SslMode::Prefer);
        assert_eq!(cfg.timeout, DEFAULT_DATABASE_TIMEOUT);
        assert_eq!(cfg.password.expose(), "pw");
    }

    #[test]
    fn the_write_only_password_wins_and_settings_are_read() {
        let cfg = parse(
            &block_value(&[
                ("host", "db".into()),
                ("port", Value::from(6543i64)),
                ("password_wo", "wo-secret".into()),
                ("schema", "kong_s".into()),
                ("sslmode", "require".into()),
                ("connect_timeout", Value::from(3i64)),
            ]),
            root(),
        )
        .unwrap();
        assert_eq!(cfg.password.expose(), "wo-secret");
        assert_eq!((cfg.port, cfg.schema.as_deref()), (6543, Some("kong_s")));
        assert_eq!(cfg.sslmode, SslMode::Require);
        assert_eq!(cfg.timeout, std::time::Duration::from_secs(3));
    }

    #[test]
    fn exactly_one_password_and_write_only_only_where_supported() {
        let both = block_value(&[
            ("host", "db".into()),
            ("password", "a".into()),
            ("password_wo", "b".into()),
        ]);
        // Exactly one of the two is the schema's constraint, judged at validate.
        let schema = tfplug::Schema::new(0, Block::new().block(block()));
        let judged =
            |db: &Value| paths(&schema.validate(&Value::object([("database", db.clone())])));
        assert_eq!(judged(&both), ["database.password_wo"]);
        let none = block_value(&[("host", "db".into())]);
        assert_eq!(judged(&none), ["database.password"]);
        assert!(validate(&both, &root(), true).is_empty());
        let wo = block_value(&[("host", "db".into()), ("password_wo", "b".into())]);
        assert!(validate(&wo, &root(), true).is_empty());
        assert_eq!(
            paths(&validate(&wo, &root(), false)),
            ["database.password_wo"]
        );
        let unknown = block_value(&[("host", "db".into()), ("password", Value::Unknown)]);
        assert!(
            validate(&unknown, &root(), false).is_empty(),
            "an unknown password counts as set"
        );
        let version_alone = block_value(&[
            ("host", "db".into()),
            ("password", "a".into()),
            ("password_wo_version", Value::from(1i64)),
        ]);
        assert_eq!(
            paths(&validate(&version_alone, &root(), true)),
            ["database.password_wo_version"]
        );
    }

    #[test]
    fn bad_values_point_at_their_attribute() {
        let bad = block_value(&[
            ("host", "db".into()),
            ("password", "a".into()),
            ("port", Value::from(70000i64)),
            ("sslmode", "verify-ca".into()),
            ("connect_timeout", Value::from(-1i64)),
        ]);
        assert_eq!(
            paths(&validate(&bad, &root(), true)),
            [
                "database.port",
                "database.sslmode",
                "database.connect_timeout"
            ]
        );
        let refused = MigrationsError::AuthenticationFailed {
            address: "db:5432".into(),
            user: "kong".into(),
            detail: "no".into(),
        };
        let wo = block_value(&[("host", "db".into()), ("password_wo", "b".into())]);
        let d = error_diagnostic(&refused, &wo, root());
        assert_eq!(
            d.path.unwrap().to_string(),
            "database.password_wo",
            "the login's password line"
        );
        let unreachable = MigrationsError::Unreachable {
            address: "db:5432".into(),
            detail: "refused".into(),
        };
        assert_eq!(
            error_diagnostic(&unreachable, &wo, root())
                .path
                .unwrap()
                .to_string(),
            "database.host"
        );
        let empty_host = block_value(&[("host", "".into()), ("password", "a".into())]);
        let err = parse(&empty_host, root()).unwrap_err();
        assert!(err.to_string().contains("host must not be empty"), "{err}");
    }
}
