//! One seeded run: a discrete-event simulation of the nodes, their applications, the network and
//! the registry, driving the `protocol` crate's code and checking every property as it goes.
//!
//! Time is true time in ms. Each node reads its own clock (an offset and a drift); the registry's
//! clock is true time. Events are processed in (time, insertion) order, so a run is a function of
//! its configuration and seed alone.

mod driver;
mod host;
mod inject;
mod judge;
mod network;
mod observe;
mod registry;
mod tape;

use crate::config::{Fault, Op, SimConfig};
use crate::coverage::Coverage;
use crate::fault::{FaultKind, FaultPlan};
use crate::schedule::{self, Action, Planned};
use crate::spec_step::{Snapshot, SnapshotNode, SpecAction, SpecStep};
use crate::swarm;
use crate::trace::{Flow, NodeState, TraceHash, TraceStep};
use driver::{Entry, Ev};
use host::{timer_index, Clock, Host, Queued};
use inject::Script;
use network::{node_index, Arrival, Fate, MsgId};
use observe::describe_output;
use protocol::properties::{
    access_holds_barrier, all_resources_accessed, assignment_writes, judge_write, no_double_access,
    rebalance_completes, replaced_assignment, WriteTiming,
};
use protocol::registry::{Change, Deliveries, Key, WatchEvent};
use protocol::{
    admin, AppCommand, FailureStep, Input, Node, Outcome, Output, Phase, Process, Property,
    Registry, ReqId, Request, ResourceId, Response, Time, TimerKind, World,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
pub use tape::Tape;
use tape::{Site, TapeMode};

/// A run stops after this many events (a livelock would otherwise never end).
pub const MAX_EVENTS: u64 = 20_000_000;

/// What to record beyond the hash.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Keep a [`TraceStep`] per event.
    pub trace: bool,
}

/// A property that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The property's name (or `event_budget` for a run that never ended).
    pub property: String,
    /// Simulated time, ms.
    pub time_ms: u64,
    /// The event number at which it failed.
    pub step: u64,
    /// Why.
    pub detail: String,
    /// A fault outside the timing envelope came first: not a protocol bug.
    pub assumption_breached: bool,
    /// The faults outside the envelope before it, readably.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaches: Vec<String>,
    /// Faults injected before it.
    pub faults: u64,
}

impl Violation {
    /// `assumption-breached` or `protocol`.
    pub fn label(&self) -> &'static str {
        if self.assumption_breached {
            "assumption-breached"
        } else {
            "protocol"
        }
    }
}

/// What one run did.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Its seed.
    pub seed: u64,
    /// The fault mix it ran with (drawn from the seed under swarm).
    pub plan: FaultPlan,
    /// The trace hash.
    pub hash: u64,
    /// Events processed.
    pub events: u64,
    /// Simulated time at the end, ms.
    pub sim_ms: u64,
    /// Each property's first violation, in order.
    pub violations: Vec<Violation>,
    /// Faults injected.
    pub coverage: Coverage,
    /// When the group converged after healing, ms.
    pub converged_at: Option<u64>,
    /// The steps, with [`RunOptions::trace`].
    pub trace: Vec<TraceStep>,
    /// Every fault injected, in order (what shrinking removes from).
    pub injected: Vec<Injected>,
}

/// One fault a run injected, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Injected {
    /// The event during which it was injected (0 for clock drift, set up before the run).
    pub step: u64,
    /// Simulated time, ms.
    pub time_ms: u64,
    /// The fault, as a script names it.
    pub fault: Fault,
}

impl RunResult {
    /// The first violation, if any.
    pub fn first_violation(&self) -> Option<&Violation> {
        self.violations.first()
    }

    /// The violation of `property`, if any.
    pub fn violation_of(&self, property: &str) -> Option<&Violation> {
        self.violations.iter().find(|v| v.property == property)
    }
}

/// Run `config` under `seed`.
///
/// With [`SimConfig::draws_from`], its base configuration runs first, for its random choices.
pub fn run(config: &SimConfig, seed: u64, options: RunOptions) -> RunResult {
    match &config.draws_from {
        Some(base) => run_taped(config, seed, options, &tape(base, seed)),
        None => {
            let mut sim = Sim::new(config, seed, options, TapeMode::Off);
            sim.run();
            sim.finish()
        }
    }
}

/// The random choices of the run of `config` under `seed`, by what each was for.
pub fn tape(config: &SimConfig, seed: u64) -> Tape {
    let mut sim = Sim::new(
        config,
        seed,
        RunOptions::default(),
        TapeMode::Record(Tape::default()),
    );
    sim.run();
    match sim.tape {
        TapeMode::Record(tape) => tape,
        _ => unreachable!("a recording run records"),
    }
}

/// Run `config` under `seed` with the random choices of `tape` (those of its
/// [`SimConfig::draws_from`], which this does not run again).
pub fn run_taped(config: &SimConfig, seed: u64, options: RunOptions, tape: &Tape) -> RunResult {
    let mut sim = Sim::new(config, seed, options, TapeMode::Play(tape));
    sim.run();
    sim.finish()
}

