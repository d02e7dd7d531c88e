//! The `kong_upgrade` configuration, parsed into typed settings. Parsing
//! reads the *configuration* (write-only values live only there) and
//! reports every problem as a diagnostic on the attribute at fault.

use crate::admin_api;
use crate::blocks;
use crate::blocks::runner::RunnerSettings;
use crate::blocks::traffic::TrafficSettings;
use crate::kong::AdminSettings;
use crate::migrations::DatabaseConfig;
use crate::planner::{OnDestroy, PublishedTraffic, Strategy, TargetPhase};
use crate::steps::readiness::NodeEndpoints;
use crate::steps::staging::StagingRequest;
use crate::traffic::SplitReader;
use crate::traffic::{Driver, Progression, TrafficWeight};
use crate::version::KongVersion;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use tfplug::{AttrPath, Diagnostics, Value};

pub struct Cluster {
    pub admin_url: String,
    pub nodes: Vec<NodeEndpoints>,
    pub proxy_url: Option<String>,
    pub admin: AdminSettings,
}

pub struct Backup {
    pub store: crate::steps::backup_stream::BackupStore,
    pub enabled: bool,
    pub declarative_config_path: Option<PathBuf>,
    pub pg_tools: crate::steps::pg_tools::PgTools,
}

/// What the planner needs, available from configuration alone (plan time,
/// even when secrets or endpoints are not usable yet).
pub struct Intent {
    pub strategy: Strategy,
    pub from_version: Option<KongVersion>,
    pub to_version: KongVersion,
    pub target: TargetPhase,
    pub allow_downtime: bool,
    pub accept_unsupported_path: bool,
    pub on_destroy: OnDestroy,
    pub hooks: BTreeMap<String, Vec<String>>,
    pub staging: Vec<StagingRequest>,
    pub backup: Option<Backup>,
    pub traffic_configured: bool,
    /// A `kong_traffic_split` owns the weights (`traffic_split_id`).
    pub traffic_owned_by_split: bool,
    /// The weights Y passes through on its way up (see [`traffic_steps`]).
    pub traffic_steps: Vec<i64>,
    /// The `external` driver (see [`published_traffic`]).
    pub published_traffic: Option<PublishedTraffic>,
    pub new_database_configured: bool,
}

impl Intent {
    pub fn hook_names(&self) -> BTreeSet<String> {
        self.hooks.keys().cloned().collect()
    }
}

/// Everything the executors need.
pub struct Settings {
    pub cluster_x: Cluster,
    pub cluster_y: Cluster,
    pub database: Option<DatabaseConfig>,
    pub new_database: Option<DatabaseConfig>,
    pub runner: Option<RunnerSettings>,
    pub traffic: Option<TrafficSettings>,
    /// `traffic_split_id`: the split this upgrade verifies but never moves.
    pub traffic_split: Option<SplitReader>,
}

fn named<T: std::str::FromStr>(
    v: &Value,
    attr: &str,
    default: Option<T>,
    diags: &mut Diagnostics,
) -> Option<T>
where
    T::Err: std::fmt::Display,
{
    match v.attr(attr).as_str() {
        None => default,
        Some(text) => match text.parse() {
            Ok(t) => Some(t),
            Err(e) => {
                diags.error_at(
                    AttrPath::root(attr),
                    format!("Invalid {attr}"),
                    e.to_string(),
                );
                None
            }
        },
    }
}

fn version(v: &Value, attr: &str, diags: &mut Diagnostics) -> Option<KongVersion> {
    named::<KongVersion>(v, attr, None, diags)
}

/// Every check of a wholly known configuration that needs no I/O, for
/// `terraform validate`: the intent, then the blocks' settings (parsed as
/// plan parses them, so validate and plan cannot disagree).
pub fn validate(config: &Value, write_only_allowed: bool) -> Diagnostics {
    let mut diags = match parse_intent(config) {
        Ok(_) => Diagnostics::new(),
        Err(d) => d,
    };
    for name in ["database", "new_database"] {
        diags.extend(blocks::database::validate(
            blocks::first(config.attr(name)),
            &AttrPath::root(name),
            write_only_allowed,
        ));
    }
    diags.extend(validate_write_only(config, write_only_allowed));
    diags.extend(blocks::runner::validate(
        blocks::first(config.attr("runner")),
        &AttrPath::root("runner"),
    ));
    if !diags.has_errors() {
        if let Err(d) = parse_settings(config, &AdminSettings::default()) {
            diags.extend(d);
        }
    }
    for op in ["create", "update", "delete"] {
        if let Err(d) = tfplug::timeouts::timeout(config, op, super::DEFAULT_TIMEOUT) {
            diags.push(d);
        }
    }
    diags
}

