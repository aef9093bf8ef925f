//! The portfolio: what `rebalanser check` runs when it is given no configuration.
//!
//! One configuration cannot search every fault class: budgets multiply the state space, so the
//! one that fits a few minutes covers a few classes only, and a bug of another class (a late
//! release, a lapse under an admin change) passes it. The portfolio is a named list of small
//! configurations, each isolating one fault class on the smallest group where it bites, plus
//! the combined default. Its verdict holds only if every configuration holds, so "holds" means
//! that every class the model can express was searched. Every catalogued mutant is killed by at
//! least one entry (the tests check it), without a configuration tailored to it.

use crate::check::{CheckOptions, CheckReport, Figures, PropertyResult, Status};
use crate::config::{ModelConfig, Start};
use serde::{Deserialize, Serialize};

/// One named configuration of the portfolio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its name (`check --config NAME`).
    pub name: String,
    /// The fault class it isolates, in a sentence.
    pub covers: String,
    /// The configuration (no mutant).
    pub config: ModelConfig,
}

fn quiet(nodes: usize, resources: usize) -> ModelConfig {
    ModelConfig {
        nodes,
        resources,
        crashes: 0,
        rpc_faults: 0,
        ..ModelConfig::default()
    }
}

/// A timed configuration (see `clock`) with no faults.
fn timed(nodes: usize, resources: usize) -> ModelConfig {
    ModelConfig {
        timed: true,
        ..quiet(nodes, resources)
    }
}

fn entry(name: &str, covers: &str, config: ModelConfig) -> Entry {
    Entry {
        name: name.into(),
        covers: covers.into(),
        config,
    }
}

/// The portfolio, in the order it runs: cheapest first, so that a bug shows early.
pub fn entries() -> Vec<Entry> {
    vec![
        entry(
            "lapse-admin",
            "a lapse while the administrator changes the resources (a leader's write still on \
             its way when its lease expires)",
            ModelConfig {
                expiries: 1,
                admin_changes: 1,
                ..quiet(1, 1)
            },
        ),
        entry(
            "late",
            "requests delivered after their sender gave up on them, and requests delivered \
             twice, while resources come and go",
            ModelConfig {
                late: 1,
                duplicates: 1,
                admin_changes: 2,
                ..quiet(1, 1)
            },
        ),
        entry(
            "timed-lapse",
            "timed: a reply the network delays, then the node's link to the registry cut, on \
             every clock rate (the self-fencing deadline against the lease's expiry)",
            ModelConfig {
                delays: 1,
                expiries: 1,
                ..timed(1, 1)
            },
        ),
        entry(
            "timed-admin",
            "timed: the administrator changing the resources twice and a request/reply \
             failure (the rebalance hold after every write the leader learns of)",
            ModelConfig {
                rpc_faults: 1,
                admin_changes: 2,
                ..timed(1, 1)
            },
        ),
        entry(
            "lapse",
            "keep-alives lapsing: a node's self-fencing deadline passes and its lease expires",
            ModelConfig {
                expiries: 1,
                ..quiet(2, 2)
            },
        ),
        entry(
            "membership",
            "nodes leaving gracefully and joining again",
            ModelConfig {
                membership_changes: 2,
                ..quiet(2, 2)
            },
        ),
        entry(
            "admin",
            "the administrator removing and adding resources, two changes",
            ModelConfig {
                admin_changes: 2,
                ..quiet(2, 3)
            },
        ),
        entry(
            "bootstrap",
            "the group forming from scratch (every node joining), with one request/reply \
             failure at any of the eight steps",
            ModelConfig {
                rpc_faults: 1,
                start: Start::Joining,
                ..quiet(2, 2)
            },
        ),
        entry(
            "watch",
            "watch streams breaking (the node re-reads and watches again), with a crash",
            ModelConfig {
                crashes: 1,
                watch_breaks: 1,
                ..quiet(2, 2)
            },
        ),
        entry(
            "timed-crash",
            "timed: a process crash on two nodes, on every pair of clock rates (a lease \
             expiring and another node taking over its resources)",
            ModelConfig {
                crashes: 1,
                ..timed(2, 1)
            },
        ),
        entry(
            "default",
            "the combined default: a process crash (and restart) and a request/reply failure \
             at any of the eight steps",
            ModelConfig::default(),
        ),
    ]
}

/// The portfolio's timed configurations (`check --timed`).
pub fn timed_entries() -> Vec<Entry> {
    entries().into_iter().filter(|e| e.config.timed).collect()
}

/// The entry called `name`.
pub fn find(name: &str) -> Result<Entry, String> {
    let all = entries();
    all.iter().find(|e| e.name == name).cloned().ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
        format!(
            "--config {name}: no such configuration; expected one of: {}, all",
            names.join(", ")
        )
    })
}

