//! The planner's input: plain data the provider assembles from the
//! configuration, from what it read off the clusters, and from state.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::version::{Edition, KongVersion};

use super::findings::{ErrorCode, Field, PlanError};
use super::step::StepId;

/// A name that is not one of an enum's accepted spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}: expected one of {expected}")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $( $variant:ident = $text:literal, )+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $variant, )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )+ ];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(UnknownName {
                        what: $what,
                        value: value.to_string(),
                        expected: [$( concat!("\"", $text, "\""), )+].join(", "),
                    }),
                }
            }
        }
    };
}

named_enum! {
    /// How X is replaced by Y (Kong's four upgrade runbooks).
    Strategy, "strategy" {
        InPlace = "in_place",
        BlueGreen = "blue_green",
        DualCluster = "dual_cluster",
        Rolling = "rolling",
    }
}

impl Strategy {
    /// In-place and blue-green run Y's migrations on X's own database, so
    /// `migrations finish` there is the point of no return.
    pub fn shares_database(self) -> bool {
        matches!(self, Strategy::InPlace | Strategy::BlueGreen)
    }

    /// Every strategy but in-place moves traffic from X to Y gradually.
    pub fn shifts_traffic(self) -> bool {
        !matches!(self, Strategy::InPlace)
    }
}

named_enum! {
    /// Kong's `role` configuration value.
    Role, "role" {
        Traditional = "traditional",
        ControlPlane = "control_plane",
        DataPlane = "data_plane",
    }
}

named_enum! {
    /// Kong's `database` configuration value.
    Database, "database" {
        Postgres = "postgres",
        Off = "off",
        Cassandra = "cassandra",
    }
}

named_enum! {
    /// What destroying an unfinished upgrade does.
    OnDestroy, "on_destroy" {
        Refuse = "refuse",
        Rollback = "rollback",
    }
}

/// What the provider read from cluster X (and, in hybrid mode, its peers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentFacts {
    pub role: Role,
    pub database: Database,
    /// From `GET /` `edition` (3.6+); `None` when X does not say.
    pub edition: Option<Edition>,
    /// Plugins whose counters live in the database (Rate Limiting Advanced
    /// with a database strategy, rate-limiting with `policy = cluster`, …),
    /// as found by the provider in the plugin configurations.
    pub database_backed_counters: Vec<String>,
    pub vitals_enabled: bool,
    /// For a data-plane upgrade: the version of the control plane it joins.
    pub control_plane_version: Option<KongVersion>,
    /// For a control-plane upgrade: the versions its data planes run.
    pub data_plane_versions: Vec<KongVersion>,
    /// Whether `new_database` is configured (dual-cluster's second database).
    pub second_database_configured: bool,
}

impl DeploymentFacts {
    /// A traditional node on PostgreSQL with nothing else known.
    pub fn traditional_postgres() -> Self {
        DeploymentFacts {
            role: Role::Traditional,
            database: Database::Postgres,
            edition: None,
            database_backed_counters: Vec::new(),
            vitals_enabled: false,
            control_plane_version: None,
            data_plane_versions: Vec::new(),
            second_database_configured: false,
        }
    }

    /// DB-less nodes and data planes carry no database of their own.
    pub fn is_dbless(&self) -> bool {
        self.database == Database::Off || self.role == Role::DataPlane
    }
}

/// The planner's weights are the traffic module's percentage: one type
/// from the configuration to the load balancer.
pub use crate::traffic::weight::TrafficWeight;

use crate::traffic::progression::Progression;

/// The `target_phase` knob users advance one apply at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum TargetPhase {
    /// Configuration frozen and fingerprinted, X backed up.
    Prepared,
    /// Y's migrations applied, Y started and ready; no traffic on Y yet.
    Migrated,
    /// Y takes `weight_y` percent of traffic.
    Serving { weight_y: TrafficWeight },
    /// All traffic on Y; on a shared database, `migrations finish` has run.
    Finished,
    /// X decommissioned; configuration writes may resume.
    Completed,
}

