//! What the planner reports besides steps: errors that refuse a plan and
//! warnings that accompany one. Every finding names a rule (its code) and the
//! input attribute at fault, so the provider can attach the Terraform
//! diagnostic to that attribute.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The `kong_upgrade` input a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Strategy,
    FromVersion,
    ToVersion,
    TargetPhase,
    WeightY,
    AllowDowntime,
    AcceptUnsupportedPath,
    NewDatabase,
    Backup,
    Traffic,
    TrafficSteps,
    StagingTests,
    Hooks,
    OnDestroy,
}

impl Field {
    /// The attribute path in the resource schema.
    pub fn attribute(self) -> &'static str {
        match self {
            Field::Strategy => "strategy",
            Field::FromVersion => "from_version",
            Field::ToVersion => "to_version",
            Field::TargetPhase => "target_phase",
            Field::WeightY => "weight_y",
            Field::AllowDowntime => "allow_downtime",
            Field::AcceptUnsupportedPath => "accept_unsupported_path",
            Field::NewDatabase => "new_database",
            Field::Backup => "backup",
            Field::Traffic => "traffic",
            Field::TrafficSteps => "traffic.steps",
            Field::StagingTests => "staging_test",
            Field::Hooks => "hooks",
            Field::OnDestroy => "on_destroy",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.attribute())
    }
}

/// One row of the rules table: what a code means and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleDoc {
    pub field: Field,
    pub rule: &'static str,
    pub source: &'static str,
}

