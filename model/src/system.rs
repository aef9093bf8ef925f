//! The stateright model: N processes (node + application), the registry, the messages in flight
//! and the faults. Every protocol decision is the `protocol` crate's; this file only moves
//! messages, fires timers, runs the application and injects faults.
//!
//! Time is abstract: every node sees the same instant, and a timer may fire at any moment after
//! it was armed. Two exceptions keep the abstraction faithful:
//! - the self-fencing deadline fires only as a budgeted `Lapse` (keep-alives stopped getting
//!   through), and the registry expires a lease a node relies on only after such a lapse and
//!   after its application has stopped what it was told to stop (the timing assumption), or,
//!   with the assumption off, at any moment as a budgeted breach;
//! - a keep-alive is sent only once the node's lease is gone from the registry. While the lease
//!   lives, a keep-alive's only effect is to push the deadline out, which an abstract clock does
//!   not see; its failures matter only through the deadline, which `Lapse` covers.

use crate::action::{Action, Pid};
use crate::config::{ModelConfig, Start};
use crate::properties::{Checked, Latches};
use crate::state::{Budget, Channels, InFlightReply, State, WatchMsg, ORPHAN};
use crate::symmetry;
use protocol::properties::{assignment_writes, judge_write, replaced_assignment};
use protocol::registry::{Deliveries, Key};
use protocol::{
    admin, FailureStep, Input, Node, NodeConfig, Outcome, Output, Process, Registry, Request,
    TimerKind, World,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The one instant of the abstract clock.
const NOW: protocol::Time = protocol::Time(0);

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

    /// The initial state, per [`ModelConfig::start`].
    pub fn initial(&self) -> State {
        let joining = self.joining();
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
                    && !c.timers.contains(&TimerKind::RebalanceHold)
                    && !c.timers.contains(&TimerKind::Retry)
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
                .find(|a| !a.is_fault() && !matches!(a, Action::Timer(..) | Action::Expire { .. }))
                .or_else(|| actions.iter().find(|a| !a.is_fault()));
            match next {
                Some(a) => s = self.step(&s, &a.clone()),
                None => break,
            }
        }
        s
    }

    /// Every node has just been asked to join; the resources exist.
    fn joining(&self) -> State {
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
            },
            lapsed: Default::default(),
            violations: Vec::new(),
        };
        for i in 0..c.nodes {
            state.processes.push(Process {
                node: self.fresh_node(i),
                app: Default::default(),
                up: true,
            });
            state.channels.push(Channels::default());
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
            for (k, (req, request)) in ch.requests.iter().enumerate() {
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
            if !p.up {
                out.push(Action::Restart(pid));
                continue;
            }
            for k in 0..ch.replies.len() {
                out.push(Action::Reply(pid, k as u8));
            }
            if !ch.watch.is_empty() {
                out.push(Action::Watch(pid));
            }
            if b.watch_breaks > 0 && s.registry.is_watching(p.node.id()) {
                out.push(Action::BreakWatch(pid));
            }
            for kind in &ch.timers {
                match kind {
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
        if b.admin_changes > 0 {
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
                let (req, request) = s.channels[pid as usize].requests.remove(k as usize);
                let response = self.to_registry(&mut s, pid as usize, &request);
                self.reply(&mut s, pid as usize, req, &request, response);
            }
            Action::Duplicate(pid, k) => {
                s.budget.duplicates -= 1;
                let i = pid as usize;
                let (req, request) = s.channels[i].requests[k as usize].clone();
                // The copy lands later, or never; nobody waits for its answer.
                s.channels[i].requests.push((ORPHAN, request.clone()));
                s.channels[i].requests.remove(k as usize);
                let response = self.to_registry(&mut s, i, &request);
                self.reply(&mut s, i, req, &request, response);
            }
            Action::Fail(pid, k, step) => {
                s.budget.rpc_faults -= 1;
                let (req, request) = s.channels[pid as usize].requests.remove(k as usize);
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
                // The request stays on the wire; normalising makes it an orphan.
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
            Action::Watch(pid) => {
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
                let ch = &mut s.channels[pid as usize];
                ch.watch.clear();
                ch.watch.push_back(WatchMsg::Broken);
            }
            Action::Timer(pid, kind) => {
                s.channels[pid as usize].timers.remove(&kind);
                self.feed(&mut s, pid as usize, Input::Timer(kind));
            }
            Action::Lapse(pid) => {
                s.budget.expiries -= 1;
                if let Some(lease) = s.processes[pid as usize].node.lease() {
                    s.lapsed.insert(lease);
                }
                s.channels[pid as usize].timers.remove(&TimerKind::Fence);
                self.feed(&mut s, pid as usize, Input::Timer(TimerKind::Fence));
            }
            Action::App(pid) => {
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
                // A watch dies with its connection; other requests already sent may still land.
                ch.requests
                    .retain(|(_, r)| !matches!(r, Request::Watch { .. }));
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
        let (response, deliveries) = s.registry.handle(NOW, &client, request);
        let events: Vec<_> = s.registry.history_since(before).cloned().collect();
        for w in assignment_writes(&s.registry, &client, previous, &events) {
            // The model has no time: min_interval_respected is the simulator's.
            for (property, why) in judge_write(&w, None) {
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
            };
            match request {
                Request::Watch { .. } => s.channels[i].watch.push_back(WatchMsg::Reply(reply)),
                _ => s.channels[i].replies.push(reply),
            }
        }
        self.route(s, deliveries);
    }

    fn route(&self, s: &mut State, deliveries: Deliveries) {
        for (client, event) in deliveries {
            if let Some(i) = client.number() {
                if i < s.processes.len() && s.processes[i].up {
                    s.channels[i].watch.push_back(WatchMsg::Event(event));
                }
            }
        }
    }

    /// Hand an input to process `i`'s node and carry out what it asks.
    fn feed(&self, s: &mut State, i: usize, input: Input) {
        let outputs = s.processes[i].node.handle(NOW, input);
        let ch = &mut s.channels[i];
        for output in outputs {
            match output {
                Output::Send { req, request } => ch.requests.push((req, request)),
                Output::SetTimer { kind, .. } => {
                    ch.timers.insert(kind);
                }
                Output::CancelTimer(kind) => {
                    ch.timers.remove(&kind);
                }
                Output::Start(r) => s.processes[i]
                    .app
                    .pending
                    .push_back(protocol::AppCommand::Start(r)),
                Output::Stop(r) => s.processes[i]
                    .app
                    .pending
                    .push_back(protocol::AppCommand::Stop(r)),
                Output::Log(_) => {}
            }
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
            for (req, _) in ch.requests.iter_mut() {
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
            for (_, r) in &ch.requests {
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
    }
}
