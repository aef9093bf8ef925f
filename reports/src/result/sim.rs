//! The results of `sim`, `replay` and `shrink`, as their `--json` writes them.

use protocol::properties::Kind;
use protocol::Property;
use serde::{Deserialize, Serialize};
use sim::config::SimConfig;
use sim::coverage::CoverageReport;
use sim::run::Violation;
use sim::shrink::Size;
use sim::sweep::Shard;

/// The JSON layout of `sim`, `replay` and `shrink` results.
pub const SCHEMA_VERSION: u32 = 1;

/// How fast the seeds ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimFigures {
    /// Seeds run.
    pub seeds: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Seeds per wall-clock second.
    pub seeds_per_sec: f64,
    /// Events processed.
    pub events: u64,
    /// Events per wall-clock second.
    pub events_per_sec: f64,
    /// Simulated seconds, over all seeds.
    pub simulated_seconds: f64,
    /// Simulated time over wall-clock time.
    pub sim_to_real: f64,
}

impl SimFigures {
    /// The figures of `seeds` seeds that processed `events` events over `sim_ms` simulated
    /// milliseconds in `seconds`.
    pub fn new(seeds: usize, events: u64, sim_ms: u64, seconds: f64) -> SimFigures {
        let s = seconds.max(1e-9);
        SimFigures {
            seeds,
            seconds,
            seeds_per_sec: seeds as f64 / s,
            events,
            events_per_sec: events as f64 / s,
            simulated_seconds: sim_ms as f64 / 1000.0,
            sim_to_real: sim_ms as f64 / 1000.0 / s,
        }
    }
}

/// One property's verdict over the seeds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyEntry {
    /// Its name.
    pub name: String,
    /// `always` or `eventually`.
    pub kind: String,
    /// `holds`, `violated` or `not checked`.
    pub status: String,
    /// Seeds in which it failed.
    pub failing_seeds: usize,
}

/// One failing seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// Its trace hash.
    pub hash: String,
    /// The first property it violated.
    pub property: String,
    /// When, in simulated ms.
    pub time_ms: u64,
    /// `protocol` or `assumption-breached`.
    pub label: String,
    /// Why.
    pub detail: String,
    /// Every violation of the run.
    pub violations: Vec<Violation>,
    /// The faults outside the timing envelope before the first violation.
    pub breaches: Vec<String>,
    /// The command line that replays it, if flags can say it all.
    pub replay_command: Option<String>,
    /// Its replay file, if saved.
    pub replay_file: Option<String>,
}

/// The result of `sim` and `replay`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `sim` or `replay`.
    pub command: String,
    /// What was simulated.
    pub config: SimConfig,
    /// `N` or `A..B`.
    pub seeds: String,
    /// The shard of the range run, if one.
    pub shard: Option<Shard>,
    /// The time within which the group must converge once faults stop.
    pub liveness_bound_ms: u64,
    /// How fast.
    pub figures: SimFigures,
    /// The hash over every seed's trace.
    pub combined_hash: String,
    /// One entry per property.
    pub properties: Vec<PropertyEntry>,
    /// The failing seeds, the detailed ones first.
    pub failures: Vec<Failure>,
    /// Which faults were injected, and where.
    pub coverage: CoverageReport,
}

impl SimReport {
    /// Whether any seed failed.
    pub fn violated(&self) -> bool {
        !self.failures.is_empty()
    }
}

/// Each property's verdict, given the violations of the failing seeds.
pub fn properties(config: &SimConfig, failed: &[&Violation]) -> Vec<PropertyEntry> {
    Property::ALL
        .into_iter()
        .map(|p| {
            let n = failed.iter().filter(|v| v.property == p.name()).count();
            let checked = config.liveness || p.kind() == Kind::Always;
            PropertyEntry {
                name: p.name().to_string(),
                kind: match p.kind() {
                    Kind::Always => "always",
                    Kind::Eventually => "eventually",
                }
                .to_string(),
                status: if n > 0 {
                    "violated"
                } else if checked {
                    "holds"
                } else {
                    "not checked"
                }
                .to_string(),
                failing_seeds: n,
            }
        })
        .collect()
}

/// The result of `shrink`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShrinkReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `shrink`.
    pub command: String,
    /// The property that still fails.
    pub property: String,
    /// The failing run as given.
    pub before: Size,
    /// The failing seed's own run, reduced.
    pub reduced: Size,
    /// The shrunk run.
    pub after: Size,
    /// The shrunk run's seed (another than the failing one's if regrown).
    pub seed: u64,
    /// Whether a smaller group failing the same way was found.
    pub regrown: bool,
    /// Runs tried.
    pub attempts: u32,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The faults the shrunk run injects, readably, in order.
    pub faults: Vec<String>,
    /// Where its replay file was saved.
    pub saved: String,
}
