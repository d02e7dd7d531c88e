//! Kong's upgrade-path table, as data, and the search over it.
//!
//! A supported upgrade is one edge of the graph below: a patch within a
//! series, the next minor of the same major, or one of the documented
//! direct jumps in [`PATH_RULES`]. Any other jump is refused with the
//! shortest chain of stops (fewest upgrades) that reaches the target.

use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::version::{Edition, KongVersion, KongVersionPattern};

use super::findings::{PlanError, Warning, WarningCode};

/// `MAJOR.MINOR_LO` through `MAJOR.MINOR_HI`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesRange {
    pub major: u32,
    pub minor_lo: u32,
    pub minor_hi: u32,
}

impl SeriesRange {
    const fn one(major: u32, minor: u32) -> Self {
        SeriesRange {
            major,
            minor_lo: minor,
            minor_hi: minor,
        }
    }

    const fn span(major: u32, minor_lo: u32, minor_hi: u32) -> Self {
        SeriesRange {
            major,
            minor_lo,
            minor_hi,
        }
    }

    fn contains(&self, (major, minor): Series) -> bool {
        major == self.major && (self.minor_lo..=self.minor_hi).contains(&minor)
    }

    fn series(&self) -> impl Iterator<Item = Series> + '_ {
        (self.minor_lo..=self.minor_hi).map(|minor| (self.major, minor))
    }
}

impl fmt::Display for SeriesRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minor_lo == self.minor_hi {
            write!(f, "{}.{}.x", self.major, self.minor_lo)
        } else {
            write!(
                f,
                "{}.{}.x–{}.{}.x",
                self.major, self.minor_lo, self.major, self.minor_hi
            )
        }
    }
}

/// Why an edge of the path graph exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// `x.y` → `x.(y+1)`: the general rule, not listed in the table.
    AdjacentMinor,
    /// Enterprise LTS to the next LTS.
    Lts,
    /// Another documented direct jump (old releases, the 2.x → 3.0 boundary).
    Bridge,
}

/// A documented direct upgrade beyond patch and adjacent-minor upgrades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathRule {
    pub from: SeriesRange,
    pub to: SeriesRange,
    pub kind: EdgeKind,
    /// When the `from` series is an intermediate stop, the lowest version
    /// of it to stop at.
    pub stop_at_least: Option<KongVersion>,
    pub source: &'static str,
}

/// Kong's published upgrade paths (Kong's upgrade guide, Kong/kong UPGRADE.md).
pub const PATH_RULES: &[PathRule] = &[
    PathRule {
        from: SeriesRange::one(0, 14),
        to: SeriesRange::span(1, 0, 5),
        kind: EdgeKind::Bridge,
        stop_at_least: Some(KongVersion::new(0, 14, 1)),
        source: "[UPGRADE.md](https://github.com/Kong/kong/blob/3.9.3/UPGRADE.md), 1.x: the lowest version it migrates from is 0.14.1",
    },
    PathRule {
        from: SeriesRange::span(1, 0, 5),
        to: SeriesRange::one(2, 0),
        kind: EdgeKind::Bridge,
        stop_at_least: None,
        source: "[UPGRADE.md](https://github.com/Kong/kong/blob/3.9.3/UPGRADE.md), 2.0.0: migrates from 1.0.0–1.5.0",
    },
    PathRule {
        from: SeriesRange::span(1, 0, 5),
        to: SeriesRange::one(2, 1),
        kind: EdgeKind::Bridge,
        stop_at_least: None,
        source: "[upgrade guide](https://developer.konghq.com/gateway/upgrade/): 1.x must go to 2.1.0 first (before 3.0)",
    },
    PathRule {
        from: SeriesRange::span(2, 1, 7),
        to: SeriesRange::one(2, 8),
        kind: EdgeKind::Bridge,
        stop_at_least: None,
        source: "upgrade guide: from any 2.1.x or later straight to 2.8.x",
    },
    PathRule {
        from: SeriesRange::one(2, 8),
        to: SeriesRange::one(3, 0),
        kind: EdgeKind::Bridge,
        stop_at_least: Some(KongVersion::new(2, 8, 1)),
        source: "[UPGRADE.md](https://github.com/Kong/kong/blob/3.9.3/UPGRADE.md), 3.0: from 2.7 or earlier, go to 2.8.1 first",
    },
    PathRule {
        from: SeriesRange::one(2, 8),
        to: SeriesRange::one(3, 4),
        kind: EdgeKind::Lts,
        stop_at_least: None,
        source: "LTS upgrade guide: 2.8 LTS → 3.4 LTS (Enterprise)",
    },
    PathRule {
        from: SeriesRange::one(3, 4),
        to: SeriesRange::one(3, 10),
        kind: EdgeKind::Lts,
        stop_at_least: None,
        source: "LTS upgrade guide: 3.4 LTS → 3.10 LTS (Enterprise)",
    },
    PathRule {
        from: SeriesRange::one(3, 10),
        to: SeriesRange::one(3, 14),
        kind: EdgeKind::Lts,
        stop_at_least: None,
        source: "LTS upgrade guide: 3.10 LTS → 3.14 LTS (Enterprise)",
    },
];

