//! The resource's schema.

use super::*;
use tfplug::Check;

pub(super) fn migrations_type() -> Type {
    Type::list(Type::object([
        ("subsystem", Type::String),
        ("migrations", Type::list(Type::String)),
    ]))
}

pub(super) fn schema() -> Schema {
    let block = Block::new()
        .describe(
            "One migration phase (`kong migrations bootstrap`, `up` or `finish`) of one Kong datastore, run by the `kong` CLI \
             of `target_version` through a `runner`.\n\n\
             The plan reads `schema_meta` and lists in `migrations_to_run` exactly what apply will run, per subsystem; what Kong \
             would refuse (up while a previous upgrade is still pending, finish before up, bootstrap of a bootstrapped database, \
             a `target_version` older than the database) is a plan-time error. Apply retries while another node holds Kong's \
             migration lock (until `timeouts`) and re-reads `schema_meta` to verify the phase took effect, since Kong exits 0 \
             when it loses the lock race.\n\n\
             Every plan checks that the phase's result still holds (bootstrapped; no new migrations for `target_version` after \
             `up`; nothing pending after `finish`) and plans to run it again, with a warning, when the database changed outside \
             Terraform. Known migrations come from the embedded catalog of Kong OSS releases, or from the target version's own \
             `kong migrations status` with `runner { discover = true }` (needed for Enterprise).\n\n\
             **Destroying this resource does not reverse migrations** (Kong cannot): it only removes the phase from the state. \
             Rolling back means restoring a database backup.",
        )
        .attr(Attribute::string("phase").required().check(Check::one_of(["bootstrap", "up", "finish"])).requires_replace().describe("The `kong migrations` subcommand to run."))
        .attr(Attribute::string("target_version").required().describe(
            "The Kong version whose code runs the phase, e.g. `3.6.1`: the version of the `kong` CLI the runner reaches. Changing it runs the phase again for the new version (e.g. the next `up`).",
        ))
        .attr(Attribute::bool("force").optional().describe(
            "Pass `-f`: re-run every migration the database records as executed (and, for `up`, run despite pending migrations). Only safe if the migrations are idempotent. Default `false`.",
        ))
        .attr(Attribute::number("db_timeout").optional().check(Check::WholeNumber { min: 1, max: 604_800 }).describe(
            "`--db-timeout` in seconds: Kong's per-statement database timeout (5 s by default, too short for big tables).",
        ))
        .attr(Attribute::number("lock_timeout").optional().check(Check::WholeNumber { min: 1, max: 604_800 }).describe(
            "`--lock-timeout` in seconds: the TTL of Kong's migration lock and how long `up` waits for it. Default `60`.",
        ))
        .attr(Attribute::string("after").optional().describe(
            "Orders this phase after another one, typically `kong_migration_phase.<previous>.applied_at`. While that value is unknown (the previous phase runs in the same apply) this phase's plan cannot read the database yet, so `migrations_to_run` is known only after apply; when it changes (the previous phase ran again) this phase runs again too. Default: none (no ordering).",
        ))
        .attr(Attribute::string("id").computed().describe(
            "`host:port/database[/schema]/phase@target_version`, also the import ID.",
        ))
        .attr(Attribute::new("migrations_to_run", migrations_type()).computed().describe(
            "In a plan: the migrations apply will run, per subsystem in Kong's order. In the state: the migrations the last run of this phase ran. Empty when the phase had nothing to do.",
        ))
        .attr(Attribute::string("known_migrations_source").computed().describe(
            "Where the list of migrations `target_version` knows came from: `catalog` (the provider's embedded catalog of Kong OSS migrations) or `runner` (`kong migrations status` of the target version).",
        ))
        .attr(Attribute::string("applied_at").computed().describe("When the phase last ran (RFC 3339, UTC)."))
        .block(database::block())
        .block(runner::block())
        .block(timeouts::block(&["create", "update"], super::DEFAULT_APPLY_TIMEOUT));
    Schema::new(0, block)
}
