//! The `kong_upgrade` schema.

use crate::admin_api;
use crate::blocks;
use crate::planner::{OnDestroy, Strategy, TargetPhase};
use tfplug::{Attribute, Block, Check, NestedBlock, Schema, Type};

pub const SCHEMA_VERSION: i64 = 0;

fn cluster_block(name: &str, which: &str) -> NestedBlock {
    let mut b = Block::new()
        .describe(&format!("Cluster {which}: where its Admin, Status and proxy APIs answer."))
        .attr(Attribute::string("admin_url").required().check(Check::HttpUrl).describe("Admin API of one node of the cluster (facts, freeze fingerprint)."))
        .attr(Attribute::list_of("node_admin_urls", Type::String).optional().check(Check::HttpUrl).describe(
            "Admin APIs of every node, when the cluster has several; each must report the target version before traffic moves. Default: `admin_url` only.",
        ))
        .attr(Attribute::string("status_url").optional().check(Check::HttpUrl).describe("Status API (`/status/ready`, Kong ≥ 3.3) of the node at `admin_url`. Default: none (readiness from the Admin API alone)."))
        .attr(Attribute::string("proxy_url").optional().check(Check::HttpUrl).describe("Proxy URL, for staging tests. Default: none (required by `staging_test`)."));
    for a in admin_api::override_attributes() {
        b = b.attr(a);
    }
    NestedBlock::single(name, b).min_items(1)
}

fn optional_database(name: &str, describe: &str) -> NestedBlock {
    let mut b = blocks::database::block();
    b.name = name.to_string();
    b.min_items = 0;
    b.block.description = describe.to_string();
    b
}

fn traffic_block() -> NestedBlock {
    let mut b = blocks::traffic::block(true);
    b.block.description = format!(
        "{} The upgrade moves traffic itself through this block; use `traffic_split_id` instead when a `kong_traffic_split` owns the weights.",
        b.block.description
    );
    b
}

fn step_type() -> Type {
    Type::object([
        ("id", Type::String),
        ("action", Type::String),
        ("why", Type::String),
        ("destructive", Type::Bool),
    ])
}

pub fn history_type() -> Type {
    Type::object([
        ("step", Type::String),
        ("action", Type::String),
        ("started_at", Type::String),
        ("finished_at", Type::String),
        ("result", Type::String),
        ("detail", Type::String),
    ])
}

