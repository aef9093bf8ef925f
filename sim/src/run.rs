//! One seeded run: a discrete-event simulation of the nodes, their applications, the network and
//! the registry, driving the `protocol` crate's code and checking every property as it goes.
//!
//! Time is true time in ms. Each node reads its own clock (an offset and a drift); the registry's
//! clock is true time. Events are processed in (time, insertion) order, so a run is a function of
//! its configuration and seed alone.

use crate::config::{Fault, Op, SimConfig};
use crate::coverage::Coverage;
use crate::fault::{FaultKind, FaultPlan};
use crate::schedule::{self, Action, Planned};
use crate::spec_trace;
use crate::swarm;
use crate::trace::{NodeState, TraceHash, TraceStep};
use protocol::properties::{
    access_holds_barrier, all_resources_accessed, assignment_writes, fenced_write, min_interval,
    no_double_access, rebalance_completes, well_formed_write,
};
use protocol::registry::{Change, Deliveries, Key, WatchEvent};
use protocol::{
    admin, AppCommand, FailureStep, Input, Node, Outcome, Output, Phase, Process, Property,
    Registry, ReqId, Request, ResourceId, Response, Time, TimerKind, World,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

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

/// One run's random choices, each by what it was for (see [`SimConfig::draws_from`]).
#[derive(Clone, Debug, Default)]
pub struct Tape(BTreeMap<Site, u64>);

impl Tape {
    /// Choices recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it recorded none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a random choice is for, named so that it stays the same choice when the run around it
/// changes: a request's latency by the request (see [`MsgId`]), a watch event's by the node's
/// number of events of that change, an application command's by the node's commands of that
/// kind on that resource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Site {
    Offset(usize),
    Latency {
        node: usize,
        msg: MsgId,
        reply: bool,
    },
    Event {
        node: usize,
        change: Option<(Key, bool)>,
        n: u32,
    },
    Detect {
        node: usize,
        n: u32,
    },
    App {
        node: usize,
        start: bool,
        resource: ResourceId,
        n: u32,
    },
}

enum TapeMode<'t> {
    /// Draw.
    Off,
    /// Draw, and record each choice by what it is for.
    Record(Tape),
    /// Take each choice from the tape, by what it is for (draw those it lacks).
    Play(&'t Tape),
}

/// Why a request is going to fail, decided when it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
enum Fate {
    Ok,
    Fail(FailureStep),
}

/// A request on its way to the registry.
#[derive(Clone, Debug, Serialize)]
struct Arrival {
    node: usize,
    inc: u32,
    req: ReqId,
    request: Request,
    fate: Fate,
    /// A second copy made by the network: its reply is lost.
    dup: bool,
    /// Its client has given up on it already.
    orphan: bool,
}

/// A scheduled event.
#[derive(Clone, Debug, Serialize)]
enum Ev {
    /// Every node is asked to join.
    Start,
    /// A request reaches the registry.
    Arrive(Arrival),
    /// An outcome reaches the client.
    Reply {
        node: usize,
        inc: u32,
        req: ReqId,
        outcome: Outcome,
    },
    /// The client gives up on a request.
    Timeout { node: usize, inc: u32, req: ReqId },
    /// A watch event reaches the client on stream `conn`.
    Watch {
        node: usize,
        inc: u32,
        conn: u32,
        event: WatchEvent,
    },
    /// The client notices its watch stream broke.
    WatchBroken { node: usize, inc: u32 },
    /// A node timer fires, if still armed with generation `gen`.
    Timer {
        node: usize,
        inc: u32,
        kind: TimerKind,
        gen: u32,
    },
    /// The application carries out its oldest command.
    AppDone { node: usize, inc: u32 },
    /// The registry expires the leases that are due.
    LeaseCheck,
    /// A scheduled fault.
    Fault(Planned),
    /// A cut link heals.
    Uncut {
        nodes: Vec<usize>,
        to_registry: bool,
        from_registry: bool,
    },
    /// A flapping link flips.
    Flip { node: usize, period: u64 },
    /// A crashed process restarts.
    Restart { node: usize, inc: u32 },
    /// A paused process resumes.
    Resume { node: usize, inc: u32 },
    /// The registry is reachable again.
    RegistryUp,
    /// The fault phase ends: everything heals.
    Heal,
    /// The liveness bound has passed.
    Deadline,
}

struct Entry {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: the heap pops the earliest (time, insertion) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A node's clock: `offset + t + t·drift/10⁶` at true time `t`.
#[derive(Clone, Copy, Debug)]
struct Clock {
    offset: u64,
    drift_ppm: i64,
}

impl Clock {
    fn local(&self, t: u64) -> u64 {
        let skew = (t as i128 * self.drift_ppm as i128) / 1_000_000;
        (self.offset as i128 + t as i128 + skew) as u64
    }

    /// The first true time at which the clock reads at least `at`, not before `now`.
    fn true_at(&self, at: u64, now: u64) -> u64 {
        if at <= self.local(now) {
            return now;
        }
        let since = (at - self.offset) as i128 * 1_000_000;
        let rate = 1_000_000 + self.drift_ppm as i128;
        let mut t = ((since + rate - 1) / rate) as u64;
        while self.local(t) < at {
            t += 1;
        }
        t.max(now)
    }
}

/// Something queued for a paused node.
enum Queued {
    Input(Input),
    Timer(TimerKind, u32),
}

/// The runtime around one node: what a production adapter does with sockets and timers.
struct Host {
    inc: u32,
    clock: Clock,
    paused: bool,
    queue: Vec<Queued>,
    /// Requests awaiting an outcome, with the client's timeout deadline.
    outstanding: BTreeMap<ReqId, u64>,
    timer_gen: [u32; 4],
    /// The watch stream; events of an older stream are dropped.
    conn: u32,
    cut_to: u32,
    cut_from: u32,
    flap_until: u64,
    flap_down: bool,
    /// FIFO links: the latest arrival scheduled per direction.
    last_request: u64,
    last_reply: u64,
    last_watch: u64,
    app_free: u64,
    /// With tracing: the requests awaiting an outcome, for the spec's view of a node.
    sent: BTreeMap<ReqId, Request>,
    /// With tracing: requests whose arrival the spec trace already settled.
    settled: BTreeSet<ReqId>,
    /// Requests sent per kind (what they do), over the run: how per-message faults name them.
    sent_n: BTreeMap<(Op, Option<Key>), u32>,
    /// Per incarnation, per request id: its number among the node's requests of its operation.
    msg_n: Vec<Vec<u32>>,
    /// Stop commands given, over the run.
    stops: u32,
    /// With a tape: the choices made so far per kind of choice, to name the next one.
    sites: BTreeMap<Site, u32>,
}

impl Host {
    fn blocked_to(&self) -> bool {
        self.cut_to > 0 || self.flap_down
    }
    fn blocked_from(&self) -> bool {
        self.cut_from > 0 || self.flap_down
    }
}

fn timer_index(kind: TimerKind) -> usize {
    match kind {
        TimerKind::KeepAlive => 0,
        TimerKind::Fence => 1,
        TimerKind::RebalanceHold => 2,
        TimerKind::Retry => 3,
    }
}

/// How per-message faults name a request: what it does, about which key, and its number among
/// the node's requests doing that.
type MsgId = (Op, Option<Key>, u32);

/// A scripted fault of one request: its kind, whether it hits the reply, its ms.
type MsgFault = (FaultKind, bool, Option<u64>);

/// A configuration's script, indexed for the run.
#[derive(Default)]
struct Script {
    /// Per node and request: the faults of that request.
    messages: BTreeMap<(usize, MsgId), Vec<MsgFault>>,
    drift: BTreeMap<usize, i64>,
    slow_stops: BTreeMap<(usize, u32), u64>,
}

impl Script {
    fn new(faults: &[Fault]) -> Script {
        let mut s = Script::default();
        for f in faults {
            match f {
                Fault::Scheduled(_) => {}
                Fault::Message {
                    kind,
                    node,
                    op,
                    key,
                    n,
                    reply,
                    ms,
                } => s
                    .messages
                    .entry((*node, (*op, key.clone(), *n)))
                    .or_default()
                    .push((*kind, *reply, *ms)),
                Fault::Drift { node, ppm } => {
                    s.drift.insert(*node, *ppm);
                }
                Fault::SlowStop { node, n, ms } => {
                    s.slow_stops.insert((*node, *n), *ms);
                }
            }
        }
        s
    }

    /// The scripted fault of `kind` on a request (or its reply): `Some(ms)` if there is one.
    fn message(
        &self,
        node: usize,
        msg: &MsgId,
        kind: FaultKind,
        reply: bool,
    ) -> Option<Option<u64>> {
        self.messages
            .get(&(node, msg.clone()))?
            .iter()
            .find(|(k, r, _)| *k == kind && *r == reply)
            .map(|(_, _, ms)| *ms)
    }
}

struct Sim<'c> {
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

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Entry {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// With tracing, mark the current event as one that changed nothing (a timer re-armed
    /// since, a reply after its timeout, an event of a dead stream or process).
    /// The event is the simulator's own bookkeeping, which a real runtime cancels instead of
    /// delivering: a timer re-armed or dropped since, the time-out of a request already
    /// settled, the broken-stream notice of a dead process, a lease check with nothing due.
    /// It is not counted and not traced: a trace shows what happened.
    fn cancelled(&mut self) {
        self.silent = true;
    }

    fn no_effect(&mut self) {
        if let Some(step) = self.current.as_mut() {
            step.detail.push_str(" (no effect)");
        }
    }

    /// A random choice, `drawn`, taken from the tape instead if there is one.
    fn taped(&mut self, site: impl FnOnce(&mut Self) -> Site, drawn: u64) -> u64 {
        match self.tape {
            TapeMode::Off => drawn,
            TapeMode::Record(_) => {
                let site = site(self);
                if let TapeMode::Record(tape) = &mut self.tape {
                    tape.0.insert(site, drawn);
                }
                drawn
            }
            TapeMode::Play(tape) => {
                let site = site(self);
                tape.0.get(&site).copied().unwrap_or(drawn)
            }
        }
    }

    /// The number of node `i`'s next choice of the kind `site` names (with `n` 0).
    fn next_site(&mut self, i: usize, site: Site) -> u32 {
        let count = self.hosts[i].sites.entry(site).or_insert(0);
        *count += 1;
        *count - 1
    }

    fn record(&mut self, fault: Fault) {
        self.injected.push(Injected {
            step: self.step,
            time_ms: self.now,
            fault,
        });
    }

    /// How per-message faults name request `req` of node `i`'s incarnation `inc`.
    fn msg_of(&self, i: usize, inc: u32, req: ReqId, request: &Request) -> MsgId {
        let n = self.hosts[i]
            .msg_n
            .get(inc as usize)
            .and_then(|v| v.get(req as usize))
            .copied()
            .unwrap_or(u32::MAX);
        let (op, key) = Op::of(request);
        (op, key, n)
    }

    fn breach(&mut self, what: String) {
        self.coverage.breaches += 1;
        self.breaches
            .push(format!("{:.3}s: {what}", self.now as f64 / 1000.0));
    }

    fn run(&mut self) {
        let end = if self.config.liveness {
            u64::MAX
        } else {
            self.config.duration
        };
        while let Some(entry) = self.queue.pop() {
            if entry.at > end || self.done {
                break;
            }
            debug_assert!(entry.at >= self.now, "time never runs backwards");
            self.now = entry.at;
            self.hash.record(&(entry.at, &entry.ev));
            if self.options.trace {
                self.current = Some(self.begin_step(&entry.ev));
            }
            self.silent = false;
            let violations = self.violations.len();
            self.handle(entry.ev);
            self.check_safety();
            if self.healed && self.converged_at.is_none() {
                self.check_convergence();
            }
            let counted = !self.silent || self.violations.len() > violations;
            if let Some(step) = self.current.take().filter(|_| counted) {
                self.trace.push(self.end_step(step));
            }
            self.step += u64::from(counted);
            self.popped += 1;
            if self.stopped {
                break;
            }
            if self.popped >= MAX_EVENTS {
                self.violate(
                    "event_budget",
                    format!("the run did not end within {MAX_EVENTS} events"),
                );
                break;
            }
        }
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

    // ---------------------------------------------------------------- events

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Start => {
                for i in 0..self.config.nodes {
                    self.feed(i, Input::Join);
                }
            }
            Ev::Arrive(a) => self.arrive(a),
            Ev::Reply {
                node,
                inc,
                req,
                outcome,
            } => {
                if self.hosts[node].inc == inc
                    && self.hosts[node].outstanding.remove(&req).is_some()
                {
                    self.feed(node, Input::Reply { req, outcome });
                } else {
                    self.no_effect();
                }
            }
            Ev::Timeout { node, inc, req } => {
                if self.hosts[node].inc == inc
                    && self.hosts[node].outstanding.remove(&req).is_some()
                {
                    let outcome = Outcome::Unknown;
                    self.feed(node, Input::Reply { req, outcome });
                } else {
                    self.cancelled();
                }
            }
            Ev::Watch {
                node,
                inc,
                conn,
                event,
            } => {
                let h = &self.hosts[node];
                if h.inc == inc && h.conn == conn {
                    self.feed(node, Input::Watch(event));
                } else {
                    self.no_effect();
                }
            }
            Ev::WatchBroken { node, inc } => {
                if self.hosts[node].inc == inc {
                    self.feed(node, Input::WatchBroken);
                } else {
                    self.cancelled();
                }
            }
            Ev::Timer {
                node,
                inc,
                kind,
                gen,
            } => {
                let h = &mut self.hosts[node];
                if h.inc != inc || h.timer_gen[timer_index(kind)] != gen {
                    return self.cancelled();
                }
                if h.paused {
                    h.queue.push(Queued::Timer(kind, gen));
                } else {
                    self.feed(node, Input::Timer(kind));
                }
            }
            Ev::AppDone { node, inc } => {
                if self.hosts[node].inc == inc {
                    // The trace says what the application did (the event only that it acted).
                    if let (Some(step), Some(cmd)) = (
                        self.current.as_mut(),
                        self.processes[node].app.pending.front(),
                    ) {
                        step.detail = match cmd {
                            protocol::AppCommand::Start(r) => format!("application starts {r}"),
                            protocol::AppCommand::Stop(r) => format!("application stops {r}"),
                        };
                    }
                    if let Some(ack) = self.processes[node].app.perform() {
                        self.feed(node, ack);
                    }
                }
            }
            Ev::LeaseCheck => {
                if self.registry_down {
                    return self.cancelled();
                }
                let before = self.registry.revision();
                let live: Vec<u64> = self.registry.leases().map(|(l, _)| l.0).collect();
                let deliveries = self.registry.expire_due(Time(self.now));
                if self.registry.leases().count() == live.len() {
                    // Nothing was due (a keep-alive moved the deadline on).
                    debug_assert_eq!(self.registry.revision(), before);
                    self.cancelled();
                }
                if self.current.is_some() {
                    for l in live {
                        if self.registry.lease(protocol::LeaseId(l)).is_none() {
                            self.label(spec_trace::action("Expire", None, json!({ "l": l })));
                        }
                    }
                }
                self.note_registry(before);
                self.route(deliveries);
            }
            Ev::Fault(p) => self.inject(p),
            Ev::Uncut {
                nodes,
                to_registry,
                from_registry,
            } => {
                for i in nodes {
                    let h = &mut self.hosts[i];
                    h.cut_to = h.cut_to.saturating_sub(to_registry.into());
                    h.cut_from = h.cut_from.saturating_sub(from_registry.into());
                }
            }
            Ev::Flip { node, period } => {
                let h = &mut self.hosts[node];
                if self.now >= h.flap_until {
                    h.flap_down = false;
                } else {
                    h.flap_down = !h.flap_down;
                    self.push(self.now + period, Ev::Flip { node, period });
                }
            }
            Ev::Restart { node, inc } => {
                if self.hosts[node].inc == inc && !self.processes[node].up {
                    self.processes[node].up = true;
                    self.feed(node, Input::Join);
                }
            }
            Ev::Resume { node, inc } => {
                if self.hosts[node].inc == inc {
                    self.resume(node);
                }
            }
            Ev::RegistryUp => self.registry_up(),
            Ev::Heal => self.heal(),
            Ev::Deadline => {
                if self.converged_at.is_none() {
                    self.liveness_failed();
                }
                self.done = true;
            }
        }
    }

    /// The registry receives a request.
    fn arrive(&mut self, a: Arrival) {
        let Arrival {
            node,
            inc,
            req,
            fate,
            dup,
            ..
        } = a;
        let request = &a.request;
        if self.registry_down {
            // Lost with the registry's connections; the client times out.
            return;
        }
        let watch = matches!(request, Request::Watch { .. });
        if watch
            && !(self.hosts[node].inc == inc && self.hosts[node].outstanding.contains_key(&req))
        {
            // A watch belongs to its stream (in etcd, to the gRPC stream and so to the process's
            // connection): one whose client died or gave up on it was cancelled with it, and
            // nothing it would deliver reaches a node.
            return self.no_effect();
        }
        // In the spec's terms: the request of the node's current request slot, not yet settled.
        let awaited = self.current.is_some()
            && !dup
            && self.hosts[node].inc == inc
            && self.processes[node].up
            && self.processes[node].node.pending_request() == Some(req)
            && !self.hosts[node].settled.contains(&req);
        // A step before the registry applies it: the client sees that step's outcome.
        if let Fate::Fail(step) = fate {
            if !step.applied() {
                let replied = self.reply(&a, step.outcome());
                if awaited && replied {
                    self.settle(node, req, spec_trace::fail(&SimConfig::node_id(node), step));
                }
                return;
            }
        }
        let (response, deliveries) = self.apply(node, request);
        if !watch {
            self.route(deliveries.clone());
        }
        let mut copied = false;
        let mut later = None;
        if !dup && !self.healed && !watch {
            if self.rng.random_bool(self.plan.rate(FaultKind::Duplicate)) {
                later = Some(
                    self.rng
                        .random_range(1..=self.config.network.request_timeout),
                );
            }
            if let Some(script) = &self.script {
                let msg = self.msg_of(node, inc, req, request);
                later = script
                    .message(node, &msg, FaultKind::Duplicate, false)
                    .filter(|_| self.plan.has(FaultKind::Duplicate))
                    .map(|ms| ms.unwrap_or(1));
            }
        }
        if let Some(later) = later {
            // The network hands the registry a second copy later; its reply is lost.
            self.coverage.fault(FaultKind::Duplicate);
            let msg = self.msg_of(node, inc, req, request);
            self.record_message(FaultKind::Duplicate, node, Some(&msg), false, Some(later));
            copied = true;
            self.push(
                self.now + later,
                Ev::Arrive(Arrival {
                    request: request.clone(),
                    fate: Fate::Ok,
                    dup: true,
                    orphan: true,
                    ..a.clone()
                }),
            );
        }
        let compacted = matches!(response, Response::Compacted { .. });
        let replied = match fate {
            // The reply never reaches the client, which times out.
            Fate::Fail(FailureStep::PostReply | FailureStep::DeliverReply) => false,
            // It arrives, and the client cannot use it.
            Fate::Fail(step) => self.reply(&a, step.outcome()),
            Fate::Ok => self.reply(&a, Outcome::Success(response)),
        };
        if watch {
            // etcd answers a watch request on its stream before the events it replays.
            self.route(deliveries);
        }
        if self.current.is_none() {
            return;
        }
        let n = SimConfig::node_id(node);
        let Some(op) = spec_trace::request(request) else {
            return; // a keep-alive: the spec has none
        };
        if !awaited {
            // Given up on (timed out, fenced, crashed), or a copy: it lands off the wire.
            let name = if copied {
                "DeliverOrphanKeep"
            } else {
                "DeliverOrphan"
            };
            return self.label(spec_trace::action(name, Some(&n), json!({ "op": op })));
        }
        if copied {
            self.label(spec_trace::action("Duplicate", Some(&n), Json::Null));
        }
        let what = match (fate, replied) {
            (_, false) => spec_trace::fail(&n, FailureStep::PostReply),
            (Fate::Fail(step), true) => spec_trace::fail(&n, step),
            (Fate::Ok, true) if compacted => {
                spec_trace::action("WatchCompacted", Some(&n), Json::Null)
            }
            (Fate::Ok, true) => spec_trace::action("Deliver", Some(&n), Json::Null),
        };
        self.settle(node, req, what);
    }

    /// Send the outcome of an arrived request back to its client, unless it cannot get there
    /// before the client gives up. Returns whether it was sent.
    fn reply(&mut self, a: &Arrival, outcome: Outcome) -> bool {
        let Arrival {
            node,
            inc,
            req,
            dup,
            orphan,
            ..
        } = *a;
        if dup || orphan || self.hosts[node].inc != inc || !self.processes[node].up {
            return false;
        }
        if self.hosts[node].blocked_from() {
            return false; // the reply is lost; the client times out
        }
        let Some(&deadline) = self.hosts[node].outstanding.get(&req) else {
            return false;
        };
        // A watch's creation comes back on its stream, ordered with its events and its break.
        let dir = match a.request {
            Request::Watch { .. } => Direction::Watch,
            _ => Direction::Reply,
        };
        let msg = self.msg_of(node, inc, req, &a.request);
        let at = self.arrival(node, dir, Carried::Reply(&msg));
        if at > deadline {
            return false; // the client will have given up
        }
        self.push(
            at,
            Ev::Reply {
                node,
                inc,
                req,
                outcome,
            },
        );
        true
    }

    /// With tracing: the spec action for an awaited request's arrival.
    fn settle(&mut self, node: usize, req: ReqId, what: Json) {
        self.hosts[node].settled.insert(req);
        self.label(what);
    }

    /// With tracing: one more spec action for the current event.
    fn label(&mut self, action: Json) {
        if let Some(step) = self.current.as_mut() {
            step.spec
                .get_or_insert_with(Default::default)
                .actions
                .push(action);
        }
    }

    /// The registry processes a request from node `i`; writes are judged as they happen.
    /// The caller routes the watch events it returns.
    fn apply(&mut self, i: usize, request: &Request) -> (Response, Deliveries) {
        let client = SimConfig::node_id(i);
        let before = self.registry.revision();
        let (response, deliveries) = self.registry.handle(Time(self.now), &client, request);
        if let Request::Grant { .. } | Request::KeepAlive { .. } = request {
            if let Response::Granted { ttl, .. } | Response::KeptAlive { ttl } = response {
                self.push(self.now + ttl, Ev::LeaseCheck);
            }
        }
        if self.registry.revision() > before {
            self.judge_writes(&client, before);
        }
        (response, deliveries)
    }

    fn judge_writes(&mut self, client: &protocol::NodeId, before: u64) {
        let events: Vec<WatchEvent> = self.registry.history_since(before).cloned().collect();
        for w in assignment_writes(&self.registry, client, &events) {
            if let Err(why) = fenced_write(&w) {
                self.violate(Property::FencedWrites.name(), why);
            }
            if let Err(why) = well_formed_write(&w) {
                self.violate(Property::AssignmentWellFormed.name(), why);
            }
            // The interval is measured on node clocks, which may run fast by up to ρ.
            let t = &self.config.timing;
            let interval =
                t.min_rebalance_interval - t.min_rebalance_interval * t.max_drift_permille / 1000;
            let this = Time(self.now);
            if let Err(why) = min_interval(self.last_write, this, interval) {
                self.violate(Property::MinIntervalRespected.name(), why);
            }
            self.last_write = Some(this);
        }
        if let Some(step) = self.current.as_mut() {
            step.registry.extend(events);
        }
    }

    /// With tracing, record the revisions committed since `before` outside a client request.
    fn note_registry(&mut self, before: u64) {
        if let Some(step) = self.current.as_mut() {
            step.registry
                .extend(self.registry.history_since(before).cloned());
        }
    }

    /// Hand watch events to their clients' streams.
    fn route(&mut self, deliveries: Deliveries) {
        for (client, event) in deliveries {
            let Some(i) = node_index(&client, self.config.nodes) else {
                continue;
            };
            if !self.processes[i].up {
                continue;
            }
            if self.hosts[i].blocked_from() {
                // The stream cannot carry it: it breaks, and the client re-reads later.
                self.break_watch(i);
                continue;
            }
            let at = self.arrival(i, Direction::Watch, Carried::Event(&event));
            let h = &self.hosts[i];
            let ev = Ev::Watch {
                node: i,
                inc: h.inc,
                conn: h.conn,
                event,
            };
            self.push(at, ev);
        }
    }

    fn break_watch(&mut self, i: usize) {
        self.registry.break_watch(&SimConfig::node_id(i));
        self.stream_broke(i);
    }

    /// Node `i`'s watch stream is gone: its client notices after what the stream still carried.
    fn stream_broke(&mut self, i: usize) {
        let detect = self.rng.random_range(1..=100);
        let detect = self.taped(
            |s| {
                let n = s.next_site(i, Site::Detect { node: i, n: 0 });
                Site::Detect { node: i, n }
            },
            detect,
        );
        let h = &mut self.hosts[i];
        h.conn += 1;
        h.last_watch = h.last_watch.max(self.now + detect);
        let (at, inc) = (h.last_watch, h.inc);
        self.push(at, Ev::WatchBroken { node: i, inc });
    }

    /// When a message sent now on one of node `i`'s links arrives: a request or a reply (of
    /// request `msg`, which per-message faults name it by) or a watch event.
    fn arrival(&mut self, i: usize, dir: Direction, carried: Carried<'_>) -> u64 {
        let n = &self.config.network;
        let latency = self.rng.random_range(n.min_latency..=n.max_latency);
        let latency = self.taped(
            |s| match carried {
                Carried::Request(msg) | Carried::Reply(msg) => Site::Latency {
                    node: i,
                    msg: msg.clone(),
                    reply: matches!(carried, Carried::Reply(_)),
                },
                Carried::Event(event) => {
                    let change = event.changes.first().map(|c| match c {
                        Change::Put(k, _) => (k.clone(), false),
                        Change::Delete(k) => (k.clone(), true),
                    });
                    let site = Site::Event {
                        node: i,
                        change,
                        n: 0,
                    };
                    let n = s.next_site(i, site.clone());
                    match site {
                        Site::Event { node, change, .. } => Site::Event { node, change, n },
                        other => other,
                    }
                }
            },
            latency,
        );
        let n = &self.config.network;
        let mut at = self.now + latency;
        let reply = dir == Direction::Reply;
        let msg = match carried {
            Carried::Request(m) | Carried::Reply(m) => Some(m),
            Carried::Event(_) => None,
        };
        if dir != Direction::Watch && !self.healed {
            let mut extra = self
                .rng
                .random_bool(self.plan.rate(FaultKind::Delay))
                .then(|| self.rng.random_range(50..=n.max_delay));
            if let (Some(script), Some(msg)) = (&self.script, msg) {
                extra = script
                    .message(i, msg, FaultKind::Delay, reply)
                    .filter(|_| self.plan.has(FaultKind::Delay))
                    .map(|ms| ms.unwrap_or(0));
            }
            if let Some(extra) = extra {
                self.coverage.fault(FaultKind::Delay);
                self.record_message(FaultKind::Delay, i, msg, reply, Some(extra));
                at += extra;
            }
        }
        let reorder = self.plan.has(FaultKind::Reorder) && dir != Direction::Watch;
        let h = &self.hosts[i];
        let last = match dir {
            Direction::Request => h.last_request,
            Direction::Reply => h.last_reply,
            Direction::Watch => h.last_watch,
        };
        if reorder && at < last {
            // A switch, also in a script: a link that is not FIFO lets any message overtake.
            self.coverage.fault(FaultKind::Reorder);
            self.record_message(FaultKind::Reorder, i, msg, reply, None);
        } else if !reorder {
            at = at.max(last);
        }
        let h = &mut self.hosts[i];
        let last = match dir {
            Direction::Request => &mut h.last_request,
            Direction::Reply => &mut h.last_reply,
            Direction::Watch => &mut h.last_watch,
        };
        *last = (*last).max(at);
        at
    }

    fn record_message(
        &mut self,
        kind: FaultKind,
        node: usize,
        msg: Option<&MsgId>,
        reply: bool,
        ms: Option<u64>,
    ) {
        if let Some((op, key, n)) = msg {
            self.record(Fault::Message {
                kind,
                node,
                op: *op,
                key: key.clone(),
                n: *n,
                reply,
                ms,
            });
        }
    }

    // ---------------------------------------------------------------- nodes

    /// Feed node `i` an input (queued while it is paused) and carry out its outputs.
    fn feed(&mut self, i: usize, input: Input) {
        if !self.processes[i].up {
            return;
        }
        if self.hosts[i].paused {
            self.hosts[i].queue.push(Queued::Input(input));
            return;
        }
        let local = Time(self.hosts[i].clock.local(self.now));
        let before = self
            .current
            .is_some()
            .then(|| self.processes[i].node.clone());
        let labelled = before.is_some().then(|| input.clone());
        let outputs = self.processes[i].node.handle(local, input);
        if let (Some(before), Some(input)) = (before, labelled) {
            self.label_input(i, &before, &input);
        }
        for output in outputs {
            if let Some(step) = self.current.as_mut() {
                step.outputs.push(describe_output(&output));
            }
            self.carry_out(i, output);
        }
        if self.healed && self.processes[i].node.phase() == Phase::Left {
            // Healing puts every node in the group: one whose leave was under way when the
            // fault phase ended joins again once it has left (else a group whose every node
            // was leaving then stays empty).
            self.feed(i, Input::Join);
        }
    }

    /// With tracing: the spec action for node `i` taking `input` (in state `before`).
    fn label_input(&mut self, i: usize, before: &Node, input: &Input) {
        let n = SimConfig::node_id(i);
        let after = &self.processes[i].node;
        let name = match input {
            Input::Join => match before.phase() {
                // The very first joins are the spec's initial state.
                Phase::Idle if self.step == 0 => return,
                Phase::Idle => "Restart",
                Phase::Left => "Join",
                _ => return,
            },
            Input::Leave if before.phase() == Phase::Member => "Leave",
            Input::Leave => return,
            Input::Reply { req, outcome } => {
                if before.pending_request() == Some(*req) {
                    if !self.hosts[i].settled.remove(req) {
                        // Nothing of it reached the registry in the trace: failed before it was
                        // posted, or timed out (it may still land later).
                        let what = match outcome {
                            Outcome::PostFailed => spec_trace::fail(&n, FailureStep::PostRequest),
                            _ => spec_trace::action("TimeOut", Some(&n), Json::Null),
                        };
                        self.label(what);
                    }
                    "Reply"
                } else if before.lease().is_some() && after.lease().is_none() {
                    "LeaseGone" // a keep-alive found the lease gone
                } else {
                    return;
                }
            }
            Input::Watch(event) => {
                // The node applies events only on its live stream (the core's watch guard).
                let live = before.watch_state() == protocol::node::WatchState::Live;
                if !live || before.view().rev == 0 || event.rev <= before.view().rev {
                    return;
                }
                let a = spec_trace::action("WatchTo", Some(&n), json!({ "rev": event.rev }));
                return self.label(a);
            }
            // A stream can break twice before the client notices: the second changes nothing.
            Input::WatchBroken if before == after => return,
            Input::WatchBroken => "BreakWatch",
            Input::Timer(TimerKind::Fence) | Input::Fence if before.lease().is_some() => "Lapse",
            Input::Fence => return,
            Input::Timer(TimerKind::RebalanceHold) if before.holding() => "HoldOver",
            Input::Timer(TimerKind::Retry) if before.backing_off() => "Retry",
            Input::Timer(_) => return,
            Input::Started(r) | Input::Stopped(r) => {
                let a = spec_trace::action("App", Some(&n), json!({ "r": r.0 }));
                return self.label(a);
            }
        };
        self.label(spec_trace::action(name, Some(&n), Json::Null));
    }

    fn carry_out(&mut self, i: usize, output: Output) {
        match output {
            Output::Send { req, request } => {
                if self.current.is_some() {
                    self.hosts[i].sent.insert(req, request.clone());
                }
                self.send(i, req, request)
            }
            Output::SetTimer { kind, at } => {
                let h = &mut self.hosts[i];
                h.timer_gen[timer_index(kind)] += 1;
                let gen = h.timer_gen[timer_index(kind)];
                let at = h.clock.true_at(at.0, self.now);
                let inc = h.inc;
                self.push(
                    at,
                    Ev::Timer {
                        node: i,
                        inc,
                        kind,
                        gen,
                    },
                );
            }
            Output::CancelTimer(kind) => self.hosts[i].timer_gen[timer_index(kind)] += 1,
            Output::Start(r) => {
                let latency = self.rng.random_range(1..=100);
                let latency = self.taped(|s| s.app_site(i, true, &r), latency);
                self.app_command(i, AppCommand::Start(r), latency);
            }
            Output::Stop(r) => {
                let max = self.config.envelope.max_stop(&self.config.timing);
                let mut latency = self.rng.random_range(1..=max);
                latency = self.taped(|s| s.app_site(i, false, &r), latency);
                let stop = self.hosts[i].stops;
                self.hosts[i].stops += 1;
                let mut slow = None;
                if self.config.breach_assumptions && self.plan.has(FaultKind::Pause) {
                    if self.rng.random_bool(0.05) {
                        slow = Some(
                            self.rng
                                .random_range(max + 1..=4 * self.config.timing.stop_budget),
                        );
                    }
                    if let Some(script) = &self.script {
                        slow = script.slow_stops.get(&(i, stop)).copied();
                    }
                }
                if let Some(ms) = slow {
                    latency = ms;
                    self.record(Fault::SlowStop {
                        node: i,
                        n: stop,
                        ms,
                    });
                    self.breach(format!(
                        "{}'s application takes {latency} ms to stop {r} (limit {max} ms)",
                        SimConfig::node_id(i)
                    ));
                }
                self.app_command(i, AppCommand::Stop(r), latency);
            }
            Output::Log(_) => {}
        }
    }

    fn app_site(&mut self, i: usize, start: bool, r: &ResourceId) -> Site {
        let site = Site::App {
            node: i,
            start,
            resource: r.clone(),
            n: 0,
        };
        let n = self.next_site(i, site);
        Site::App {
            node: i,
            start,
            resource: r.clone(),
            n,
        }
    }

    fn app_command(&mut self, i: usize, command: AppCommand, latency: u64) {
        self.processes[i].app.pending.push_back(command);
        let h = &mut self.hosts[i];
        // Commands run concurrently (stopping everything takes one stop, not the sum of them),
        // but complete in the order given.
        h.app_free = h.app_free.max(self.now + latency);
        let (at, inc) = (h.app_free, h.inc);
        self.push(at, Ev::AppDone { node: i, inc });
    }

    /// Node `i` sends a request: decide its fate now.
    fn send(&mut self, i: usize, req: ReqId, request: Request) {
        let inc = self.hosts[i].inc;
        let deadline = self.now + self.config.network.request_timeout;
        let (op, key) = Op::of(&request);
        let h = &mut self.hosts[i];
        h.outstanding.insert(req, deadline);
        let count = h.sent_n.entry((op, key.clone())).or_insert(0);
        let n = *count;
        *count += 1;
        let msg: MsgId = (op, key, n);
        if h.msg_n.len() <= inc as usize {
            h.msg_n.resize(inc as usize + 1, Vec::new());
        }
        let numbers = &mut h.msg_n[inc as usize];
        if let Ok(r) = usize::try_from(req) {
            if numbers.len() <= r {
                numbers.resize(r + 1, u32::MAX);
            }
            numbers[r] = n;
        }
        let mut fate = self.draw_fate();
        if let Some(script) = &self.script {
            fate = Fate::Ok;
            if !self.healed {
                for step in FailureStep::ALL {
                    let kind = FaultKind::Rpc(step);
                    if self.plan.has(kind) && script.message(i, &msg, kind, false).is_some() {
                        fate = Fate::Fail(step);
                        break;
                    }
                }
            }
        }
        if let Fate::Fail(step) = fate {
            self.coverage.rpc(step, &request);
            self.record_message(FaultKind::Rpc(step), i, Some(&msg), false, None);
        }
        match fate {
            Fate::Fail(FailureStep::PostRequest) => {
                let outcome = Outcome::PostFailed;
                let reply = Ev::Reply {
                    node: i,
                    inc,
                    req,
                    outcome,
                };
                return self.push(self.now, reply);
            }
            // Like a real client, every request that went out has its timeout; it does
            // nothing if the reply came first.
            _ => self.push(deadline, Ev::Timeout { node: i, inc, req }),
        }
        if fate == Fate::Fail(FailureStep::DeliverRequest) || self.hosts[i].blocked_to() {
            return;
        }
        let at = self.arrival(i, Direction::Request, Carried::Request(&msg));
        let orphan = at > deadline;
        self.push(
            at,
            Ev::Arrive(Arrival {
                node: i,
                inc,
                req,
                request,
                fate,
                dup: false,
                orphan,
            }),
        );
    }

    fn draw_fate(&mut self) -> Fate {
        if self.healed {
            return Fate::Ok;
        }
        let total = self.plan.rpc_total();
        if total <= 0.0 {
            return Fate::Ok;
        }
        let x: f64 = self.rng.random();
        if x >= total {
            return Fate::Ok;
        }
        let mut acc = 0.0;
        for step in FailureStep::ALL {
            acc += self.plan.rate(FaultKind::Rpc(step));
            if x < acc {
                return Fate::Fail(step);
            }
        }
        Fate::Ok
    }

    fn resume(&mut self, i: usize) {
        if !self.hosts[i].paused {
            return;
        }
        self.hosts[i].paused = false;
        for q in std::mem::take(&mut self.hosts[i].queue) {
            match q {
                Queued::Input(input) => self.feed(i, input),
                Queued::Timer(kind, gen) => {
                    if self.hosts[i].timer_gen[timer_index(kind)] == gen {
                        self.feed(i, Input::Timer(kind));
                    }
                }
            }
        }
    }

    fn crash(&mut self, i: usize, down: u64) {
        self.label(spec_trace::action(
            "Crash",
            Some(&SimConfig::node_id(i)),
            Json::Null,
        ));
        self.processes[i].up = false;
        self.processes[i].node = self.fresh_node(i);
        self.processes[i].app.crash();
        let h = &mut self.hosts[i];
        h.inc += 1;
        h.paused = false;
        h.queue.clear();
        h.outstanding.clear();
        h.sent.clear();
        h.settled.clear();
        h.conn += 1;
        // A new process opens new connections: nothing queues behind the old ones.
        h.last_request = self.now;
        h.last_reply = self.now;
        h.last_watch = self.now;
        let inc = h.inc;
        // The watch dies with the connection; requests already sent may still land.
        self.registry.break_watch(&SimConfig::node_id(i));
        self.push(self.now + down, Ev::Restart { node: i, inc });
    }

    // ---------------------------------------------------------------- faults

    fn inject(&mut self, p: Planned) {
        if self.healed {
            return;
        }
        self.coverage.fault(p.kind);
        let undo = matches!(
            p.action,
            Action::Admin {
                undo_after: None,
                ..
            }
        ) && self.undo_pending.remove(&p.ordinal);
        if !undo {
            self.record(Fault::Scheduled(p.clone()));
        }
        match p.action {
            Action::Cut {
                nodes,
                to_registry,
                from_registry,
                length,
            } => {
                for &i in &nodes {
                    let h = &mut self.hosts[i];
                    h.cut_to += u32::from(to_registry);
                    h.cut_from += u32::from(from_registry);
                }
                self.push(
                    self.now + length,
                    Ev::Uncut {
                        nodes,
                        to_registry,
                        from_registry,
                    },
                );
            }
            Action::Flap {
                node,
                length,
                period,
            } => {
                self.hosts[node].flap_until = self.now + length;
                self.push(self.now, Ev::Flip { node, period });
            }
            Action::Crash { node, down } => {
                if self.processes[node].up {
                    self.crash(node, down);
                }
            }
            Action::Pause { node, length } => {
                if self.processes[node].up && !self.hosts[node].paused {
                    if length > self.config.envelope.max_pause {
                        self.breach(format!(
                            "{} paused for {length} ms (limit {} ms)",
                            SimConfig::node_id(node),
                            self.config.envelope.max_pause
                        ));
                    }
                    self.hosts[node].paused = true;
                    let inc = self.hosts[node].inc;
                    self.push(self.now + length, Ev::Resume { node, inc });
                }
            }
            Action::RegistryRestart { down } => {
                if !self.registry_down {
                    self.registry_down = true;
                    for client in self.registry.restart(Time(self.now)) {
                        if let Some(i) = node_index(&client, self.config.nodes) {
                            self.stream_broke(i);
                        }
                    }
                    self.push(self.now + down, Ev::RegistryUp);
                }
            }
            Action::WatchBreak { node } => {
                if self.registry.is_watching(&SimConfig::node_id(node)) {
                    self.break_watch(node);
                }
            }
            Action::Compaction { keep } => {
                let rev = self.registry.revision().saturating_sub(keep);
                self.registry.compact(rev);
            }
            Action::Admin {
                resource,
                undo_after,
            } => {
                if let Some(after) = undo_after {
                    self.undo_pending.insert(p.ordinal);
                    let undo = Planned {
                        at: self.now + after,
                        kind: p.kind,
                        ordinal: p.ordinal,
                        action: Action::Admin {
                            resource,
                            undo_after: None,
                        },
                    };
                    self.push(undo.at, Ev::Fault(undo));
                }
                if !self.registry_down {
                    let r = SimConfig::resource_id(resource);
                    let txn = if self.registry.get(&Key::Resource(r.clone())).is_some() {
                        admin::remove_resource(&r, self.config.mutant)
                    } else {
                        admin::add_resource(&r)
                    };
                    let before = self.registry.revision();
                    let (_, deliveries) = self.registry.txn(&txn);
                    self.label(spec_trace::action("Admin", None, json!({ "r": r.0 })));
                    self.note_registry(before);
                    self.route(deliveries);
                }
            }
            Action::Membership { node } => match self.processes[node].node.phase() {
                Phase::Member => self.feed(node, Input::Leave),
                Phase::Left => self.feed(node, Input::Join),
                _ => {}
            },
        }
    }

    fn registry_up(&mut self) {
        if self.registry_down {
            self.registry_down = false;
            // etcd gives every lease a fresh ttl when it comes back.
            self.registry.restart(Time(self.now));
            let ttl = self.config.timing.ttl;
            self.push(self.now + ttl, Ev::LeaseCheck);
        }
    }

    /// The fault phase is over: every link heals, every process runs, every node is in the
    /// group, and from now on requests neither fail nor linger.
    fn heal(&mut self) {
        self.healed = true;
        self.registry_up();
        for i in 0..self.config.nodes {
            let h = &mut self.hosts[i];
            h.cut_to = 0;
            h.cut_from = 0;
            h.flap_until = 0;
            h.flap_down = false;
            if !self.processes[i].up {
                self.processes[i].up = true;
                self.feed(i, Input::Join);
            }
            self.resume(i);
            if self.processes[i].node.phase() == Phase::Left {
                self.feed(i, Input::Join);
            }
        }
    }

    // ---------------------------------------------------------------- properties

    fn world(&self) -> World<'_> {
        World {
            registry: &self.registry,
            processes: &self.processes,
        }
    }

    fn check_safety(&mut self) {
        if let Err(why) = no_double_access(&self.world()) {
            self.violate(Property::NoDoubleAccess.name(), why);
        }
        if let Err(why) = access_holds_barrier(&self.world()) {
            self.violate(Property::AccessHoldsBarrier.name(), why);
        }
    }

    fn check_convergence(&mut self) {
        let world = self.world();
        if all_resources_accessed(&world) && rebalance_completes(&world) {
            self.converged_at = Some(self.now);
            self.done = true;
        }
    }

    fn liveness_failed(&mut self) {
        let bound = self.config.liveness_bound();
        let stuck = self.describe_state();
        let world = self.world();
        let failed: Vec<Property> = [
            (
                Property::AllResourcesAccessed,
                all_resources_accessed(&world),
            ),
            (Property::RebalanceCompletes, rebalance_completes(&world)),
        ]
        .into_iter()
        .filter(|(_, holds)| !holds)
        .map(|(p, _)| p)
        .collect();
        for p in failed {
            self.violate(
                p.name(),
                format!(
                    "not reached within {bound} ms of healing at {} ms; stuck state:\n{stuck}",
                    self.config.duration
                ),
            );
        }
    }

    /// Record a property's first violation.
    fn violate(&mut self, property: &str, detail: String) {
        if self.violations.iter().any(|v| v.property == property) {
            return;
        }
        if let Some(step) = self.current.as_mut() {
            step.violations.push(format!("{property}: {detail}"));
        }
        if self.config.stop_at.as_deref() == Some(property) {
            self.stopped = true;
        }
        self.violations.push(Violation {
            property: property.to_string(),
            time_ms: self.now,
            step: self.step,
            detail,
            assumption_breached: !self.breaches.is_empty(),
            breaches: self.breaches.clone(),
            faults: self.coverage.total(),
        });
    }

    /// The group, readably: each node, then the registry's keys.
    pub fn describe_state(&self) -> String {
        let mut lines = Vec::new();
        for (i, p) in self.processes.iter().enumerate() {
            let s = self.node_state(i);
            lines.push(format!(
                "  {}: {} {}{} lease {:?} term {:?} view@{} applied {:?} resources {:?} accessing {:?}",
                s.node,
                if p.up { "up" } else { "DOWN" },
                if s.paused { "PAUSED " } else { "" },
                s.phase,
                s.lease,
                s.term,
                s.view_rev,
                s.applied,
                s.resources,
                s.accessing
            ));
        }
        lines.push(format!("  registry @{}:", self.registry.revision()));
        for (k, kv) in self.registry.keys() {
            lines.push(format!("    {k} = {} (lease {:?})", kv.value, kv.lease));
        }
        lines.join("\n")
    }

    // ---------------------------------------------------------------- tracing

    fn node_state(&self, i: usize) -> NodeState {
        let p = &self.processes[i];
        NodeState {
            node: p.node.id().to_string(),
            up: p.up,
            paused: self.hosts[i].paused,
            phase: format!("{:?}", p.node.phase()),
            lease: p.node.lease().map(|l| l.0),
            term: p.node.term(),
            view_rev: p.node.view().rev,
            applied: p.node.applied(),
            resources: p
                .node
                .resources()
                .iter()
                .map(|(r, l)| (r.to_string(), format!("{l:?}")))
                .collect(),
            accessing: p.app.accessing.iter().map(|r| r.to_string()).collect(),
        }
    }

    /// The state in the spec's terms (see [`spec_trace`]).
    fn spec_state(&self) -> Json {
        let nodes: Vec<protocol::NodeId> = (0..self.config.nodes).map(SimConfig::node_id).collect();
        let resources: Vec<protocol::ResourceId> = (0..self.config.universe())
            .map(SimConfig::resource_id)
            .collect();
        let nd = self.processes.iter().enumerate().map(|(i, p)| {
            let req = p
                .node
                .pending_request()
                .and_then(|r| self.hosts[i].sent.get(&r));
            (
                json!(nodes[i].0),
                spec_trace::node(&p.node, p.up, req, &resources),
            )
        });
        json!({
            "reg": spec_trace::registry(&self.registry, &nodes, &resources),
            "nd": spec_trace::function(nd),
            "access": spec_trace::access(nodes.iter().zip(self.processes.iter().map(|p| &p.app.accessing))),
        })
    }

    fn begin_step(&self, ev: &Ev) -> TraceStep {
        let (event, node, detail) = describe_event(ev);
        TraceStep {
            step: self.step,
            time_ms: self.now,
            event,
            node: node.map(|i| SimConfig::node_id(i).to_string()),
            detail,
            outputs: Vec::new(),
            registry: Vec::new(),
            state: None,
            violations: Vec::new(),
            spec: None,
        }
    }

    fn end_step(&self, mut step: TraceStep) -> TraceStep {
        if step.step == 0 || step.spec.is_some() {
            step.spec.get_or_insert_with(Default::default).state = self.spec_state();
        }
        if let Some(name) = &step.node {
            if let Some(i) = node_index(&protocol::NodeId::new(name), self.config.nodes) {
                step.state = Some(self.node_state(i));
            }
        }
        step
    }
}

