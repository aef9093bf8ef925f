//! Running a check: the stateright checker for the always- and sometimes-properties, the
//! liveness pass for the eventually-properties, and one report for the CLI and JSON.

use crate::config::ModelConfig;
use crate::liveness;
use crate::properties::{explain, Checked};
use crate::system::RebalanceModel;
use crate::trace::{self, Trace};
use protocol::Property;
use serde::{Deserialize, Serialize};
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The JSON schema version of [`CheckReport`].
pub const SCHEMA_VERSION: u32 = 1;

/// Search order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Breadth first: shortest counterexamples (with one thread; near-shortest with more).
    Bfs,
    /// Depth first: less memory.
    Dfs,
}

/// How to run.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Search order.
    pub strategy: Strategy,
    /// Checker threads.
    pub threads: usize,
    /// Give up after this long (the verdict is then "unknown" where nothing was found).
    pub timeout: Option<Duration>,
    /// Print progress to stderr.
    pub progress: bool,
    /// Run the liveness pass for the eventually-properties.
    pub liveness: bool,
}

impl CheckOptions {
    /// Breadth first on two threads, no progress, no timeout: for tests and benchmarks.
    pub fn quiet(liveness: bool) -> Self {
        CheckOptions {
            strategy: Strategy::Bfs,
            threads: 2,
            timeout: None,
            progress: false,
            liveness,
        }
    }
}

/// The status of one property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Holds in every reachable state (always) / from every reachable state (eventually).
    Holds,
    /// A counterexample was found.
    Violated,
    /// A `sometimes` property was reached.
    Reached,
    /// A `sometimes` property was not reached in the whole space.
    NotReached,
    /// The run stopped (timeout) before a verdict.
    Unknown,
}

/// One property's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PropertyResult {
    /// Its name.
    pub name: String,
    /// `always`, `eventually` or `sometimes`.
    pub kind: String,
    /// Its status.
    pub status: Status,
    /// Why it failed, in a sentence.
    pub reason: Option<String>,
    /// The counterexample (violations) or example (sometimes).
    pub trace: Option<Trace>,
}

/// Figures of the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Figures {
    /// States generated, repeats included.
    pub total_states: usize,
    /// Distinct states.
    pub unique_states: usize,
    /// Deepest path explored.
    pub depth: usize,
    /// Wall-clock seconds of the safety search.
    pub seconds: f64,
    /// Distinct states per second.
    pub unique_states_per_sec: f64,
    /// Whether every reachable state was explored.
    pub exhaustive: bool,
    /// States in the liveness pass (0 if not run).
    pub liveness_states: usize,
    /// Seconds of the liveness pass.
    pub liveness_seconds: f64,
}

/// The outcome of `rebalanser check`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `check`.
    pub command: String,
    /// The crate version.
    pub version: String,
    /// What was checked.
    pub config: ModelConfig,
    /// Search order.
    pub strategy: Strategy,
    /// Threads.
    pub threads: usize,
    /// Figures.
    pub figures: Figures,
    /// One entry per property (for a portfolio: folded over its configurations).
    pub properties: Vec<PropertyResult>,
    /// For a portfolio run: every configuration's own result, in the order run; `config` is
    /// then the last one's. Empty for a single configuration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<crate::portfolio::Row>,
}

impl CheckReport {
    /// Whether any always- or eventually-property was violated.
    pub fn violated(&self) -> bool {
        self.properties.iter().any(|p| p.status == Status::Violated)
    }
}