/// The gates' and the databases' write-only values, refused where this
/// Terraform would store them; tolerant of unknown values (checked before
/// they are known).
pub fn validate_write_only(config: &Value, write_only_allowed: bool) -> Diagnostics {
    let mut diags = blocks::gate::validate_write_only(
        blocks::first(config.attr("traffic")).attr("gate"),
        &AttrPath::root("traffic").attr("gate"),
        write_only_allowed,
    );
    for name in ["database", "new_database"] {
        diags.extend(blocks::database::validate_write_only(
            blocks::first(config.attr(name)),
            &AttrPath::root(name),
            write_only_allowed,
        ));
    }
    diags
}

pub fn parse_intent(config: &Value) -> Result<Intent, Diagnostics> {
    let mut diags = Diagnostics::new();
    let strategy = named::<Strategy>(config, "strategy", None, &mut diags);
    let from_version = version(config, "from_version", &mut diags);
    let to_version = version(config, "to_version", &mut diags);
    let on_destroy = named::<OnDestroy>(config, "on_destroy", Some(OnDestroy::Refuse), &mut diags);
    let target = config.attr("target_phase").as_str().and_then(|name| {
        let weight_y = blocks::whole::<i64>(config, "weight_y", &AttrPath::default(), &mut diags);
        TargetPhase::from_parts(name, weight_y)
            .map_err(|e| {
                diags.error_at(
                    AttrPath::root(e.field.attribute()),
                    "Invalid target phase",
                    e.message.clone(),
                )
            })
            .ok()
    });
    let hooks = parse_hooks(config.attr("hooks"), &mut diags);
    let staging = parse_staging(config.attr("staging_test"), &mut diags);
    let backup = parse_backup(config.attr("backup"), &mut diags);
    let split_by_id = blocks::traffic::split_locator(config)
        .map_err(|d| diags.extend(d))
        .is_ok_and(|locator| locator.is_some());
    let (Some(strategy), Some(to_version), Some(target), Some(on_destroy)) =
        (strategy, to_version, target, on_destroy)
    else {
        if !diags.has_errors() {
            diags.error(
                "Incomplete configuration",
                "strategy, to_version and target_phase must be known to plan an upgrade.",
            );
        }
        return Err(diags);
    };
    let uploads_without_download = backup.as_ref().is_some_and(|b| {
        matches!(
            b.store,
            crate::steps::backup_stream::BackupStore::Commands { download: None, .. }
        )
    });
    if strategy == Strategy::DualCluster && uploads_without_download {
        diags.error_at(
            AttrPath::root("backup").attr("download_command"),
            "Missing download_command",
            "dual_cluster restores the backup into new_database: set download_command to fetch back what upload_command stored.",
        );
    }
    blocks_the_strategy_needs(strategy, config, &mut diags);
    clusters_differ(config, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Intent {
        strategy,
        from_version,
        to_version,
        target,
        allow_downtime: config.attr("allow_downtime").as_bool().unwrap_or(false),
        accept_unsupported_path: config
            .attr("accept_unsupported_path")
            .as_bool()
            .unwrap_or(false),
        on_destroy,
        hooks,
        staging,
        backup,
        traffic_configured: !config.attr("traffic").is_null() || split_by_id,
        traffic_owned_by_split: split_by_id,
        traffic_steps: traffic_steps(config.attr("traffic")),
        published_traffic: published_traffic(config.attr("traffic")),
        new_database_configured: !config.attr("new_database").is_null(),
    })
}