/// What a message carries, for the name of its latency's random choice.
#[derive(Clone, Copy)]
enum Carried<'a> {
    Request(&'a MsgId),
    Reply(&'a MsgId),
    Event(&'a WatchEvent),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Request,
    Reply,
    Watch,
}

/// The index of a simulated node name (`n3` → 2).
fn node_index(id: &protocol::NodeId, nodes: usize) -> Option<usize> {
    let i =
        id.0.strip_prefix('n')?
            .parse::<usize>()
            .ok()?
            .checked_sub(1)?;
    (i < nodes).then_some(i)
}

fn describe_output(o: &Output) -> String {
    match o {
        Output::Send { req, request } => format!("send #{req} {request}"),
        Output::SetTimer { kind, at } => format!("timer {kind} at {}", at.0),
        Output::CancelTimer(kind) => format!("cancel {kind}"),
        Output::Start(r) => format!("START {r}"),
        Output::Stop(r) => format!("STOP {r}"),
        Output::Log(e) => format!("({e})"),
    }
}

fn describe_event(ev: &Ev) -> (&'static str, Option<usize>, String) {
    match ev {
        Ev::Start => ("start", None, "every node is asked to join".into()),
        Ev::Arrive(Arrival {
            node,
            req,
            request,
            fate,
            dup,
            ..
        }) => {
            let mut d = format!("registry gets #{req} {request}");
            if *dup {
                d.push_str(" (DUPLICATE)");
            }
            if let Fate::Fail(step) = fate {
                d.push_str(&format!(" [{step} fails]"));
            }
            ("arrive", Some(*node), d)
        }
        Ev::Reply {
            node, req, outcome, ..
        } => ("reply", Some(*node), format!("reply #{req}: {outcome}")),
        Ev::Timeout { node, req, .. } => {
            ("timeout", Some(*node), format!("#{req} timed out: UNKNOWN"))
        }
        Ev::Watch { node, event, .. } => ("watch", Some(*node), format!("watch {event}")),
        Ev::WatchBroken { node, .. } => ("watch-broken", Some(*node), "watch broke".into()),
        Ev::Timer { node, kind, .. } => ("timer", Some(*node), format!("{kind} timer")),
        Ev::AppDone { node, .. } => ("app", Some(*node), "application acts".into()),
        Ev::LeaseCheck => ("lease-check", None, "registry expires due leases".into()),
        Ev::Fault(p) => {
            let node = match &p.action {
                Action::Flap { node, .. }
                | Action::Crash { node, .. }
                | Action::Pause { node, .. }
                | Action::WatchBreak { node }
                | Action::Membership { node } => Some(*node),
                _ => None,
            };
            ("fault", node, format!("FAULT {}: {}", p.kind, p.action))
        }
        Ev::Uncut { nodes, .. } => {
            let names: Vec<String> = nodes
                .iter()
                .map(|i| SimConfig::node_id(*i).to_string())
                .collect();
            (
                "heal-link",
                None,
                format!("link of {} heals", names.join("+")),
            )
        }
        Ev::Flip { node, .. } => ("flap", Some(*node), "link flips".into()),
        Ev::Restart { node, .. } => ("restart", Some(*node), "process restarts".into()),
        Ev::Resume { node, .. } => ("resume", Some(*node), "process resumes".into()),
        Ev::RegistryUp => ("registry-up", None, "registry reachable again".into()),
        Ev::Heal => ("heal", None, "fault phase over: everything heals".into()),
        Ev::Deadline => ("deadline", None, "liveness bound reached".into()),
    }
}
