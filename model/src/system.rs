//! The stateright model: N processes (node + application), the registry, the messages in flight
//! and the faults. Every protocol decision is the `protocol` crate's; this file only moves
//! messages, fires timers, runs the application and injects faults.
//!
//! In the timed model (see `clock`) time is a bounded counter that `Tick` advances, and timers,
//! leases, messages and the application keep their deadlines on it. In the untimed model time
//! is abstract: every node sees the same instant, and a timer may fire at any moment after it
//! was armed. Two exceptions keep that abstraction faithful:
//! - the self-fencing deadline fires only as a budgeted `Lapse` (keep-alives stopped getting
//!   through), and the registry expires a lease a node relies on only after such a lapse and
//!   after its application has stopped what it was told to stop (the timing assumption), or,
//!   with the assumption off, at any moment as a budgeted breach;
//! - a keep-alive is sent only once the node's lease is gone from the registry. While the lease
//!   lives, a keep-alive's only effect is to push the deadline out, which an abstract clock does
//!   not see; its failures matter only through the deadline, which `Lapse` covers.

use crate::action::{Action, Pid};
use crate::clock::{self, DRIFT_PERIOD, LATENCY};
use crate::config::{ModelConfig, Start};
use crate::properties::{Checked, Latches};
use crate::state::{Budget, Channels, InFlightReply, State, TrueClock, WatchMsg, NEVER, ORPHAN};
use crate::symmetry;
use protocol::properties::{assignment_writes, judge_write, replaced_assignment, WriteTiming};
use protocol::registry::{Deliveries, Key};
use protocol::{
    admin, FailureStep, Input, Node, NodeConfig, Outcome, Output, Process, Registry, Request, Time,
    TimerKind, World,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The one instant of the abstract clock.
const NOW: Time = Time(0);

/// The model of one configuration.
#[derive(Clone, Debug)]
pub struct RebalanceModel {
    /// What is checked.
    pub config: ModelConfig,
    node_config: NodeConfig,
    /// Per property: whether its first discovery has been reported (see `properties`).
    /// `None` reports every discovery (the Explorer evaluates properties state by state).
    latches: Option<Arc<Latches>>,
}

impl RebalanceModel {
    /// A model of `config` (validate it first).
    pub fn new(config: ModelConfig) -> Self {
        let node_config = config.node_config();
        RebalanceModel {
            config,
            node_config,
            latches: Some(Arc::new(Default::default())),
        }
    }

    /// The same model, judging every state on its own (for the Explorer).
    pub fn without_latches(mut self) -> Self {
        self.latches = None;
        self
    }

    /// Set `property`'s latch; returns whether it was already set (never, without latches).
    pub fn latch(&self, property: Checked) -> bool {
        self.latches.as_ref().is_some_and(|l| l.set(property))
    }

    /// The world the properties look at.
    pub fn world(state: &State) -> World<'_> {
        World {
            registry: &state.registry,
            processes: &state.processes,
        }
    }

    /// The initial state, per [`ModelConfig::start`] (in the timed model: with every clock
    /// exact; [`Self::initial_states`] has every choice of drifts).
    pub fn initial(&self) -> State {
        self.initial_with(&vec![0; self.config.nodes])
    }

    /// Every initial state: one, or in the timed model one per choice of each machine's clock
    /// rate (see [`clock::DRIFTS`]).
    pub fn initial_states(&self) -> Vec<State> {
        if !self.config.timed {
            return vec![self.initial()];
        }
        let mut drifts = vec![vec![]];
        for _ in 0..self.config.nodes {
            drifts = drifts
                .into_iter()
                .flat_map(|d: Vec<i8>| {
                    clock::DRIFTS.map(|x| d.iter().copied().chain([x]).collect::<Vec<_>>())
                })
                .collect();
        }
        let mut states: Vec<State> = drifts.iter().map(|d| self.initial_with(d)).collect();
        states.sort();
        states.dedup();
        states
    }

    fn initial_with(&self, drifts: &[i8]) -> State {
        let joining = self.joining(drifts);
        match self.config.start {
            Start::Joining => joining,
            Start::Settled => self.settle(joining),
        }
    }

    /// Run fault-free steps, first enabled first and timers last, until the group is settled:
    /// nothing in flight, every node applied the latest assignment, every resource accessed.
    pub fn settle(&self, mut s: State) -> State {
        let mut actions = Vec::new();
        for _ in 0..10_000 {
            let world = Self::world(&s);
            // Settled also means no hold or retry timer left to fire.
            let quiet = s.channels.iter().all(|c| {
                c.requests.is_empty()
                    && c.replies.is_empty()
                    && c.watch.is_empty()
                    && !c.timers.contains_key(&TimerKind::RebalanceHold)
                    && !c.timers.contains_key(&TimerKind::Retry)
            }) && s.processes.iter().all(|p| p.app.pending.is_empty());
            if quiet
                && protocol::properties::rebalance_completes(&world)
                && protocol::properties::all_resources_accessed(&world)
            {
                return s;
            }
            actions.clear();
            self.enabled(&s, &mut actions);
            let next = actions
                .iter()
                .find(|a| {
                    !a.is_fault()
                        && !matches!(a, Action::Timer(..) | Action::Expire { .. } | Action::Tick)
                })
                .or_else(|| actions.iter().find(|a| !a.is_fault()));
            match next {
                Some(a) => s = self.step(&s, &a.clone()),
                None => break,
            }
        }
        s
    }

    /// Every node has just been asked to join; the resources exist.
    fn joining(&self, drifts: &[i8]) -> State {
        let c = &self.config;
        let mut registry = Registry::new();
        for i in 0..c.resources {
            registry.txn(&admin::add_resource(&ModelConfig::resource_id(i)));
        }
        let mut state = State {
            registry,
            processes: Vec::new(),
            channels: Vec::new(),
            budget: Budget {
                crashes: c.crashes,
                rpc_faults: c.rpc_faults,
                expiries: c.expiries,
                admin_changes: c.admin_changes,
                watch_breaks: c.watch_breaks,
                membership_changes: c.membership_changes,
                late: c.late,
                duplicates: c.duplicates,
                delays: c.delays,
            },
            lapsed: Default::default(),
            violations: Vec::new(),
            clock: c.timed.then(TrueClock::default),
        };
        for (i, &drift) in drifts.iter().enumerate().take(c.nodes) {
            state.processes.push(Process {
                node: self.fresh_node(i),
                app: Default::default(),
                up: true,
            });
            state.channels.push(Channels {
                drift: if c.timed { drift } else { 0 },
                ..Channels::default()
            });
            self.feed(&mut state, i, Input::Join);
        }
        self.normalize(&mut state);
        if self.config.symmetry {
            symmetry::canonicalize(&mut state);
        }
        state
    }

    fn fresh_node(&self, i: usize) -> Node {
        Node::new(
            ModelConfig::node_id(i),
            self.node_config.clone(),
            self.config.mutant,
        )
    }

    /// Every action enabled in `state`, in a deterministic order.
    pub fn enabled(&self, s: &State, out: &mut Vec<Action>) {
        let b = &s.budget;
        for (i, (p, ch)) in s.processes.iter().zip(&s.channels).enumerate() {
            let pid = i as Pid;
            // Requests already on the wire arrive even if their sender has died since.
            for (k, (req, request, _)) in ch.requests.iter().enumerate() {
                if ch.cut {
                    out.push(Action::Fail(pid, k as u8, FailureStep::PostRequest));
                    continue;
                }
                out.push(Action::Deliver(pid, k as u8));
                if b.rpc_faults > 0 && *req != ORPHAN {
                    for step in FailureStep::ALL {
                        out.push(Action::Fail(pid, k as u8, step));
                    }
                }
                // A watch belongs to its stream: one the node gave up on was cancelled with it,
                // so it neither lingers nor lands twice (the watch-break budget covers it).
                let watch = matches!(request, Request::Watch { .. });
                if b.late > 0 && *req != ORPHAN && !watch {
                    out.push(Action::TimeOut(pid, k as u8));
                }
                if b.duplicates > 0 && !watch {
                    out.push(Action::Duplicate(pid, k as u8));
                }
            }
            if s.clock.is_some() && ch.cut {
                out.push(Action::Heal(pid));
            } else if s.clock.is_some() && b.expiries > 0 {
                out.push(Action::Lapse(pid));
            }
            if !p.up {
                out.push(Action::Restart(pid));
                continue;
            }
            if ch.hung {
                continue;
            }
            if s.clock.is_some() && !self.config.timing_assumption && b.expiries > 0 {
                out.push(Action::Hang(pid));
            }
            for (k, r) in ch.replies.iter().enumerate() {
                out.push(Action::Reply(pid, k as u8));
                let timeout = self.node_config.request_timeout();
                if s.clock.is_some() && b.delays > 0 && r.due < Self::due_in(s, timeout) {
                    out.push(Action::Delay(pid, k as u8));
                }
            }
            if !ch.watch.is_empty() {
                out.push(Action::Watch(pid));
            }
            if b.watch_breaks > 0 && s.registry.is_watching(p.node.id()) {
                out.push(Action::BreakWatch(pid));
            }
            for (kind, at) in &ch.timers {
                match kind {
                    _ if s.clock.is_some() => {
                        // Timed: a timer fires when its clock reaches the armed time.
                        if *at <= self.local_now(s, i) {
                            out.push(Action::Timer(pid, *kind));
                        }
                    }
                    TimerKind::Fence => {
                        if b.expiries > 0 && p.node.lease().is_some() {
                            out.push(Action::Lapse(pid));
                        }
                    }
                    TimerKind::KeepAlive => {
                        let gone = p
                            .node
                            .lease()
                            .is_some_and(|l| s.registry.lease(l).is_none());
                        if gone {
                            out.push(Action::Timer(pid, *kind));
                        }
                    }
                    TimerKind::RebalanceHold | TimerKind::Retry => {
                        out.push(Action::Timer(pid, *kind))
                    }
                }
            }
            if !p.app.pending.is_empty() {
                out.push(Action::App(pid));
            }
            if b.crashes > 0 {
                out.push(Action::Crash(pid));
            }
            if b.membership_changes > 0 {
                // The group keeps a member: the promise that every resource is accessed is
                // about a group that has one (the simulator's healing rejoins those who left).
                let another = s
                    .processes
                    .iter()
                    .enumerate()
                    .any(|(j, q)| j != i && q.up && q.node.phase() == protocol::Phase::Member);
                match p.node.phase() {
                    protocol::Phase::Member if another => out.push(Action::Leave(pid)),
                    protocol::Phase::Left => out.push(Action::Join(pid)),
                    _ => {}
                }
            }
        }
        if s.clock.is_some() {
            // Leases expire as time passes; the timing assumption constrains the ticks.
            if self.may_tick(s) {
                out.push(Action::Tick);
            }
            self.admin_changes(s, out);
            return;
        }
        for (lease, _) in s.registry.leases() {
            let mut relying = s
                .processes
                .iter()
                .filter(|p| p.up && p.node.relies_on(lease))
                .peekable();
            // A lease whose grant is still on its way back is not abandoned yet.
            let granting = s.channels.iter().any(|ch| {
                ch.replies.iter().any(|r| {
                    matches!(r.outcome, Outcome::Success(protocol::Response::Granted { lease: l, .. }) if l == lease)
                })
            });
            if granting {
                continue;
            }
            if relying.peek().is_none() {
                out.push(Action::Expire {
                    lease,
                    breach: false,
                });
            } else if self.config.timing_assumption {
                if s.lapsed.contains(&lease) && relying.all(|p| !p.app.stop_pending()) {
                    out.push(Action::Expire {
                        lease,
                        breach: false,
                    });
                }
            } else if b.expiries > 0 {
                out.push(Action::Expire {
                    lease,
                    breach: true,
                });
            }
        }
        self.admin_changes(s, out);
    }

    fn admin_changes(&self, s: &State, out: &mut Vec<Action>) {
        if s.budget.admin_changes > 0 {
            for i in 0..self.config.universe() {
                let r = ModelConfig::resource_id(i);
                if s.registry.get(&Key::Resource(r)).is_some() {
                    out.push(Action::RemoveResource(i as u8));
                } else {
                    out.push(Action::AddResource(i as u8));
                }
            }
        }
    }

    /// Timed model: whether time may move on one tick, which it may only when nothing is due
    /// now: no timer whose clock has reached it, no message at the end of its time on the wire,
    /// no application command at the end of its budget.
    fn may_tick(&self, s: &State) -> bool {
        let Some(clock) = &s.clock else { return false };
        let now = clock.now;
        s.processes
            .iter()
            .zip(&s.channels)
            .enumerate()
            .all(|(i, (p, ch))| {
                let on_wire = ch.requests.iter().all(|r| r.2 > now);
                if !p.up || ch.hung {
                    return on_wire;
                }
                let local = self.local_now(s, i);
                on_wire
                    && ch.timers.values().all(|at| at.0 > local.0)
                    && ch.replies.iter().all(|r| r.due > now)
                    && (ch.watch.is_empty() || ch.watch_due > now)
                    && ch.app_due.iter().all(|d| *d > now)
            })
    }

    /// Process `i`'s clock reading now.
    fn local_now(&self, s: &State, i: usize) -> Time {
        match &s.clock {
            Some(c) => Time(clock::local(c.now, s.channels[i].drift)),
            None => NOW,
        }
    }

    /// The true time `ticks` from now (0 in the untimed model, where nothing is due).
    fn due_in(s: &State, ticks: u64) -> u64 {
        s.clock.as_ref().map_or(0, |c| c.now + ticks)
    }

    fn push_watch(s: &mut State, i: usize, msg: WatchMsg) {
        if s.channels[i].watch.is_empty() {
            s.channels[i].watch_due = Self::due_in(s, LATENCY);
        }
        s.channels[i].watch.push_back(msg);
    }

    /// The state after `action`, normalised (and, with symmetry, canonical).
    pub fn step(&self, state: &State, action: &Action) -> State {
        let mut s = self.step_concrete(state, action);
        if self.config.symmetry {
            symmetry::canonicalize(&mut s);
        }
        s
    }

    /// The state after `action`, normalised but with node names left as they are.
    pub fn step_concrete(&self, state: &State, action: &Action) -> State {
        let mut s = state.clone();
        match *action {
            Action::Deliver(pid, k) => {
                let (req, request, _) = s.channels[pid as usize].requests.remove(k as usize);
                let response = self.to_registry(&mut s, pid as usize, &request);
                self.reply(&mut s, pid as usize, req, &request, response);
            }
            Action::Duplicate(pid, k) => {
                s.budget.duplicates -= 1;
                let i = pid as usize;
                let (req, request, _) = s.channels[i].requests[k as usize].clone();
                // The copy lands later, or never; nobody waits for its answer.
                s.channels[i]
                    .requests
                    .push((ORPHAN, request.clone(), NEVER));
                s.channels[i].requests.remove(k as usize);
                let response = self.to_registry(&mut s, i, &request);
                self.reply(&mut s, i, req, &request, response);
            }
            Action::Fail(pid, k, step) => {
                if !s.channels[pid as usize].cut {
                    s.budget.rpc_faults -= 1;
                }
                let (req, request, _) = s.channels[pid as usize].requests.remove(k as usize);
                let deliveries = if step.applied() {
                    self.to_registry(&mut s, pid as usize, &request).1
                } else {
                    Vec::new()
                };
                let outcome = (step.outcome(), deliveries);
                self.reply_outcome(&mut s, pid as usize, req, &request, outcome, Some(step));
            }
            Action::TimeOut(pid, k) => {
                s.budget.late -= 1;
                let i = pid as usize;
                let req = s.channels[i].requests[k as usize].0;
                // The request stays on the wire, for as long as the network keeps it;
                // normalising makes it an orphan.
                s.channels[i].requests[k as usize].2 = NEVER;
                let input = Input::Reply {
                    req,
                    outcome: Outcome::Unknown,
                };
                self.feed(&mut s, i, input);
            }
            Action::Reply(pid, k) => {
                let r = s.channels[pid as usize].replies.remove(k as usize);
                let input = Input::Reply {
                    req: r.req,
                    outcome: r.outcome,
                };
                self.feed(&mut s, pid as usize, input);
            }
            Action::Delay(pid, k) => {
                s.budget.delays -= 1;
                let timeout = self.node_config.request_timeout();
                s.channels[pid as usize].replies[k as usize].due = Self::due_in(&s, timeout);
            }
            Action::Watch(pid) => {
                // The next message's time on the wire counts from here: a bound no tighter
                // than the network's, so no behaviour of a slow stream is lost.
                s.channels[pid as usize].watch_due = Self::due_in(&s, LATENCY);
                let input = match s.channels[pid as usize].watch.pop_front() {
                    Some(WatchMsg::Event(e)) => Input::Watch(e),
                    Some(WatchMsg::Reply(r)) => Input::Reply {
                        req: r.req,
                        outcome: r.outcome,
                    },
                    _ => Input::WatchBroken,
                };
                self.feed(&mut s, pid as usize, input);
            }
            Action::BreakWatch(pid) => {
                s.budget.watch_breaks -= 1;
                let id = s.processes[pid as usize].node.id().clone();
                s.registry.break_watch(&id);
                s.channels[pid as usize].watch.clear();
                Self::push_watch(&mut s, pid as usize, WatchMsg::Broken);
            }
            Action::Timer(pid, kind) => {
                s.channels[pid as usize].timers.remove(&kind);
                self.feed(&mut s, pid as usize, Input::Timer(kind));
            }
            Action::Lapse(pid) if s.clock.is_some() => {
                s.budget.expiries -= 1;
                s.channels[pid as usize].cut = true;
            }
            Action::Heal(pid) => s.channels[pid as usize].cut = false,
            Action::Lapse(pid) => {
                s.budget.expiries -= 1;
                if let Some(lease) = s.processes[pid as usize].node.lease() {
                    s.lapsed.insert(lease);
                }
                s.channels[pid as usize].timers.remove(&TimerKind::Fence);
                self.feed(&mut s, pid as usize, Input::Timer(TimerKind::Fence));
            }
            Action::App(pid) => {
                s.channels[pid as usize].app_due.pop_front();
                if let Some(ack) = s.processes[pid as usize].app.perform() {
                    self.feed(&mut s, pid as usize, ack);
                }
            }
            Action::Crash(pid) => {
                s.budget.crashes -= 1;
                let i = pid as usize;
                let p = &mut s.processes[i];
                p.up = false;
                p.node = self.fresh_node(i);
                p.app.crash();
                let ch = &mut s.channels[i];
                ch.replies.clear();
                ch.watch.clear();
                ch.timers.clear();
                ch.app_due.clear();
                ch.hung = false;
                // A watch dies with its connection; other requests already sent may still land.
                ch.requests
                    .retain(|(_, r, _)| !matches!(r, Request::Watch { .. }));
                s.registry.break_watch(&ModelConfig::node_id(i));
            }
            Action::Restart(pid) => {
                s.processes[pid as usize].up = true;
                self.feed(&mut s, pid as usize, Input::Join);
            }
            Action::Leave(pid) => {
                s.budget.membership_changes -= 1;
                self.feed(&mut s, pid as usize, Input::Leave);
            }
            Action::Join(pid) => {
                s.budget.membership_changes -= 1;
                self.feed(&mut s, pid as usize, Input::Join);
            }
            Action::Expire { lease, breach } => {
                if breach {
                    s.budget.expiries -= 1;
                }
                let deliveries = s.registry.expire(lease);
                self.route(&mut s, deliveries);
                s.lapsed.remove(&lease);
            }
            Action::Tick => {
                let clock = s.clock.as_mut().expect("ticks only in the timed model");
                clock.now += 1;
                let now = Time(clock.now);
                let deliveries = s.registry.expire_due(now);
                self.route(&mut s, deliveries);
            }
            Action::Hang(pid) => {
                s.budget.expiries -= 1;
                let ch = &mut s.channels[pid as usize];
                ch.hung = true;
                // Its timers never fire again.
                ch.timers.clear();
            }
            Action::AddResource(i) => {
                s.budget.admin_changes -= 1;
                let txn = admin::add_resource(&ModelConfig::resource_id(i as usize));
                let (_, deliveries) = s.registry.txn(&txn);
                self.route(&mut s, deliveries);
            }
            Action::RemoveResource(i) => {
                s.budget.admin_changes -= 1;
                let r = ModelConfig::resource_id(i as usize);
                let txn = admin::remove_resource(&r, self.config.mutant);
                let (_, deliveries) = s.registry.txn(&txn);
                self.route(&mut s, deliveries);
            }
        }
        self.normalize(&mut s);
        s
    }

    /// The registry processes a request from process `i`; writes are judged as they happen.
    /// Returns the response and the watch events it caused, which [`Self::reply`] routes.
    fn to_registry(
        &self,
        s: &mut State,
        i: usize,
        request: &Request,
    ) -> (protocol::Response, Deliveries) {
        let client = ModelConfig::node_id(i);
        let before = s.registry.revision();
        let previous = replaced_assignment(&s.registry, request);
        let now = Time(Self::due_in(s, 0));
        let (response, deliveries) = s.registry.handle(now, &client, request);
        let events: Vec<_> = s.registry.history_since(before).cloned().collect();
        for w in assignment_writes(&s.registry, &client, previous, &events) {
            // Only the timed model has time to judge min_interval_respected by.
            let timing = s.clock.as_mut().map(|c| {
                let t = WriteTiming {
                    previous: c.last_write.map(Time),
                    now,
                    interval: self
                        .node_config
                        .drift_floor(self.node_config.min_rebalance_interval),
                };
                c.last_write = Some(now.0);
                t
            });
            for (property, why) in judge_write(&w, timing) {
                if !s.violations.iter().any(|(p, _)| *p == property) {
                    s.violations.push((property, why));
                }
            }
        }
        (response, deliveries)
    }

    /// Answer a request the registry applied with success, and route its watch events.
    fn reply(
        &self,
        s: &mut State,
        i: usize,
        req: protocol::ReqId,
        request: &Request,
        (response, deliveries): (protocol::Response, Deliveries),
    ) {
        let outcome = (Outcome::Success(response), deliveries);
        self.reply_outcome(s, i, req, request, outcome, None);
    }

    /// Send `outcome` back to process `i` and route the watch events. A watch is answered on
    /// its stream, ahead of the events it replays, as etcd does; other replies travel apart.
    fn reply_outcome(
        &self,
        s: &mut State,
        i: usize,
        req: protocol::ReqId,
        request: &Request,
        (outcome, deliveries): (Outcome, Deliveries),
        fault: Option<FailureStep>,
    ) {
        if req != ORPHAN && s.processes[i].up {
            let reply = InFlightReply {
                req,
                outcome,
                fault,
                due: Self::due_in(s, LATENCY),
            };
            match request {
                Request::Watch { .. } => Self::push_watch(s, i, WatchMsg::Reply(reply)),
                _ => s.channels[i].replies.push(reply),
            }
        }
        self.route(s, deliveries);
    }

    fn route(&self, s: &mut State, deliveries: Deliveries) {
        for (client, event) in deliveries {
            if let Some(i) = client.number() {
                if i < s.processes.len() && s.processes[i].up {
                    Self::push_watch(s, i, WatchMsg::Event(event));
                }
            }
        }
    }

    /// Hand an input to process `i`'s node and carry out what it asks.
    fn feed(&self, s: &mut State, i: usize, input: Input) {
        let timed = s.clock.is_some();
        let local = self.local_now(s, i);
        let on_wire = Self::due_in(s, LATENCY);
        // A command is carried out before the stop budget has passed (DESIGN.md section 6).
        let app_due = Self::due_in(s, self.node_config.stop_budget.saturating_sub(1));
        let outputs = s.processes[i].node.handle(local, input);
        let ch = &mut s.channels[i];
        for output in outputs {
            let command = match output {
                Output::Send { req, request } => {
                    ch.requests.push((req, request, on_wire));
                    continue;
                }
                Output::SetTimer { kind, at } => {
                    ch.timers.insert(kind, if timed { at } else { NOW });
                    continue;
                }
                Output::CancelTimer(kind) => {
                    ch.timers.remove(&kind);
                    continue;
                }
                Output::Log(_) => continue,
                Output::Start(r) => protocol::AppCommand::Start(r),
                Output::Stop(r) => protocol::AppCommand::Stop(r),
            };
            // Each command with the time by which the application carries it out.
            ch.app_due.push_back(app_due);
            s.processes[i].app.pending.push_back(command);
        }
    }

    /// Make equal situations equal states: forget replies nobody waits for, number live
    /// requests from zero, drop history no watch can still ask for, and (with symmetry) rename
    /// nodes into a canonical order.
    fn normalize(&self, s: &mut State) {
        for (p, ch) in s.processes.iter_mut().zip(s.channels.iter_mut()) {
            let mut live: Vec<u64> = p.node.live_requests().collect();
            live.sort_unstable();
            let rename: BTreeMap<u64, u64> = live
                .iter()
                .enumerate()
                .map(|(k, r)| (*r, k as u64))
                .collect();
            for (req, _, _) in ch.requests.iter_mut() {
                *req = rename.get(req).copied().unwrap_or(ORPHAN);
            }
            let renumber = |r: &mut InFlightReply| match rename.get(&r.req) {
                Some(k) => {
                    r.req = *k;
                    true
                }
                None => false,
            };
            ch.replies.retain_mut(renumber);
            ch.watch.retain_mut(|m| match m {
                WatchMsg::Reply(r) => renumber(r),
                _ => true,
            });
            p.node.renumber_requests(
                |r| rename.get(&r).copied().unwrap_or(ORPHAN),
                live.len() as u64,
            );
            ch.requests.sort();
            ch.replies.sort();
        }
        let mut floor = s.registry.revision();
        for (p, ch) in s.processes.iter().zip(&s.channels) {
            for (_, r, _) in &ch.requests {
                if let Request::Watch { from_rev } = r {
                    floor = floor.min(from_rev.saturating_sub(1));
                }
            }
            let view = p.node.view().rev;
            if p.up && view > 0 && p.node.watch_state() != protocol::node::WatchState::Live {
                floor = floor.min(view);
            }
        }
        s.registry.compact(floor);
        if s.clock.is_some() {
            self.shift_time(s);
        }
    }

    /// Timed model: forget a write the interval has passed since, and move every clock back by
    /// as many whole drift periods as the earliest time the state remembers allows, so that
    /// states that differ only by when they happen are one state.
    fn shift_time(&self, s: &mut State) {
        let interval = self
            .node_config
            .drift_floor(self.node_config.min_rebalance_interval);
        let clock = s.clock.as_mut().expect("timed");
        if clock.last_write.is_some_and(|w| w + interval <= clock.now) {
            clock.last_write = None;
        }
        let mut periods = clock.now.min(clock.last_write.unwrap_or(u64::MAX)) / DRIFT_PERIOD;
        // A hung process's clock readings are never used again: they do not hold time back.
        for (p, ch) in s
            .processes
            .iter()
            .zip(&s.channels)
            .filter(|(_, ch)| !ch.hung)
        {
            let span = clock::local_span(1, ch.drift);
            for t in p.node.clock_readings().chain(ch.timers.values().copied()) {
                periods = periods.min(t.0 / span);
            }
        }
        for ch in s.channels.iter_mut() {
            if ch.watch.is_empty() {
                ch.watch_due = 0;
            }
        }
        if periods == 0 {
            return;
        }
        let by = periods * DRIFT_PERIOD;
        let clock = s.clock.as_mut().expect("timed");
        clock.now -= by;
        if let Some(w) = clock.last_write.as_mut() {
            *w -= by;
        }
        s.registry.shift_clock(by);
        let back = |t: &mut u64| {
            if *t != NEVER {
                *t = t.saturating_sub(by);
            }
        };
        for (p, ch) in s.processes.iter_mut().zip(s.channels.iter_mut()) {
            let local = clock::local_span(periods, ch.drift);
            p.node.shift_clock(local);
            for at in ch.timers.values_mut() {
                at.0 = at.0.saturating_sub(local);
            }
            ch.requests.iter_mut().for_each(|r| back(&mut r.2));
            ch.replies.iter_mut().for_each(|r| back(&mut r.due));
            ch.app_due.iter_mut().for_each(&back);
            if !ch.watch.is_empty() {
                back(&mut ch.watch_due);
            }
        }
    }
}