/// The oldest database a major version's migrations accept. Skipping stops
/// with `accept_unsupported_path` is possible only above this floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationFloor {
    pub to_major: u32,
    pub lowest_from: KongVersion,
    pub source: &'static str,
}

pub const MIGRATION_FLOORS: &[MigrationFloor] = &[
    MigrationFloor {
        to_major: 1,
        lowest_from: KongVersion::new(0, 14, 1),
        source: "[UPGRADE.md](https://github.com/Kong/kong/blob/3.9.3/UPGRADE.md), 1.x: the lowest version it migrates from is 0.14.1",
    },
    MigrationFloor {
        to_major: 2,
        lowest_from: KongVersion::new(1, 0, 0),
        source: "[UPGRADE.md](https://github.com/Kong/kong/blob/3.9.3/UPGRADE.md), 2.0.0: the lowest version it migrates from is 1.0.0",
    },
    MigrationFloor {
        to_major: 3,
        lowest_from: KongVersion::new(2, 1, 0),
        source: "[upgrade guide](https://developer.konghq.com/gateway/upgrade/): 3.0 accepts migrations from 2.1.x or later",
    },
];

/// The first Enterprise-only release series (OSS stops at 3.9.3).
pub const FIRST_ENTERPRISE_ONLY: KongVersion = KongVersion::new(3, 10, 0);

// Kong's minors stay well below this; it bounds the search so that absurd
// inputs (3.999999.0) answer at once instead of walking every minor.
const MAX_MINOR_SEARCHED: u32 = 100;

/// What kind of upgrade `from → to` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    SameVersion,
    Patch,
    AdjacentMinor,
    Lts,
    Bridge,
    NeedsStops,
    Downgrade,
    NoDocumentedPath,
}

/// The answer behind `data "kong_upgrade_path"` and
/// `provider::kong::upgrade_path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathAnswer {
    pub from: KongVersion,
    pub to: KongVersion,
    pub kind: PathKind,
    /// Kong supports the jump (and the strategy, when one was given).
    pub supported: bool,
    /// Stops to take, in order, before `to` (empty when supported).
    pub hops: Vec<KongVersionPattern>,
    pub warnings: Vec<Warning>,
    /// Why the strategy given cannot take this path (see
    /// `upgrade_path_for_strategy`); empty otherwise.
    pub refusals: Vec<PlanError>,
}

impl PathAnswer {
    /// The oldest version `to`'s migrations accept, if Kong documents one.
    pub fn migration_floor(&self) -> Option<KongVersion> {
        migration_floor(self.to.major())
    }

    /// Whether `accept_unsupported_path` may skip the stops: only when
    /// `to`'s migrations still accept `from`'s database.
    pub fn skippable(&self) -> bool {
        self.kind == PathKind::NeedsStops && self.migration_floor().is_some_and(|f| self.from >= f)
    }