pub fn schema() -> Schema {
    let mut runner = blocks::runner::block();
    runner.min_items = 0;
    runner.block.description = format!(
        "{} Required when the strategy runs migrations (in_place, blue_green, dual_cluster).",
        runner.block.description
    );
    let block = Block::new()
        .describe(
            "A Kong Gateway version upgrade, run as Kong's runbooks describe it (in-place, blue-green, dual-cluster or rolling). \
             Advance `target_phase` one apply at a time (`prepared` → `migrated` → `serving` with a `weight_y` → `finished` → `completed`): \
             `terraform plan` lists the steps the next apply will run (`planned_steps`) and refuses unsafe ones; `terraform apply` runs them, \
             checkpointing after every step so an interrupted or failed apply resumes where it stopped and never repeats a destructive step. \
             If the *first* apply is interrupted or fails, Terraform marks the upgrade tainted and plans to replace it; once the upgrade is past `prepared` \
             the plan refuses that (a new object would start over) and asks for `terraform untaint`, after which the next apply resumes. \
             Hooks (`hooks`) should be idempotent: a hook whose step was interrupted runs again with `KONG_UPGRADE_RESUMED=1`.",
        )
        .attr(Attribute::string("id").computed().describe("Identifier of the upgrade."))
        .attr(Attribute::string("strategy").required().check(Check::one_of(Strategy::ALL.iter().map(|s| s.as_str()))).describe("How the upgrade runs."))
        .attr(Attribute::string("from_version").optional_computed().describe(
            "The version cluster X runs. Default: read from X's Admin API at the first plan, then kept.",
        ))
        .attr(Attribute::string("to_version").required().describe("The version cluster Y runs. Changing it starts a new upgrade (replacement)."))
        .attr(Attribute::string("target_phase").required().check(Check::one_of(TargetPhase::NAMES)).describe(
            "Where the next apply should take the upgrade: `prepared` (freeze recorded, backup taken), `migrated` (Y's migrations run, Y started and ready, no traffic), \
             `serving` (Y takes `weight_y` percent), `finished` (all traffic on Y; on a shared database `kong migrations finish` has run) or `completed` (X decommissioned).",
        ))
        .attr(Attribute::number("weight_y").optional().check(Check::WholeNumber { min: 0, max: 100 }).describe("Percent of traffic on Y when `target_phase = \"serving\"` (required there). Default: none."))
        .attr(Attribute::bool("allow_downtime").optional().describe("Acknowledges the downtime of an in-place upgrade (required for `in_place`). Default `false`."))
        .attr(Attribute::bool("accept_unsupported_path").optional().describe(
            "Proceed on an upgrade path Kong does not support (e.g. blue-green across an LTS jump). Only where Y's migrations still accept X's database. Default `false`.",
        ))
        .attr(Attribute::string("on_destroy").optional().check(Check::one_of(OnDestroy::ALL.iter().map(|s| s.as_str()))).describe(
            "What destroying an unfinished upgrade does: `refuse` (default) or `rollback` (all traffic back to X, database left usable by X; possible only before `migrations finish`).",
        ))
        .attr(Attribute::map_of("hooks", Type::list(Type::String)).optional().describe(
            "Commands (argv lists) for steps the provider cannot do itself: `stop_x`, `start_x`, `start_y`, `decommission_x`, and `before_<step id>` / `after_<step id>` around any once-only step. \
             They run on the machine running Terraform, with `KONG_UPGRADE_STEP`, `KONG_UPGRADE_FROM` and `KONG_UPGRADE_TO` in their environment. Default: none.",
        ))
        .attr(Attribute::string(blocks::traffic::SPLIT_ID).optional().describe(
            "The `id` of a `kong_traffic_split` that moves the traffic, instead of a `traffic` block (the two conflict). \
             The split's own steps, gates and `on_failure` govern the weights; the upgrade never writes them: each traffic step \
             of its plan verifies that the split gives Y the share the phase needs (waiting up to 30 s for it) and fails on this \
             attribute otherwise, before anything irreversible. A rollback likewise needs the split at 0. Refer to it as \
             `kong_traffic_split.NAME.id`: Terraform then applies the split first, so one apply can move the split and advance \
             `target_phase` together. The split must use the `haproxy`, `nginx` or `kong_upstream` driver: an `external` \
             split lives only in its own state, so nothing here could verify it (put the `external` block, with `observe`, in \
             this upgrade's `traffic` block instead); a `kong_upstream` split is read with the provider's `admin_token`, as its id holds no secret. Default: none (the `traffic` block moves traffic).",
        ))
        .attr(Attribute::string("control_plane_admin_url").optional().check(Check::HttpUrl).describe(
            "Hybrid mode, upgrading data planes: Admin API of their control plane, whose version bounds Y's (a data plane may not be newer than its control plane's minor). Default: none.",
        ))
        .attr(Attribute::string("phase").computed().describe("Where the upgrade stands: `not_started`, `prepared`, `migrated`, `serving`, `finished` or `completed`."))
        .attr(Attribute::number("current_weight_y").computed().describe("Percent of traffic on Y, as last applied or read from the load balancer."))
        .attr(Attribute::list_of("planned_steps", step_type()).computed().describe(
            "The steps of the latest plan, in order, each with why it is there: what the next apply runs.",
        ))
        .attr(Attribute::list_of("warnings", Type::String).computed().describe("What the planner wants you to know about this upgrade."))
        .attr(Attribute::list_of("history", history_type()).computed().describe("Every step run so far, with times, outcome and measured values."))
        .attr(Attribute::string("backup_location").computed().describe("Where the backup taken before the upgrade is (restore it to roll back after `finish`)."))
        .attr(Attribute::string("config_fingerprint").computed().describe("Fingerprint of X's configuration recorded at freeze time."))
        .block(cluster_block("cluster_x", "X (the version running now)"))
        .block(cluster_block("cluster_y", "Y (the target version)"))
        .block(optional_database(
            "database",
            "X's database (traditional mode and control planes). Y's migrations run here for in_place and blue_green. The provider keeps its upgrade journal here, in a schema of its own (`terraform_provider_kong`, created on first use and left out of backups; `user` needs `CREATE` on the database): every step is recorded before and after it runs, so an upgrade survives a killed provider. Destroying the resource removes it. A plan that backs this database up first checks it is reachable, accepts the login and holds Kong's `schema_meta`.",
        ))
        .block(optional_database(
            "new_database",
            "Dual-cluster only: the new, empty database the backup is restored into and Y's migrations run on.",
        ))
        .block(runner)
        .block(traffic_block())
        .block(NestedBlock::single(
            "backup",
            Block::new()
                .describe("The backup taken before anything irreversible: `pg_dump` (custom format) of the database, or, for DB-less nodes and data planes, the declarative configuration (from `declarative_config_path`, or else as cluster X's Admin API serves it at `GET /config`).")
                .attr(Attribute::string("directory").optional().describe("Directory on the machine running Terraform where the backup is written. Exactly one of `directory` and `upload_command` is required. A backup is never overwritten. Without a `database` block (DB-less `rolling` upgrades) the upgrade journal is kept here too, as `terraform-provider-kong-journal-<id>.jsonl`. Default: none."))
                .attr(Attribute::list_of("upload_command", Type::String).optional().describe(
                    "Instead of `directory`: a command (argv) that reads the backup on stdin and stores it elsewhere, e.g. `[\"sh\", \"-c\", \"aws s3 cp - s3://backups/$KONG_BACKUP_NAME\"]`. The `pg_dump` stream goes straight into it, never to a local file; it gets `KONG_BACKUP_NAME`. `backup_location` records the name, size and sha256. For runs on ephemeral machines (HCP Terraform). Without a `database` block (DB-less `rolling` upgrades) the upgrade journal is then kept as `terraform-provider-kong-journal-<id>.jsonl` in Terraform's data directory of the working directory (`TF_DATA_DIR`, by default `.terraform/`): it survives a killed provider or Terraform on that machine, not the loss of the machine (there, `terraform import` the upgrade). Default: none.",
                ))
                .attr(Attribute::list_of("download_command", Type::String).optional().describe(
                    "With `upload_command`: a command that writes the backup named by `KONG_BACKUP_NAME` to stdout, e.g. `[\"sh\", \"-c\", \"aws s3 cp s3://backups/$KONG_BACKUP_NAME -\"]`. A `dual_cluster` restore reads it, checks size and sha256 against `backup_location`, and only then touches the new database. Default: none.",
                ))
                .attr(Attribute::bool("enabled").optional().describe("Default `true`. Disabling it is allowed only with the planner's consent (it warns)."))
                .attr(Attribute::string("pg_dump_path").optional().describe(
                    "The `pg_dump` to use (database backups). Default: `pg_dump` on the `PATH`. Checked at plan: it must exist and be of a major version at least the server's (an older `pg_dump` refuses to dump a newer server).",
                ))
                .attr(Attribute::string("pg_restore_path").optional().describe(
                    "The `pg_restore` to use (it verifies every dump, and restores it for `dual_cluster`). Default: `pg_restore` on the `PATH`. Checked at plan like `pg_dump_path`.",
                ))
                .attr(Attribute::string("declarative_config_path").optional().describe(
                    "DB-less nodes: the declarative configuration file to back up (copied into `directory`). When not set, the configuration X is serving is read from its Admin API (`GET /config`, the YAML Kong exports from memory) and written into `directory`. Default: none.",
                )),
        ))
        .block(NestedBlock::list(
            "staging_test",
            Block::new()
                .describe("A request sent to both X's and Y's proxy before Y takes traffic: the answers must agree (status, selected headers).")
                .attr(Attribute::string("name").required().describe("Name shown in the history."))
                .attr(Attribute::string("method").optional().check(Check::one_of(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])).describe("HTTP method. Default `GET`."))
                .attr(Attribute::string("path").required().describe("Path on the proxy, e.g. `/orders`."))
                .attr(Attribute::map_of("headers", Type::String).optional().sensitive().check(Check::HttpHeaders).describe("Request headers (e.g. an API key for key-auth). Sensitive: never shown in plans. Default: none."))
                .attr(Attribute::string("body").optional().describe("Request body. Default: none."))
                .attr(Attribute::number("expect_status").optional().check(Check::WholeNumber { min: 100, max: 599 }).describe("Status Y must answer (besides matching X). Default: none (any status, as long as X's matches)."))
                .attr(Attribute::list_of("compare_headers", Type::String).optional().describe("Response headers whose values must match between X and Y. Default: none.")),
        ))
        .block(tfplug::timeouts::block(&["create", "update", "delete"], super::DEFAULT_TIMEOUT));
    Schema::new(SCHEMA_VERSION, block)
}