impl TargetPhase {
    pub const NAMES: &'static [&'static str] =
        &["prepared", "migrated", "serving", "finished", "completed"];

    /// Builds a target from the `target_phase` string and the optional
    /// `weight_y` attribute (only meaningful, and then required, for
    /// `serving`).
    pub fn from_parts(name: &str, weight_y: Option<i64>) -> Result<Self, PlanError> {
        let target = match name {
            "prepared" => TargetPhase::Prepared,
            "migrated" => TargetPhase::Migrated,
            "serving" => {
                let Some(percent) = weight_y else {
                    return Err(PlanError::new(
                        ErrorCode::InvalidTargetPhase,
                        "target_phase = \"serving\" needs weight_y (percent of traffic sent to Y)",
                    )
                    .on(Field::WeightY));
                };
                let weight = TrafficWeight::new(percent).map_err(|err| {
                    PlanError::new(ErrorCode::InvalidTargetPhase, err.to_string())
                        .on(Field::WeightY)
                })?;
                TargetPhase::Serving { weight_y: weight }
            }
            "finished" => TargetPhase::Finished,
            "completed" => TargetPhase::Completed,
            other => {
                return Err(PlanError::new(
                    ErrorCode::InvalidTargetPhase,
                    format!(
                        "unknown target_phase {other:?}: expected one of {}",
                        TargetPhase::NAMES.join(", ")
                    ),
                )
                .on(Field::TargetPhase))
            }
        };
        Ok(target)
    }

    pub fn name(self) -> &'static str {
        Phase::from(self).name()
    }
}

/// Where an upgrade stands (computed from the checkpoint) or is headed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    NotStarted,
    Prepared,
    Migrated,
    Serving { weight_y: TrafficWeight },
    Finished,
    Completed,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::NotStarted => "not_started",
            Phase::Prepared => "prepared",
            Phase::Migrated => "migrated",
            Phase::Serving { .. } => "serving",
            Phase::Finished => "finished",
            Phase::Completed => "completed",
        }
    }

    /// Phases in order; serving phases order by weight.
    pub(crate) fn rank(self) -> (u8, u8) {
        match self {
            Phase::NotStarted => (0, 0),
            Phase::Prepared => (1, 0),
            Phase::Migrated => (2, 0),
            Phase::Serving { weight_y } => (3, weight_y.percent()),
            Phase::Finished => (4, 0),
            Phase::Completed => (5, 0),
        }
    }
}

impl From<TargetPhase> for Phase {
    fn from(target: TargetPhase) -> Phase {
        match target {
            TargetPhase::Prepared => Phase::Prepared,
            TargetPhase::Migrated => Phase::Migrated,
            TargetPhase::Serving { weight_y } => Phase::Serving { weight_y },
            TargetPhase::Finished => Phase::Finished,
            TargetPhase::Completed => Phase::Completed,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Serving { weight_y } => write!(f, "serving ({weight_y} on Y)"),
            other => f.write_str(other.name()),
        }
    }
}

/// User options that shape the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    pub allow_downtime: bool,
    pub accept_unsupported_path: bool,
    pub backup_enabled: bool,
    pub staging_tests_configured: bool,
    pub traffic_configured: bool,
    /// Intermediate weights for Y, e.g. `[10, 50, 100]`; empty means one step.
    pub traffic_steps: Vec<i64>,
    /// A `kong_traffic_split` owns the weights (`traffic_split_id`): traffic
    /// steps verify the split's weight instead of moving it.
    #[serde(default)]
    pub traffic_owned_by_split: bool,
    /// The `external` driver: another resource applies the weights this
    /// upgrade publishes, after this apply ends. `None` for the drivers
    /// that move the load balancer themselves.
    #[serde(default)]
    pub published_traffic: Option<PublishedTraffic>,
    /// Names of configured hooks: `stop_x`, `start_x`, `start_y`,
    /// `decommission_x` perform those steps; `before_<step id>` and
    /// `after_<step id>` run around any once-only step.
    pub hooks: BTreeSet<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allow_downtime: false,
            accept_unsupported_path: false,
            backup_enabled: true,
            staging_tests_configured: false,
            traffic_configured: false,
            traffic_steps: Vec::new(),
            traffic_owned_by_split: false,
            published_traffic: None,
            hooks: BTreeSet::new(),
        }
    }
}

/// How weights another resource applies are walked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedTraffic {
    /// With `observe`: the traffic block's progression, walked one observed
    /// move per apply ([`crate::traffic::observed::observed_move`]). `None`:
    /// nothing reads the live share back.
    pub observed: Option<Progression>,
}

/// Everything the planner needs, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInput {
    pub strategy: Strategy,
    pub from: KongVersion,
    pub to: KongVersion,
    pub facts: DeploymentFacts,
    pub checkpoint: super::Checkpoint,
    pub target: TargetPhase,
    pub options: Options,
}

impl PlanInput {
    pub(crate) fn hook(&self, name: &str) -> Option<String> {
        self.options.hooks.contains(name).then(|| name.to_string())
    }

    pub(crate) fn is_done(&self, id: &StepId) -> bool {
        self.checkpoint.completed.contains(id)
    }
}