/// Check `config`.
pub fn run(config: &ModelConfig, options: &CheckOptions) -> CheckReport {
    let model = RebalanceModel::new(config.clone());
    let properties = model.properties();
    let mut builder = model.clone().checker().threads(options.threads.max(1));
    if let Some(t) = options.timeout {
        builder = builder.timeout(t);
    }
    // Stop at the first violation of the property the run is about: a mutant's, or
    // no_double_access when the timing assumption is off; otherwise at the first violation.
    let target = config
        .mutant
        .map(|m| m.breaks())
        .or((!config.timing_assumption).then_some(Property::NoDoubleAccess))
        .map(Property::name);
    let target_is_safety = target.is_some_and(|t| properties.iter().any(|p| p.name == t));
    builder = match target {
        Some(t) if target_is_safety => {
            builder.finish_when(HasDiscoveries::AnyOf(BTreeSet::from([t])))
        }
        Some(_) => builder,
        None => builder.finish_when(HasDiscoveries::AnyFailures),
    };
    let start = Instant::now();
    let (total, unique, depth, discoveries) = match options.strategy {
        Strategy::Bfs => wait(builder.spawn_bfs(), start, options.progress),
        Strategy::Dfs => wait(builder.spawn_dfs(), start, options.progress),
    };
    let seconds = start.elapsed().as_secs_f64();
    let timed_out = options.timeout.is_some_and(|t| start.elapsed() >= t);
    let failed = |name: &str| {
        properties
            .iter()
            .any(|p| p.name == name && p.expectation == stateright::Expectation::Always)
    };
    let stopped_early = match target {
        Some(t) => discoveries.iter().any(|(n, _, _)| *n == t),
        None => discoveries.iter().any(|(n, _, _)| failed(n)),
    };
    let exhaustive = !timed_out && !stopped_early;

    let mut results = Vec::new();
    for p in &properties {
        let found = discoveries.iter().find(|(n, _, _)| *n == p.name);
        let (kind, status) = match (&p.expectation, found) {
            (stateright::Expectation::Always, Some(_)) => ("always", Status::Violated),
            (stateright::Expectation::Always, None) if exhaustive => ("always", Status::Holds),
            (stateright::Expectation::Always, None) => ("always", Status::Unknown),
            (_, Some(_)) => ("sometimes", Status::Reached),
            (_, None) if exhaustive => ("sometimes", Status::NotReached),
            (_, None) => ("sometimes", Status::Unknown),
        };
        let (reason, trace) = match found {
            Some((_, states, actions)) => (
                match Checked::from_name(p.name) {
                    Some(Checked::Always(property)) => {
                        explain(states.last().expect("a path has a state"), property)
                    }
                    Some(Checked::Sometimes(s)) => Some(s.shows().to_string()),
                    None => None,
                },
                Some(trace::render(&model, states, actions)),
            ),
            None => (None, None),
        };
        results.push(PropertyResult {
            name: p.name.to_string(),
            kind: kind.to_string(),
            status,
            reason,
            trace,
        });
    }
    let mut figures = Figures {
        total_states: total,
        unique_states: unique,
        depth,
        seconds,
        unique_states_per_sec: unique as f64 / seconds.max(1e-9),
        exhaustive,
        ..Figures::default()
    };
    if config.timed {
        // The timed model judges safety only; the untimed rows judge liveness.
    } else if options.liveness && stopped_early {
        results.extend(eventually_unknown(
            "not checked: the run stopped at the first violation",
        ));
    } else if options.liveness {
        let remaining = options.timeout.map(|t| t.saturating_sub(start.elapsed()));
        let live = liveness::run(&model, remaining, options.progress);
        figures.liveness_states = live.states;
        figures.liveness_seconds = live.seconds;
        results.extend(live.results);
    } else {
        results.extend(eventually_unknown("liveness pass not run (--no-liveness)"));
    }
    CheckReport {
        schema_version: SCHEMA_VERSION,
        command: "check".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        config: config.clone(),
        strategy: options.strategy,
        threads: options.threads,
        figures,
        properties: results,
        rows: Vec::new(),
    }
}

fn eventually_unknown(reason: &str) -> Vec<PropertyResult> {
    liveness::EVENTUALLY
        .iter()
        .map(|(property, _)| PropertyResult {
            name: property.name().to_string(),
            kind: "eventually".into(),
            status: Status::Unknown,
            reason: Some(reason.into()),
            trace: None,
        })
        .collect()
}

type Found = Vec<(&'static str, Vec<crate::State>, Vec<crate::Action>)>;

fn wait<C: Checker<RebalanceModel>>(
    checker: C,
    start: Instant,
    progress: bool,
) -> (usize, usize, usize, Found) {
    let mut last = 0;
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(10));
        let secs = start.elapsed().as_secs();
        if progress && secs >= last + 2 {
            last = secs;
            let unique = checker.unique_state_count();
            eprintln!(
                "  checking: {} states ({} unique), depth {}, {:.0} unique states/s, {}s",
                checker.state_count(),
                unique,
                checker.max_depth(),
                unique as f64 / start.elapsed().as_secs_f64(),
                secs
            );
        }
    }
    let checker = checker.join();
    let found = checker
        .discoveries()
        .into_iter()
        .map(|(name, path)| {
            let v = path.into_vec();
            let states = v.iter().map(|(s, _)| s.clone()).collect();
            let actions = v.into_iter().filter_map(|(_, a)| a).collect();
            (name, states, actions)
        })
        .collect();
    (
        checker.state_count(),
        checker.unique_state_count(),
        checker.max_depth(),
        found,
    )
}