pub(super) struct Sim<'c> {
    tape: TapeMode<'c>,
    config: &'c SimConfig,
    seed: u64,
    plan: FaultPlan,
    rng: ChaCha8Rng,
    queue: BinaryHeap<Entry>,
    seq: u64,
    now: u64,
    /// Events that happened (numbered in the trace; `cancelled` ones are not counted).
    step: u64,
    /// Events popped, counted or not (the budget).
    popped: u64,
    /// The event being handled is one a real runtime never sees (see `cancelled`).
    silent: bool,
    registry: Registry,
    registry_down: bool,
    processes: Vec<Process>,
    hosts: Vec<Host>,
    healed: bool,
    done: bool,
    converged_at: Option<u64>,
    last_write: Option<Time>,
    hash: TraceHash,
    coverage: Coverage,
    violations: Vec<Violation>,
    breaches: Vec<String>,
    options: RunOptions,
    trace: Vec<TraceStep>,
    /// The trace step being built.
    current: Option<TraceStep>,
    /// With tracing: the spec actions of the event being handled.
    spec_actions: Vec<SpecAction>,
    /// The configuration's script, if it has one.
    script: Option<Script>,
    /// Every fault injected so far.
    injected: Vec<Injected>,
    /// Admin changes whose undo is on its way (by ordinal): the undo is part of the change.
    undo_pending: BTreeSet<u32>,
    /// The property of `config.stop_at` was violated: the run ends after this event.
    stopped: bool,
}

impl<'c> Sim<'c> {
    fn new(config: &'c SimConfig, seed: u64, options: RunOptions, tape: TapeMode<'c>) -> Self {
        let plan = if config.swarm {
            swarm::draw(seed)
        } else {
            config.faults.clone()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(0);
        let mut registry = Registry::new();
        for i in 0..config.resources {
            registry.txn(&admin::add_resource(&SimConfig::resource_id(i)));
        }
        let mut sim = Sim {
            tape,
            config,
            seed,
            plan,
            rng,
            queue: BinaryHeap::new(),
            seq: 0,
            now: 0,
            step: 0,
            popped: 0,
            silent: false,
            registry,
            registry_down: false,
            processes: Vec::with_capacity(config.nodes),
            hosts: Vec::with_capacity(config.nodes),
            healed: false,
            done: false,
            converged_at: None,
            last_write: None,
            hash: TraceHash::default(),
            coverage: Coverage::default(),
            violations: Vec::new(),
            breaches: Vec::new(),
            options,
            trace: Vec::new(),
            current: None,
            spec_actions: Vec::new(),
            script: config.script.as_deref().map(Script::new),
            injected: Vec::new(),
            undo_pending: BTreeSet::new(),
            stopped: false,
        };
        let rho = config.timing.max_drift_permille as i64 * 1000;
        for i in 0..config.nodes {
            let mut drift_ppm = 0;
            if sim.plan.has(FaultKind::ClockDrift) {
                drift_ppm = sim.rng.random_range(-rho..=rho);
                if config.breach_assumptions && sim.rng.random_bool(0.25) {
                    // Outside the envelope: up to 30% fast or slow.
                    let d = sim.rng.random_range(rho + 1..=300_000);
                    drift_ppm = if sim.rng.random_bool(0.5) { d } else { -d };
                }
                if let Some(script) = &sim.script {
                    drift_ppm = script.drift.get(&i).copied().unwrap_or(0);
                }
                if drift_ppm.abs() > rho {
                    sim.breach(format!(
                        "{}'s clock drifts {:+.1}% (limit ±{:.1}%)",
                        SimConfig::node_id(i),
                        drift_ppm as f64 / 10_000.0,
                        rho as f64 / 10_000.0
                    ));
                }
                if drift_ppm != 0 {
                    sim.coverage.fault(FaultKind::ClockDrift);
                    sim.record(Fault::Drift {
                        node: i,
                        ppm: drift_ppm,
                    });
                }
            }
            let offset = sim.rng.random_range(0..1_000_000_000);
            let clock = Clock {
                offset: sim.taped(|_| Site::Offset(i), offset),
                drift_ppm,
            };
            sim.processes.push(Process {
                node: sim.fresh_node(i),
                app: Default::default(),
                up: true,
            });
            sim.hosts.push(Host {
                inc: 0,
                clock,
                paused: false,
                queue: Vec::new(),
                outstanding: BTreeMap::new(),
                timer_gen: [0; 4],
                conn: 0,
                cut_to: 0,
                cut_from: 0,
                flap_until: 0,
                flap_down: false,
                last_request: 0,
                last_reply: 0,
                last_watch: 0,
                app_free: 0,
                sent: BTreeMap::new(),
                settled: BTreeSet::new(),
                sent_n: BTreeMap::new(),
                msg_n: Vec::new(),
                stops: 0,
                sites: BTreeMap::new(),
            });
        }
        sim.push(0, Ev::Start);
        let planned = match &config.script {
            None => schedule::draw(config, &sim.plan, seed),
            Some(script) => {
                let mut planned: Vec<Planned> = script
                    .iter()
                    .filter_map(|f| match f {
                        Fault::Scheduled(p) if sim.plan.has(p.kind) => Some(p.clone()),
                        _ => None,
                    })
                    .collect();
                planned.sort_by_key(|p| (p.at, p.kind, p.ordinal));
                planned
            }
        };
        for p in planned {
            sim.push(p.at, Ev::Fault(p));
        }
        if config.liveness {
            sim.push(config.duration, Ev::Heal);
            sim.push(config.duration + config.liveness_bound(), Ev::Deadline);
        }
        sim
    }

    fn fresh_node(&self, i: usize) -> Node {
        Node::new(
            SimConfig::node_id(i),
            self.config.timing.clone(),
            self.config.mutant,
        )
    }

    fn finish(self) -> RunResult {
        RunResult {
            seed: self.seed,
            plan: self.plan,
            hash: self.hash.value(),
            events: self.step,
            sim_ms: self.now,
            violations: self.violations,
            coverage: self.coverage,
            converged_at: self.converged_at,
            trace: self.trace,
            injected: self.injected,
        }
    }
}