macro_rules! codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $variant:ident = $text:literal => ($field:ident, $rule:literal, $source:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $variant, )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// Stable snake_case name, also the serde form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The rule this code enforces, for the planner rules guide.
            pub fn doc(self) -> RuleDoc {
                match self {
                    $( $name::$variant => RuleDoc {
                        field: Field::$field,
                        rule: $rule,
                        source: $source,
                    }, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

codes! {
    /// Why a plan is refused.
    pub enum ErrorCode {
        Downgrade = "downgrade" => (ToVersion,
            "to_version is older than the running version: Kong migrations cannot be reversed",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/) (rollback means restoring the backup)"),
        UnsupportedPath = "unsupported_path" => (ToVersion,
            "the jump is not a supported path; the error lists the stops to take. accept_unsupported_path turns it into a warning only when to_version's migrations accept from_version's database (see migration floors)",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/)"),
        NoDocumentedPath = "no_documented_path" => (ToVersion,
            "no chain of documented upgrades leads from from_version to to_version",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/)"),
        CassandraUnsupported = "cassandra_unsupported" => (ToVersion,
            "Kong 3.x does not support Cassandra: move to PostgreSQL on 2.8 first",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/); [UPGRADE.md](https://github.com/Kong/kong/blob/3.9.3/UPGRADE.md)"),
        EnterpriseOnlyTarget = "enterprise_only_target" => (ToVersion,
            "a community deployment cannot go to 3.10 or later: Kong Gateway OSS stops at 3.9.3",
            "[Kong version support policy](https://developer.konghq.com/gateway/version-support-policy/); [Kong/kong releases](https://github.com/Kong/kong/releases) (OSS ends at 3.9)"),
        RollingOnly = "rolling_only" => (Strategy,
            "DB-less nodes and data planes have no database to migrate: only strategy = rolling applies",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/) (strategies by deployment)"),
        RollingNeedsDbless = "rolling_needs_dbless" => (Strategy,
            "rolling is for DB-less nodes and hybrid data planes; refused for a node with a database",
            "[rolling upgrade](https://developer.konghq.com/gateway/upgrade/rolling/)"),
        DataPlaneMajorMismatch = "data_plane_major_mismatch" => (ToVersion,
            "a data plane's major version must equal its control plane's",
            "[`kong/clustering/compat/init.lua`](https://github.com/Kong/kong/blob/3.9.3/kong/clustering/compat/init.lua)"),
        DataPlaneAheadOfControlPlane = "data_plane_ahead_of_control_plane" => (ToVersion,
            "a data plane may not be upgraded past its control plane's minor: upgrade the control plane first",
            "[`kong/clustering/compat/init.lua`](https://github.com/Kong/kong/blob/3.9.3/kong/clustering/compat/init.lua); [Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/) (control plane first)"),
        DataPlanesBelow28 = "data_planes_below_2_8" => (ToVersion,
            "a control plane moves to 3.x only when every data plane is on 2.8.x",
            "[UPGRADE.md](https://github.com/Kong/kong/blob/3.9.3/UPGRADE.md) (3.0, hybrid mode)"),
        BlueGreenNeeds282 = "blue_green_needs_2_8_2" => (Strategy,
            "traditional-mode blue-green to 3.x needs X on 2.8.2 or later (2.8.0/2.8.1 misread 3.x regex paths)",
            "[blue-green upgrade](https://developer.konghq.com/gateway/upgrade/blue-green/); [`kong/router.lua` in 2.8.2](https://github.com/Kong/kong/blob/2.8.2/kong/router.lua)"),
        BlueGreenMajorJump = "blue_green_major_jump" => (Strategy,
            "blue-green is refused for a major, LTS or multi-minor jump unless accept_unsupported_path = true",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/) (LTS upgrades offer no blue-green); [blue-green upgrade](https://developer.konghq.com/gateway/upgrade/blue-green/)"),
        DowntimeNotAcknowledged = "downtime_not_acknowledged" => (AllowDowntime,
            "an in-place upgrade stops X before Y starts: set allow_downtime = true",
            "[in-place upgrade](https://developer.konghq.com/gateway/upgrade/in-place/)"),
        SecondDatabaseMissing = "second_database_missing" => (NewDatabase,
            "dual-cluster restores X's backup into a second database: configure new_database",
            "[dual-cluster upgrade](https://developer.konghq.com/gateway/upgrade/dual-cluster/)"),
        InvalidTrafficSteps = "invalid_traffic_steps" => (TrafficSteps,
            "traffic steps are percentages of traffic to Y, each 1..=100, strictly increasing",
            "provider rule"),
        TrafficNotConfigured = "traffic_not_configured" => (Traffic,
            "the plan moves traffic between X and Y but neither a traffic block nor traffic_split_id is configured",
            "provider rule"),
        UnknownHook = "unknown_hook" => (Hooks,
            "a hook is named after a step this strategy does not have",
            "provider rule"),
        InvalidTargetPhase = "invalid_target_phase" => (TargetPhase,
            "target_phase is one of prepared, migrated, serving, finished, completed; serving needs weight_y in 0..=100",
            "provider rule"),
        InPlaceNoTrafficSplit = "in_place_no_traffic_split" => (TargetPhase,
            "an in-place upgrade has no traffic split: serving means weight_y = 100",
            "[in-place upgrade](https://developer.konghq.com/gateway/upgrade/in-place/)"),
        NoWayBackAfterFinish = "no_way_back_after_finish" => (TargetPhase,
            "after `migrations finish` on the shared database X cannot run again: no change may send traffic back to X (target_phase backwards, lower weight, on_destroy = rollback); restore the backup instead",
            "[blue-green upgrade](https://developer.konghq.com/gateway/upgrade/blue-green/) (X is compatible until `finish`); [`kong/cmd/utils/migrations.lua`](https://github.com/Kong/kong/blob/3.9.3/kong/cmd/utils/migrations.lua)"),
        XDecommissioned = "x_decommissioned" => (TargetPhase,
            "cluster X was decommissioned: there is nothing to roll back to",
            "[blue-green upgrade](https://developer.konghq.com/gateway/upgrade/blue-green/) (decommission X)"),
        DestroyUnfinished = "destroy_unfinished" => (OnDestroy,
            "destroying an upgrade in progress is refused unless on_destroy = rollback (possible before the point of no return)",
            "issue 5 (destroy)"),
    }
}

codes! {
    /// What a plan should be read with.
    pub enum WarningCode {
        NothingToDo = "nothing_to_do" => (ToVersion,
            "from_version equals to_version: there is nothing to upgrade",
            "provider rule"),
        UnsupportedPathAccepted = "unsupported_path_accepted" => (AcceptUnsupportedPath,
            "accept_unsupported_path skips stops Kong asks for; migrations may run in an untested order",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/)"),
        LtsJump = "lts_jump" => (ToVersion,
            "an LTS-to-LTS jump is documented for Enterprise, without blue-green; go to the target LTS's latest patch",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/)"),
        EnterpriseOnlyRelease = "enterprise_only_release" => (ToVersion,
            "3.10 and later are Enterprise-only releases; their versions have four parts",
            "[Kong version support policy](https://developer.konghq.com/gateway/version-support-policy/)"),
        HybridProtocol311 = "hybrid_protocol_3_1_1_3" => (ToVersion,
            "a stop at 3.1 in hybrid mode should be 3.1.1.3 or later (3.1.0.x–3.1.1.2 dropped the legacy CP/DP protocol)",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/)"),
        BlueGreenMinorJump = "blue_green_minor_jump" => (Strategy,
            "Kong advises blue-green only between patch versions; a minor jump is allowed with this warning",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/)"),
        BlueGreenJumpAccepted = "blue_green_jump_accepted" => (AcceptUnsupportedPath,
            "blue-green across a major, LTS or multi-minor jump, accepted by accept_unsupported_path",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/)"),
        ControlPlaneVersionUnknown = "control_plane_version_unknown" => (Strategy,
            "a data-plane upgrade without the control plane's version cannot check version skew",
            "[`kong/clustering/compat/init.lua`](https://github.com/Kong/kong/blob/3.9.3/kong/clustering/compat/init.lua)"),
        DataPlanesDisconnect = "data_planes_disconnect" => (ToVersion,
            "data planes on the old major are rejected by the upgraded control plane and serve their last configuration until upgraded",
            "[`kong/clustering/compat/init.lua`](https://github.com/Kong/kong/blob/3.9.3/kong/clustering/compat/init.lua)"),
        DataPlanesOlderMinor = "data_planes_older_minor" => (ToVersion,
            "data planes on an older minor keep working, but mixing is meant to be temporary: upgrade them next",
            "[`kong/clustering/compat/init.lua`](https://github.com/Kong/kong/blob/3.9.3/kong/clustering/compat/init.lua)"),
        StagingTestsSkippedInPlace = "staging_tests_skipped_in_place" => (StagingTests,
            "staging tests compare X and Y, and X is stopped in an in-place upgrade: they do not run",
            "[in-place upgrade](https://developer.konghq.com/gateway/upgrade/in-place/)"),
        CountersSplit = "counters_split" => (NewDatabase,
            "database-backed counters (rate limiting with a cluster/DB strategy, Vitals) are split between the two databases for the window",
            "[dual-cluster upgrade](https://developer.konghq.com/gateway/upgrade/dual-cluster/)"),
        NoBackup = "no_backup" => (Backup,
            "no backup is taken: after `migrations finish` the only way back is a backup of your own",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/) (back up first)"),
        NoStagingTests = "no_staging_tests" => (StagingTests,
            "Y gets traffic without staging tests",
            "[Kong upgrade guide](https://developer.konghq.com/gateway/upgrade/) (test Y before it takes traffic)"),
        ManualStepInDowntime = "manual_step_in_downtime" => (Hooks,
            "a step inside the downtime window has no hook: the apply waits for you to do it",
            "[in-place upgrade](https://developer.konghq.com/gateway/upgrade/in-place/)"),
        RollbackKeepsMigrations = "rollback_keeps_migrations" => (TargetPhase,
            "a rollback sends traffic to X; Y's `migrations up` changes stay, and X tolerates them until finish",
            "[blue-green upgrade](https://developer.konghq.com/gateway/upgrade/blue-green/)"),
        DestroyEndsFreeze = "destroy_ends_freeze" => (OnDestroy,
            "destroying a prepared upgrade ends the configuration freeze; nothing else changes",
            "issue 5 (destroy)"),
    }
}

/// A refusal: the plan cannot be made as asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    pub code: ErrorCode,
    pub field: Field,
    pub message: String,
}

impl PlanError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        PlanError {
            code,
            field: code.doc().field,
            message: message.into(),
        }
    }

    pub fn on(mut self, field: Field) -> Self {
        self.field = field;
        self
    }
}

/// Something the user should know about a plan that is still allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub code: WarningCode,
    pub field: Field,
    pub message: String,
}

impl Warning {
    pub fn new(code: WarningCode, message: impl Into<String>) -> Self {
        Warning {
            code,
            field: code.doc().field,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Errors and warnings gathered while checking rules.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub errors: Vec<PlanError>,
    pub warnings: Vec<Warning>,
}

impl Findings {
    pub fn error(&mut self, code: ErrorCode, message: impl Into<String>) {
        self.errors.push(PlanError::new(code, message));
    }

    pub fn warn(&mut self, code: WarningCode, message: impl Into<String>) {
        self.warnings.push(Warning::new(code, message));
    }
}
