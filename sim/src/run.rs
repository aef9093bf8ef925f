//! One seeded run: a discrete-event simulation of the nodes, their applications, the network and
//! the registry, driving the `protocol` crate's code and checking every property as it goes.
//!
//! Time is true time in ms. Each node reads its own clock (an offset and a drift); the registry's
//! clock is true time. Events are processed in (time, insertion) order, so a run is a function of
//! its configuration and seed alone.

use crate::config::SimConfig;
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
use protocol::registry::{Deliveries, Key, WatchEvent};
use protocol::{
    admin, AppCommand, FailureStep, Input, Node, Outcome, Output, Phase, Process, Property,
    Registry, ReqId, Request, Response, Time, TimerKind, World,
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
pub fn run(config: &SimConfig, seed: u64, options: RunOptions) -> RunResult {
    let mut sim = Sim::new(config, seed, options);
    sim.run();
    sim.finish()
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

struct Sim<'c> {
    config: &'c SimConfig,
    seed: u64,
    plan: FaultPlan,
    rng: ChaCha8Rng,
    queue: BinaryHeap<Entry>,
    seq: u64,
    now: u64,
    step: u64,
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
}

impl<'c> Sim<'c> {
    fn new(config: &'c SimConfig, seed: u64, options: RunOptions) -> Self {
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
            config,
            seed,
            plan,
            rng,
            queue: BinaryHeap::new(),
            seq: 0,
            now: 0,
            step: 0,
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
                    sim.breach(format!(
                        "{}'s clock drifts {:+.1}% (limit ±{:.1}%)",
                        SimConfig::node_id(i),
                        drift_ppm as f64 / 10_000.0,
                        rho as f64 / 10_000.0
                    ));
                }
                if drift_ppm != 0 {
                    sim.coverage.fault(FaultKind::ClockDrift);
                }
            }
            let clock = Clock {
                offset: sim.rng.random_range(0..1_000_000_000),
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
            });
        }
        sim.push(0, Ev::Start);
        for p in schedule::draw(config, &sim.plan, seed) {
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
    fn no_effect(&mut self) {
        if let Some(step) = self.current.as_mut() {
            step.detail.push_str(" (no effect)");
        }
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
            self.handle(entry.ev);
            self.check_safety();
            if self.healed && self.converged_at.is_none() {
                self.check_convergence();
            }
            if let Some(step) = self.current.take() {
                self.trace.push(self.end_step(step));
            }
            self.step += 1;
            if self.step >= MAX_EVENTS {
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
                    self.no_effect();
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
                    self.no_effect();
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
                    return self.no_effect();
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
                if !self.registry_down {
                    let before = self.registry.revision();
                    let live: Vec<u64> = self.registry.leases().map(|(l, _)| l.0).collect();
                    let deliveries = self.registry.expire_due(Time(self.now));
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
        let response = self.apply(node, request);
        let mut copied = false;
        if !dup
            && !self.healed
            && !matches!(request, Request::Watch { .. })
            && self.rng.random_bool(self.plan.rate(FaultKind::Duplicate))
        {
            // The network hands the registry a second copy later; its reply is lost.
            self.coverage.fault(FaultKind::Duplicate);
            copied = true;
            let later = self
                .rng
                .random_range(1..=self.config.network.request_timeout);
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
        let at = self.arrival(node, dir);
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
    fn apply(&mut self, i: usize, request: &Request) -> Response {
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
        self.route(deliveries);
        response
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
            let at = self.arrival(i, Direction::Watch);
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
        let h = &mut self.hosts[i];
        h.conn += 1;
        h.last_watch = h.last_watch.max(self.now + detect);
        let (at, inc) = (h.last_watch, h.inc);
        self.push(at, Ev::WatchBroken { node: i, inc });
    }

    /// When a message sent now on one of node `i`'s links arrives.
    fn arrival(&mut self, i: usize, dir: Direction) -> u64 {
        let n = &self.config.network;
        let mut at = self.now + self.rng.random_range(n.min_latency..=n.max_latency);
        if dir != Direction::Watch
            && !self.healed
            && self.rng.random_bool(self.plan.rate(FaultKind::Delay))
        {
            self.coverage.fault(FaultKind::Delay);
            at += self.rng.random_range(50..=n.max_delay);
        }
        let reorder = self.plan.has(FaultKind::Reorder) && dir != Direction::Watch;
        let h = &mut self.hosts[i];
        let last = match dir {
            Direction::Request => &mut h.last_request,
            Direction::Reply => &mut h.last_reply,
            Direction::Watch => &mut h.last_watch,
        };
        if reorder {
            if at < *last {
                self.coverage.fault(FaultKind::Reorder);
            }
        } else {
            at = at.max(*last);
        }
        *last = (*last).max(at);
        at
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
                if before.view().rev == 0 || event.rev <= before.view().rev {
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
                self.app_command(i, AppCommand::Start(r), latency);
            }
            Output::Stop(r) => {
                let max = self.config.envelope.max_stop(&self.config.timing);
                let mut latency = self.rng.random_range(1..=max);
                if self.config.breach_assumptions
                    && self.plan.has(FaultKind::Pause)
                    && self.rng.random_bool(0.05)
                {
                    latency = self
                        .rng
                        .random_range(max + 1..=4 * self.config.timing.stop_budget);
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
        self.hosts[i].outstanding.insert(req, deadline);
        let fate = self.draw_fate();
        if let Fate::Fail(step) = fate {
            self.coverage.rpc(step, &request);
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
        let at = self.arrival(i, Direction::Request);
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
            Action::Admin { resource } => {
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