/// One configuration's result within a portfolio run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The entry's name.
    pub name: String,
    /// What it covers.
    pub covers: String,
    /// Its whole result.
    pub report: CheckReport,
}

/// Run `entries` (each with `mutant`, if any), one after another, and fold their results into
/// one report whose `rows` hold every configuration's own. With a mutant the run stops at the
/// first configuration that finds a violation, as a single check stops at its first.
///
/// `on_row` is called before each configuration starts (for progress) with its index.
pub fn run(
    entries: &[Entry],
    mutant: Option<protocol::Mutant>,
    options: &CheckOptions,
    mut on_row: impl FnMut(usize, &Entry),
) -> CheckReport {
    let mut rows = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        on_row(i, e);
        let config = ModelConfig {
            mutant,
            ..e.config.clone()
        };
        let report = crate::check::run(&config, options);
        let stop = mutant.is_some() && report.violated();
        rows.push(Row {
            name: e.name.clone(),
            covers: e.covers.clone(),
            report,
        });
        if stop {
            break;
        }
    }
    fold(rows, options)
}

impl CheckReport {
    /// Whether this portfolio run of `entries` explored all that its "holds" claims: every
    /// entry ran, none violated a property, each explored its whole state space (no bound or
    /// time-out stopped it), and every property holds or, for a `sometimes` property, was
    /// reached by some entry (else the configurations never exercise what it watches). `Err`
    /// names the first shortfall.
    pub fn complete(&self, entries: &[Entry]) -> Result<(), String> {
        let ran: Vec<&str> = self.rows.iter().map(|r| r.name.as_str()).collect();
        let asked: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        if ran != asked {
            return Err(format!(
                "the portfolio ran [{}], not [{}]",
                ran.join(", "),
                asked.join(", ")
            ));
        }
        for row in &self.rows {
            if let Some(p) = row
                .report
                .properties
                .iter()
                .find(|p| p.status == Status::Violated)
            {
                return Err(format!("{}: {} is violated", row.name, p.name));
            }
            if !row.report.figures.exhaustive {
                return Err(format!(
                    "{} is not exhaustive (a bound or time-out stopped it)",
                    row.name
                ));
            }
        }
        match self
            .properties
            .iter()
            .find(|p| !matches!(p.status, Status::Holds | Status::Reached))
        {
            Some(p) => Err(format!(
                "{} is {} over the portfolio",
                p.name,
                match p.status {
                    Status::NotReached => "never reached",
                    Status::Unknown => "undecided",
                    _ => "violated",
                }
            )),
            None => Ok(()),
        }
    }
}

/// One report for a portfolio: a property is violated if any configuration violates it (the
/// first such configuration's counterexample is kept), holds if every configuration decided it
/// holds, and a `sometimes` property is reached if any configuration reached it.
fn fold(rows: Vec<Row>, options: &CheckOptions) -> CheckReport {
    let mut figures = Figures {
        exhaustive: true,
        ..Figures::default()
    };
    let mut properties: Vec<PropertyResult> = Vec::new();
    for row in &rows {
        let f = &row.report.figures;
        figures.total_states += f.total_states;
        figures.unique_states += f.unique_states;
        figures.depth = figures.depth.max(f.depth);
        figures.seconds += f.seconds;
        figures.exhaustive &= f.exhaustive;
        figures.liveness_states += f.liveness_states;
        figures.liveness_seconds += f.liveness_seconds;
        for p in &row.report.properties {
            let Some(into) = properties.iter_mut().find(|q| q.name == p.name) else {
                let mut first = p.clone();
                first.reason = first.reason.map(|r| format!("[{}] {r}", row.name));
                properties.push(first);
                continue;
            };
            if rank(p.status) > rank(into.status) {
                *into = p.clone();
                into.reason = into.reason.take().map(|r| format!("[{}] {r}", row.name));
            }
        }
    }
    figures.unique_states_per_sec = figures.unique_states as f64 / figures.seconds.max(1e-9);
    CheckReport {
        schema_version: crate::check::SCHEMA_VERSION,
        command: "check".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        config: rows
            .last()
            .map_or_else(ModelConfig::default, |r| r.report.config.clone()),
        strategy: options.strategy,
        threads: options.threads,
        figures,
        properties,
        rows,
    }
}

/// Which status a folded property takes: a violation anywhere wins, then a reached
/// `sometimes`, then an undecided one, then holds / not reached (which need every row).
fn rank(s: Status) -> u8 {
    match s {
        Status::Holds | Status::NotReached => 0,
        Status::Unknown => 1,
        Status::Reached => 2,
        Status::Violated => 3,
    }
}