    /// One line: "2.6.0 → 3.4.2 is not a supported upgrade path: go through 2.8.x first".
    pub fn summary(&self) -> String {
        let (from, to) = (self.from, self.to);
        match self.kind {
            PathKind::SameVersion => format!("{from} → {to}: same version, nothing to do"),
            PathKind::Patch => format!("{from} → {to}: patch upgrade (supported)"),
            PathKind::AdjacentMinor => format!("{from} → {to}: adjacent minor upgrade (supported)"),
            PathKind::Lts => format!("{from} → {to}: LTS to LTS upgrade (supported, Enterprise)"),
            PathKind::Bridge => format!("{from} → {to}: documented direct upgrade (supported)"),
            PathKind::NeedsStops => format!(
                "{from} → {to} is not a supported upgrade path: go through {} first",
                join_hops(&self.hops)
            ),
            PathKind::Downgrade => format!(
                "{from} → {to} is a downgrade: Kong migrations cannot be reversed (restore a backup taken on {}.{}.x instead)",
                to.major(),
                to.minor()
            ),
            PathKind::NoDocumentedPath => {
                format!("{from} → {to}: no documented upgrade path leads there")
            }
        }
    }
}

fn join_hops(hops: &[KongVersionPattern]) -> String {
    hops.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", then ")
}

pub(crate) fn migration_floor(to_major: u32) -> Option<KongVersion> {
    MIGRATION_FLOORS
        .iter()
        .find(|floor| floor.to_major == to_major)
        .map(|floor| floor.lowest_from)
}