/// The blocks a strategy needs, and those it would ignore, each refused on
/// the block: Y's migrations run on `database` (X's) for `in_place` and
/// `blue_green` and on `new_database` (restored from X's backup) for
/// `dual_cluster`, through `runner`; `rolling` runs no migrations.
fn blocks_the_strategy_needs(strategy: Strategy, config: &Value, diags: &mut Diagnostics) {
    let runs_migrations = strategy != Strategy::Rolling;
    let dual = strategy == Strategy::DualCluster;
    let rules = [
        ("database", runs_migrations, true),
        ("new_database", dual, dual),
        ("runner", runs_migrations, true),
    ];
    for (block, required, allowed) in rules {
        let present = !blocks::first(config.attr(block)).is_null();
        if required && !present {
            diags.error_at(
                AttrPath::root(block),
                format!("Missing {block} block"),
                format!("strategy = \"{strategy}\" needs a {block} {{ ... }} block."),
            );
        } else if present && !allowed {
            diags.error_at(
                AttrPath::root(block),
                format!("Unexpected {block} block"),
                format!(
                    "Only dual_cluster uses {block}; strategy = \"{strategy}\" would ignore it."
                ),
            );
        }
    }
}

/// `cluster_x` and `cluster_y` must be two clusters: the same Admin API in
/// both would upgrade a cluster into itself.
fn clusters_differ(config: &Value, diags: &mut Diagnostics) {
    let url = |name: &str| {
        let block = blocks::first(config.attr(name));
        block
            .attr("admin_url")
            .as_str()
            .and_then(|u| reqwest::Url::parse(u).ok())
    };
    if let (Some(x), Some(y)) = (url("cluster_x"), url("cluster_y")) {
        if x.origin() == y.origin()
            && x.path().trim_end_matches('/') == y.path().trim_end_matches('/')
        {
            diags.error_at(
                AttrPath::root("cluster_y").attr("admin_url"),
                "Same cluster twice",
                "cluster_y.admin_url names the same Admin API as cluster_x.admin_url: Y must be another cluster.",
            );
        }
    }
}

/// The weights Y passes through on its way up, each planned as its own
/// step (so the plan shows them and every one is checkpointed): explicit
/// `steps` as written (the planner checks them), or every multiple of
/// `step_weight` below 100, then 100. The multiples count from 0 whatever
/// the current weight, so the plan does not depend on where an earlier
/// apply stopped. The planner keeps those between the current weight and
/// the target.
fn traffic_steps(traffic: &Value) -> Vec<i64> {
    let block = blocks::first(traffic);
    if block.is_null() {
        return Vec::new();
    }
    // A fractional or out-of-range weight is refused on its attribute by
    // the schema and by `traffic::parse`; here it only drops out.
    let explicit: Vec<i64> = block
        .attr("steps")
        .elements()
        .iter()
        .filter_map(|step| step.attr("weight").as_i64())
        .collect();
    if !explicit.is_empty() {
        return explicit;
    }
    match block.attr("step_weight").as_i64() {
        // Zero or negative: the traffic block itself refuses it.
        Some(step) if step >= 1 => (1..)
            .map(|k: i64| k.saturating_mul(step))
            .take_while(|weight| *weight < 100)
            .chain([100])
            .collect(),
        _ => Vec::new(),
    }
}

/// With the `external` driver another resource applies the weights this
/// upgrade publishes; with `observe`, the planner walks the block's
/// progression one observed move per apply. A 100% step is always observed
/// before the steps that take X's traffic away (its gates are pending even
/// when the step sets `analysis = false`). An invalid block is `None` here
/// and refused on its attribute by [`parse_settings`].
fn published_traffic(traffic: &Value) -> Option<PublishedTraffic> {
    let settings = blocks::traffic::parse_observable(traffic, AttrPath::root("traffic"))
        .ok()
        .flatten()?;
    let Driver::External(external) = &settings.driver else {
        return None;
    };
    let observed = external.observe().map(|_| match settings.progression {
        Progression::Steps(mut specs) => {
            for spec in specs.iter_mut().filter(|s| s.weight == TrafficWeight::FULL) {
                spec.analysis = true;
            }
            Progression::Steps(specs)
        }
        other => other,
    });
    Some(PublishedTraffic { observed })
}

fn parse_hooks(v: &Value, diags: &mut Diagnostics) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (name, argv) in v.entries().into_iter().flatten() {
        let argv: Vec<String> = argv
            .elements()
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        if argv.first().is_none_or(|p| p.is_empty()) {
            diags.error_at(
                AttrPath::root("hooks").key(name),
                "Empty hook",
                format!("hook {name:?} needs at least the program to run"),
            );
            continue;
        }
        out.insert(name.clone(), argv);
    }
    out
}