/// -1, 0 or 1 as `a` is older than, equal to, or newer than `b`.
pub fn version_compare(a: &KongVersion, b: &KongVersion) -> i8 {
    match a.cmp(b) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// Whether `from → to` is a supported upgrade, and if not, the stops to take.
pub fn upgrade_path(from: &KongVersion, to: &KongVersion) -> PathAnswer {
    let (kind, hops) = classify(from, to);
    let supported = matches!(
        kind,
        PathKind::SameVersion
            | PathKind::Patch
            | PathKind::AdjacentMinor
            | PathKind::Lts
            | PathKind::Bridge
    );
    let warnings = path_warnings(from, to, kind, &hops);
    PathAnswer {
        from: *from,
        to: *to,
        kind,
        supported,
        hops,
        warnings,
        refusals: Vec::new(),
    }
}

fn classify(from: &KongVersion, to: &KongVersion) -> (PathKind, Vec<KongVersionPattern>) {
    match from.cmp(to) {
        Ordering::Equal => return (PathKind::SameVersion, Vec::new()),
        Ordering::Greater => return (PathKind::Downgrade, Vec::new()),
        Ordering::Less => {}
    }
    if from.same_minor(to) {
        return (PathKind::Patch, Vec::new());
    }
    match shortest_route(from.series(), to.series()).as_deref() {
        None | Some([]) => (PathKind::NoDocumentedPath, Vec::new()),
        Some([(_, edge)]) => (edge_path_kind(*edge), Vec::new()),
        Some(route) => (PathKind::NeedsStops, stops_of(route)),
    }
}

type Series = (u32, u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Adjacent,
    Rule(&'static PathRule),
}

fn edge_path_kind(edge: Edge) -> PathKind {
    match edge {
        Edge::Adjacent => PathKind::AdjacentMinor,
        Edge::Rule(rule) => match rule.kind {
            EdgeKind::AdjacentMinor => PathKind::AdjacentMinor,
            EdgeKind::Lts => PathKind::Lts,
            EdgeKind::Bridge => PathKind::Bridge,
        },
    }
}

/// Every stop but the last (the target), each with the minimum the edge
/// leaving it asks for.
fn stops_of(route: &[(Series, Edge)]) -> Vec<KongVersionPattern> {
    route
        .windows(2)
        .map(|pair| {
            let ((major, minor), _) = pair[0];
            let at_least = match pair[1].1 {
                Edge::Rule(rule) => rule.stop_at_least,
                Edge::Adjacent => None,
            };
            KongVersionPattern {
                major,
                minor,
                at_least,
            }
        })
        .collect()
}

/// Breadth-first search over release series: fewest upgrades first; on a
/// tie, documented jumps (listed first) win over adjacent minors.
fn shortest_route(from: Series, to: Series) -> Option<Vec<(Series, Edge)>> {
    if from.1 > MAX_MINOR_SEARCHED || to.1 > MAX_MINOR_SEARCHED {
        return direct_edge(from, to).map(|edge| vec![(to, edge)]);
    }
    let mut came_from: BTreeMap<Series, (Series, Edge)> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        if node == to {
            return Some(walk_back(&came_from, from, to));
        }
        for (next, edge) in successors(node, to) {
            // Bounding minors keeps the graph finite: from 0.5 towards 3.x,
            // adjacent minors of 0.x would otherwise go on forever.
            let within_bound = next.1 <= MAX_MINOR_SEARCHED;
            if within_bound && next != from && !came_from.contains_key(&next) {
                came_from.insert(next, (node, edge));
                queue.push_back(next);
            }
        }
    }
    None
}

fn direct_edge(from: Series, to: Series) -> Option<Edge> {
    successors(from, to)
        .into_iter()
        .find(|(next, _)| *next == to)
        .map(|(_, edge)| edge)
}

/// Series reachable in one upgrade from `node` that do not overshoot `to`.
fn successors(node: Series, to: Series) -> Vec<(Series, Edge)> {
    let overshoots = |(major, minor): Series| major > to.0 || (major == to.0 && minor > to.1);
    let by_rule = PATH_RULES
        .iter()
        .filter(|rule| rule.from.contains(node))
        .flat_map(|rule| rule.to.series().map(move |next| (next, Edge::Rule(rule))));
    let adjacent = node
        .1
        .checked_add(1)
        .map(|minor| ((node.0, minor), Edge::Adjacent));
    by_rule
        .chain(adjacent)
        .filter(|(next, _)| !overshoots(*next))
        .collect()
}

fn walk_back(
    came_from: &BTreeMap<Series, (Series, Edge)>,
    from: Series,
    to: Series,
) -> Vec<(Series, Edge)> {
    let mut route = Vec::new();
    let mut node = to;
    while node != from {
        let Some(&(previous, edge)) = came_from.get(&node) else {
            break;
        };
        route.push((node, edge));
        node = previous;
    }
    route.reverse();
    route
}

fn path_warnings(
    from: &KongVersion,
    to: &KongVersion,
    kind: PathKind,
    hops: &[KongVersionPattern],
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if kind == PathKind::Lts {
        warnings.push(Warning::new(
            WarningCode::LtsJump,
            format!(
                "{from} → {to} is an LTS-to-LTS jump: Kong documents it for Kong Gateway Enterprise, with in-place, dual-cluster or rolling upgrades (not blue-green); Kong recommends the latest patch of {}.{}",
                to.major(),
                to.minor()
            ),
        ));
    }
    if *to >= FIRST_ENTERPRISE_ONLY && to.edition_hint() == Edition::Community {
        warnings.push(Warning::new(
            WarningCode::EnterpriseOnlyRelease,
            format!(
                "{to}: Kong Gateway 3.10 and later are Enterprise-only releases (OSS stops at 3.9.3), and Enterprise versions have four parts, e.g. {}.{}.{}.1",
                to.major(),
                to.minor(),
                to.patch()
            ),
        ));
    }
    if hops.iter().any(|hop| (hop.major, hop.minor) == (3, 1)) {
        warnings.push(Warning::new(
            WarningCode::HybridProtocol311,
            "in hybrid mode, stop at 3.1.1.3 or later (Enterprise): 3.1.0.x–3.1.1.2 dropped the legacy control-plane/data-plane protocol",
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(text: &str) -> KongVersion {
        text.parse().unwrap()
    }

    /// One row per rule of Kong's path table: from, to, expected answer.
    /// The answer is the kind, then the hops (for `needs_stops`).
    const PATHS: &[(&str, &str, &str)] = &[
        // general rules
        ("3.4.2", "3.4.2", "same_version"),
        ("3.4.1", "3.4.2", "patch"),
        ("3.4.3.4", "3.4.3.5", "patch"),
        ("3.4.2", "3.4.2.0", "patch"),
        ("3.7.1", "3.8.0", "adjacent_minor"),
        ("3.9.3", "3.10.0.1", "adjacent_minor"),
        ("3.4.2", "3.3.0", "downgrade"),
        ("3.4.3.5", "3.4.3.4", "downgrade"),
        // LTS pairs
        ("2.8.4", "3.4.2", "lts"),
        ("3.4.3.5", "3.10.0.1", "lts"),
        ("3.10.0.1", "3.14.0.0", "lts"),
        // documented bridges
        ("2.8.0", "3.0.0", "bridge"),
        ("2.1.4", "2.8.1", "bridge"),
        ("2.6.0", "2.8.4", "bridge"),
        ("1.5.0", "2.0.0", "bridge"),
        ("1.0.3", "2.1.0", "bridge"),
        ("0.14.1", "1.5.0", "bridge"),
        // refused with hops
        ("2.6.0", "3.4.2", "needs_stops 2.8.x"),
        ("2.7.0", "3.0.0", "needs_stops 2.8.x (2.8.1 or later)"),
        ("2.1.0", "3.0.0", "needs_stops 2.8.x (2.8.1 or later)"),
        ("2.8.1", "3.1.0", "needs_stops 3.0.x"),
        ("2.8.1", "3.2.0", "needs_stops 3.0.x, then 3.1.x"),
        (
            "3.0.0",
            "3.5.0",
            "needs_stops 3.1.x, then 3.2.x, then 3.3.x, then 3.4.x",
        ),
        ("3.4.2", "3.6.0", "needs_stops 3.5.x"),
        ("3.4.2", "3.14.0.0", "needs_stops 3.10.x"),
        ("2.8.4", "3.10.0.1", "needs_stops 3.4.x"),
        ("2.2.0", "2.4.0", "needs_stops 2.3.x"),
        ("1.5.0", "2.8.0", "needs_stops 2.1.x"),
        ("1.5.0", "3.4.2", "needs_stops 2.1.x, then 2.8.x"),
        (
            "1.2.0",
            "3.0.0",
            "needs_stops 2.1.x, then 2.8.x (2.8.1 or later)",
        ),
        ("0.14.0", "2.0.0", "needs_stops 1.0.x"),
        ("0.13.0", "1.0.0", "needs_stops 0.14.x (0.14.1 or later)"),
        (
            "3.6.0",
            "3.14.0.0",
            "needs_stops 3.7.x, then 3.8.x, then 3.9.x, then 3.10.x",
        ),
        // nothing documented
        ("3.4.2", "4.0.0", "no_documented_path"),
        ("2.9.0", "3.0.0", "no_documented_path"),
        ("3.0.0", "3.500.0", "no_documented_path"),
    ];

    fn answer_text(answer: &PathAnswer) -> String {
        let kind = serde_json::to_value(answer.kind).unwrap();
        let kind = kind.as_str().unwrap().to_string();
        if answer.hops.is_empty() {
            kind
        } else {
            format!("{kind} {}", join_hops(&answer.hops))
        }
    }

    #[test]
    fn kong_path_table() {
        for (from, to, expected) in PATHS {
            let answer = upgrade_path(&v(from), &v(to));
            assert_eq!(answer_text(&answer), *expected, "{from} → {to}");
            let supported = !expected.starts_with("needs_stops")
                && !matches!(*expected, "downgrade" | "no_documented_path");
            assert_eq!(answer.supported, supported, "{from} → {to}");
        }
    }

    #[test]
    fn every_path_rule_has_a_row() {
        for rule in PATH_RULES {
            let covered = PATHS.iter().any(|(from, to, expected)| {
                let (from, to) = (v(from), v(to));
                rule.from.contains(from.series())
                    && rule.to.contains(to.series())
                    && !expected.starts_with("needs_stops")
            });
            assert!(covered, "no row for {} → {}", rule.from, rule.to);
        }
    }

    #[test]
    fn refusal_names_the_first_stop() {
        let answer = upgrade_path(&v("2.6.0"), &v("3.4.2"));
        assert_eq!(
            answer.summary(),
            "2.6.0 → 3.4.2 is not a supported upgrade path: go through 2.8.x first"
        );
    }

    /// from, to, whether accept_unsupported_path may skip the stops.
    const SKIPPABLE: &[(&str, &str, bool)] = &[
        ("3.4.2", "3.6.0", true),
        ("2.6.0", "3.4.2", true),
        ("2.0.0", "3.0.0", false),
        ("1.5.0", "3.4.2", false),
        ("0.13.0", "1.0.0", false),
        ("3.4.2", "3.4.3", false),
    ];

    #[test]
    fn migration_floors_bound_what_can_be_skipped() {
        for (from, to, skippable) in SKIPPABLE {
            assert_eq!(
                upgrade_path(&v(from), &v(to)).skippable(),
                *skippable,
                "{from} → {to}"
            );
        }
    }

    /// from, to, warning codes.
    const PATH_WARNINGS: &[(&str, &str, &[WarningCode])] = &[
        ("2.8.4", "3.4.2", &[WarningCode::LtsJump]),
        ("3.9.3", "3.10.0", &[WarningCode::EnterpriseOnlyRelease]),
        ("3.9.3", "3.10.0.1", &[]),
        ("2.8.2", "3.2.0", &[WarningCode::HybridProtocol311]),
        ("3.4.1", "3.4.2", &[]),
    ];

    #[test]
    fn path_warnings_per_rule() {
        for (from, to, codes) in PATH_WARNINGS {
            let answer = upgrade_path(&v(from), &v(to));
            let found: Vec<_> = answer.warnings.iter().map(|w| w.code).collect();
            assert_eq!(&found, codes, "{from} → {to}");
        }
    }

    #[test]
    fn version_compare_is_minus_one_zero_one() {
        assert_eq!(version_compare(&v("3.4.2"), &v("3.10.0")), -1);
        assert_eq!(version_compare(&v("kong/3.4.2"), &v("3.4.2")), 0);
        assert_eq!(version_compare(&v("3.4.3.5"), &v("3.4.3")), 1);
    }

    fn any_version() -> impl Strategy<Value = KongVersion> {
        prop_oneof![
            (0u32..5, 0u32..16, 0u32..6).prop_map(|(a, b, c)| KongVersion::new(a, b, c)),
            (0u32..5, 0u32..16, 0u32..6, 0u32..6)
                .prop_map(|(a, b, c, d)| KongVersion::enterprise(a, b, c, d)),
            (0u32..5, 0u32..u32::MAX, 0u32..u32::MAX)
                .prop_map(|(a, b, c)| KongVersion::new(a, b, c)),
        ]
    }

    proptest! {
        #[test]
        fn following_the_hops_is_all_supported(from in any_version(), to in any_version()) {
            let answer = upgrade_path(&from, &to);
            if answer.kind == PathKind::NeedsStops {
                // Stepping from stop to stop (at each stop's minimum) is
                // supported hop by hop, and never goes backwards.
                let mut at = from;
                for hop in &answer.hops {
                    let next = hop.at_least.unwrap_or(KongVersion::new(hop.major, hop.minor, 0));
                    prop_assert!(next > at);
                    prop_assert!(upgrade_path(&at, &next).supported, "{} → {}", at, next);
                    at = next;
                }
                prop_assert!(upgrade_path(&at, &to).supported, "{} → {} after hops", at, to);
            }
        }

        #[test]
        fn supported_means_no_hops(from in any_version(), to in any_version()) {
            let answer = upgrade_path(&from, &to);
            prop_assert_eq!(answer.supported, answer.hops.is_empty()
                && !matches!(answer.kind, PathKind::Downgrade | PathKind::NoDocumentedPath));
        }

        #[test]
        fn version_compare_agrees_with_ord(a in any_version(), b in any_version()) {
            prop_assert_eq!(version_compare(&a, &b), -version_compare(&b, &a));
            prop_assert_eq!(version_compare(&a, &b) == 0, a == b);
        }
    }
}