fn parse_staging(v: &Value, diags: &mut Diagnostics) -> Vec<StagingRequest> {
    v.elements()
        .iter()
        .enumerate()
        .map(|(i, t)| StagingRequest {
            name: t.attr("name").as_str().unwrap_or_default().to_string(),
            method: t.attr("method").as_str().unwrap_or("GET").to_string(),
            path: t.attr("path").as_str().unwrap_or("/").to_string(),
            headers: admin_api::string_map(t.attr("headers")),
            body: t.attr("body").as_str().map(str::to_string),
            expect_status: blocks::whole::<u16>(
                t,
                "expect_status",
                &AttrPath::root("staging_test").index(i as i64),
                diags,
            ),
            compare_headers: t
                .attr("compare_headers")
                .elements()
                .iter()
                .filter_map(|h| h.as_str().map(str::to_string))
                .collect(),
        })
        .collect()
}

/// The `backup` block: exactly one of `directory` and `upload_command`
/// says where backups go; `download_command` only with `upload_command`.
fn parse_backup(v: &Value, diags: &mut Diagnostics) -> Option<Backup> {
    use crate::steps::backup_stream::BackupStore;
    let v = blocks::first(v);
    if v.is_null() {
        return None;
    }
    let argv = |attr: &str| {
        let list = v.attr(attr);
        (!list.is_null()).then(|| {
            list.elements()
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
    };
    let at = |attr: &str| AttrPath::root("backup").attr(attr);
    let (upload, download) = (argv("upload_command"), argv("download_command"));
    for (attr, command) in [("upload_command", &upload), ("download_command", &download)] {
        if command
            .as_ref()
            .is_some_and(|c| c.first().is_none_or(|p| p.trim().is_empty()))
        {
            diags.error_at(
                at(attr),
                "Empty command",
                format!("{attr} must start with the program to run."),
            );
        }
    }
    let store = match (v.attr("directory").as_str(), upload) {
        (Some(dir), None) => {
            if download.is_some() {
                diags.error_at(
                    at("download_command"),
                    "download_command without upload_command",
                    "download_command fetches back what upload_command stored; with directory, the restore reads the file there.",
                );
            }
            BackupStore::Directory(PathBuf::from(dir))
        }
        (None, Some(upload)) => BackupStore::Commands { upload, download },
        (Some(_), Some(_)) => {
            diags.error_at(
                at("upload_command"),
                "Conflicting backup destinations",
                "Set only one of directory (a local directory) and upload_command (a command that stores the stream elsewhere).",
            );
            return None;
        }
        (None, None) => {
            diags.error_at(
                at("directory"),
                "Missing backup destination",
                "Set directory (on the machine running Terraform) or upload_command (and download_command) to keep backups elsewhere, e.g. in an object store when runs are ephemeral.",
            );
            return None;
        }
    };
    Some(Backup {
        store,
        enabled: v.attr("enabled").as_bool().unwrap_or(true),
        declarative_config_path: v
            .attr("declarative_config_path")
            .as_str()
            .map(PathBuf::from),
        pg_tools: {
            let defaults = crate::steps::pg_tools::PgTools::default();
            let path = |attr: &str, default: PathBuf| {
                v.attr(attr).as_str().map(PathBuf::from).unwrap_or(default)
            };
            crate::steps::pg_tools::PgTools {
                pg_dump: path("pg_dump_path", defaults.pg_dump),
                pg_restore: path("pg_restore_path", defaults.pg_restore),
            }
        },
    })
}

fn parse_cluster(v: &Value, name: &str, provider: &AdminSettings) -> Result<Cluster, Diagnostics> {
    let Some(admin_url) = v.attr("admin_url").as_str() else {
        let mut d = Diagnostics::new();
        d.error_at(
            AttrPath::root(name).attr("admin_url"),
            "Missing admin_url",
            format!("{name}.admin_url is required."),
        );
        return Err(d);
    };
    let status_url = v.attr("status_url").as_str().map(str::to_string);
    let mut nodes = vec![NodeEndpoints {
        admin_url: admin_url.to_string(),
        status_url,
    }];
    for extra in v
        .attr("node_admin_urls")
        .elements()
        .iter()
        .filter_map(Value::as_str)
    {
        if extra != admin_url {
            nodes.push(NodeEndpoints {
                admin_url: extra.to_string(),
                status_url: None,
            });
        }
    }
    Ok(Cluster {
        admin_url: admin_url.to_string(),
        nodes,
        proxy_url: v.attr("proxy_url").as_str().map(str::to_string),
        admin: admin_api::with_overrides(provider, v),
    })
}

fn collect<T>(r: Result<T, Diagnostics>, diags: &mut Diagnostics) -> Option<T> {
    r.map_err(|d| diags.extend(d)).ok()
}

/// `None` when the block is absent; `Some(Err)` when it does not parse.
fn optional<T>(
    v: &Value,
    parse: impl FnOnce(&Value) -> Result<T, Diagnostics>,
    diags: &mut Diagnostics,
) -> Option<Option<T>> {
    if blocks::first(v).is_null() {
        return Some(None);
    }
    collect(parse(v), diags).map(Some)
}

pub fn parse_settings(config: &Value, provider: &AdminSettings) -> Result<Settings, Diagnostics> {
    let mut diags = Diagnostics::new();
    let cluster_x = collect(
        parse_cluster(config.attr("cluster_x"), "cluster_x", provider),
        &mut diags,
    );
    let cluster_y = collect(
        parse_cluster(config.attr("cluster_y"), "cluster_y", provider),
        &mut diags,
    );
    let database = optional(
        config.attr("database"),
        |v| blocks::database::parse(v, AttrPath::root("database")),
        &mut diags,
    );
    let new_database = optional(
        config.attr("new_database"),
        |v| blocks::database::parse(v, AttrPath::root("new_database")),
        &mut diags,
    );
    let runner = optional(
        config.attr("runner"),
        |v| blocks::runner::parse(v, AttrPath::root("runner")),
        &mut diags,
    );
    let traffic = collect(
        blocks::traffic::parse_observable(config.attr("traffic"), AttrPath::root("traffic")),
        &mut diags,
    );
    let traffic_split = collect(blocks::traffic::split_reader(config, provider), &mut diags);
    match (
        cluster_x,
        cluster_y,
        database,
        new_database,
        runner,
        traffic,
    ) {
        (
            Some(cluster_x),
            Some(cluster_y),
            Some(database),
            Some(new_database),
            Some(runner),
            Some(traffic),
        ) if !diags.has_errors() => Ok(Settings {
            cluster_x,
            cluster_y,
            database,
            new_database,
            runner,
            traffic,
            traffic_split: traffic_split.flatten(),
        }),
        _ => Err(diags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(attrs: Vec<(&str, Value)>) -> Value {
        Value::object(attrs)
    }

    fn steps(weights: &[i64]) -> Value {
        Value::List(
            weights
                .iter()
                .map(|w| Value::object([("weight", Value::from(*w))]))
                .collect(),
        )
    }

    #[test]
    fn traffic_steps_come_from_the_traffic_block() {
        let cases: Vec<(&str, Value, Vec<i64>)> = vec![
            ("no traffic block", Value::Null, vec![]),
            ("one step to the target", traffic(vec![]), vec![]),
            (
                "explicit steps, as written",
                traffic(vec![("steps", steps(&[10, 50]))]),
                vec![10, 50],
            ),
            (
                "explicit steps the planner will refuse are passed on",
                traffic(vec![("steps", steps(&[0, 100]))]),
                vec![0, 100],
            ),
            (
                "step_weight: its multiples, then 100",
                traffic(vec![("step_weight", Value::from(30))]),
                vec![30, 60, 90, 100],
            ),
            (
                "step_weight dividing 100",
                traffic(vec![("step_weight", Value::from(25))]),
                vec![25, 50, 75, 100],
            ),
            (
                "step_weight above 100",
                traffic(vec![("step_weight", Value::from(150))]),
                vec![100],
            ),
            (
                "step_weight 0 is the block's error, not a step list",
                traffic(vec![("step_weight", Value::from(0))]),
                vec![],
            ),
            (
                "as a one-element list (block nesting)",
                Value::List(vec![traffic(vec![("step_weight", Value::from(50))])]),
                vec![50, 100],
            ),
        ];
        for (case, block, expected) in cases {
            assert_eq!(traffic_steps(&block), expected, "{case}");
        }
    }
}
