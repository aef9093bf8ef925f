//! A tiny deterministic driver for `protocol::Node`s against a real `protocol::Registry`.
//!
//! Each node has an inbox of inputs, an outbox of requests it sent that the registry has not
//! seen yet, its armed timers, and an application (`protocol::App`). [`Cluster::settle`] runs
//! rounds until nothing is left to do: every node drains its inbox, applications carry out
//! their commands (unless a test drives them by hand), outstanding requests are delivered to
//! the registry (a reply goes to the requester's inbox *before* the watch events the request
//! caused), and when all is quiet the earliest "automatic" timer fires (by default the
//! rebalance hold and the retry back-off; the keep-alive and fence timers fire only when a
//! test says so).
//!
//! A test can choose the fate of a specific request with a [`Rule`]: deliver it but answer
//! UNKNOWN, lose it, fail it before sending, or hold it back until the test delivers it.
//! After every step the harness evaluates the crate's own safety properties over a `World`
//! and records any violation.

#![allow(dead_code)]

use protocol::properties::{self, AssignmentWrite};
use protocol::registry::{Deliveries, Key, Op, Txn, Value};
use protocol::{
    admin, App, AppCommand, Assignment, Input, LeaseId, Mutant, Node, NodeConfig, NodeId, Outcome,
    Output, Process, Registry, ReqId, Request, ResourceId, Response, Session, Time, TimerKind,
    World,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// The registry applies it and the node gets the response.
    Deliver,
    /// The registry applies it, but the node sees UNKNOWN.
    Unknown,
    /// The request is lost before the registry sees it; the node sees UNKNOWN.
    Lost,
    /// The node could not send it: POST_FAILED, not applied.
    PostFailed,
    /// The registry refused it: RETRYABLE, not applied.
    Retryable,
    /// The registry rejected it: FATAL, not applied.
    Fatal,
    /// Kept in the outbox (in flight) until the test delivers it.
    Hold,
}

type Pred = Box<dyn Fn(&Request) -> bool>;

/// The fate of the next `times` requests of `node` that match `pred`.
pub struct Rule {
    node: NodeId,
    pred: Pred,
    fate: Fate,
    times: usize,
}

/// A request sent and not yet delivered.
#[derive(Clone, Debug)]
pub struct Sent {
    pub req: ReqId,
    pub request: Request,
    pub held: bool,
}

/// One entry of a node's trace.
#[derive(Clone, Debug, PartialEq)]
pub enum Ev {
    In(Input),
    Out(Output),
}

/// A `Start(r)` as it was emitted, with the registry's barrier at that moment.
#[derive(Clone, Debug)]
pub struct StartRecord {
    pub node: NodeId,
    pub resource: ResourceId,
    /// The node's session when it emitted the start.
    pub session: Option<Session>,
    /// Who held `Barrier(resource)` in the registry at that moment.
    pub barrier: Option<Session>,
}

/// Everything around one node except the node and its application.
#[derive(Default)]
pub struct Io {
    pub inbox: VecDeque<Input>,
    pub outbox: Vec<Sent>,
    pub timers: BTreeMap<TimerKind, Time>,
    pub trace: Vec<Ev>,
    /// The application carries out commands by itself during `settle`.
    pub auto_app: bool,
    /// Frozen: `settle` neither feeds it, nor runs its application, nor delivers its requests.
    pub paused: bool,
}

pub struct Cluster {
    pub registry: Registry,
    pub now: Time,
    pub procs: Vec<Process>,
    pub io: Vec<Io>,
    rules: Vec<Rule>,
    /// Timer kinds `settle` fires by itself when nothing else is left to do.
    pub auto_timers: BTreeSet<TimerKind>,
    /// Safety violations seen after any step (deduplicated).
    pub violations: Vec<String>,
    /// Every successful assignment write, with the leader key at that moment.
    pub writes: Vec<AssignmentWrite>,
    pub starts: Vec<StartRecord>,
    /// Route a request's watch events to the inboxes *before* its reply (both orders happen
    /// in reality; the default is the reply first). A watch's own reply always comes first.
    pub events_first: bool,
}

impl Default for Cluster {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// Request shapes

fn txn_of(req: &Request) -> Option<&Txn> {
    match req {
        Request::Txn(t) => Some(t),
        _ => None,
    }
}

/// `Txn(if Barrier(r) absent then Put Barrier(r))`.
pub fn is_acquire_of(req: &Request, r: &str) -> bool {
    txn_of(req).is_some_and(|t| {
        t.then
            .iter()
            .any(|op| matches!(op, Op::Put { key: Key::Barrier(x), .. } if x.0 == r))
    })
}

pub fn is_acquire(req: &Request) -> bool {
    txn_of(req).is_some_and(|t| {
        t.then.iter().any(|op| {
            matches!(
                op,
                Op::Put {
                    key: Key::Barrier(_),
                    ..
                }
            )
        })
    })
}

/// `Txn(if Barrier(r) is mine then Delete Barrier(r))`.
pub fn is_release_of(req: &Request, r: &str) -> bool {
    txn_of(req).is_some_and(|t| {
        t.then
            .iter()
            .any(|op| matches!(op, Op::Delete { key: Key::Barrier(x) } if x.0 == r))
    })
}

pub fn is_assign(req: &Request) -> bool {
    txn_of(req).is_some_and(|t| {
        t.then.iter().any(|op| {
            matches!(
                op,
                Op::Put {
                    key: Key::Assignment,
                    ..
                }
            )
        })
    })
}

pub fn assignment_in(req: &Request) -> Option<&Assignment> {
    txn_of(req)?.then.iter().find_map(|op| match op {
        Op::Put {
            key: Key::Assignment,
            value: Value::Assignment(a),
            ..
        } => Some(a),
        _ => None,
    })
}

pub fn is_elect(req: &Request) -> bool {
    txn_of(req).is_some_and(|t| {
        t.then.iter().any(|op| {
            matches!(
                op,
                Op::Put {
                    key: Key::Leader,
                    ..
                }
            )
        })
    })
}

pub fn is_keepalive(req: &Request) -> bool {
    matches!(req, Request::KeepAlive { .. })
}

pub fn is_range(req: &Request) -> bool {
    matches!(req, Request::Range)
}

pub fn is_grant(req: &Request) -> bool {
    matches!(req, Request::Grant { .. })
}

pub fn is_revoke(req: &Request) -> bool {
    matches!(req, Request::Revoke { .. })
}

pub fn rid(name: &str) -> ResourceId {
    ResourceId::new(name)
}

pub fn rset(names: &[&str]) -> BTreeSet<ResourceId> {
    names.iter().map(|n| rid(n)).collect()
}

// ---------------------------------------------------------------------------------------------

impl Cluster {
    pub fn new() -> Cluster {
        Cluster {
            registry: Registry::new(),
            now: Time(0),
            procs: Vec::new(),
            io: Vec::new(),
            rules: Vec::new(),
            auto_timers: [TimerKind::RebalanceHold, TimerKind::Retry]
                .into_iter()
                .collect(),
            violations: Vec::new(),
            writes: Vec::new(),
            starts: Vec::new(),
            events_first: false,
        }
    }

    /// A node with the default configuration (not joined yet); its application runs by itself.
    pub fn add_node(&mut self, name: &str, mutant: Option<Mutant>) {
        assert!(self.find(name).is_none(), "{name} exists");
        self.procs.push(Process {
            node: Node::new(NodeId::new(name), NodeConfig::default(), mutant),
            app: App::default(),
            up: true,
        });
        self.io.push(Io {
            auto_app: true,
            ..Io::default()
        });
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.procs.iter().position(|p| p.node.id().0 == name)
    }

    pub fn idx(&self, name: &str) -> usize {
        self.find(name)
            .unwrap_or_else(|| panic!("no node named {name}"))
    }

    pub fn node(&self, name: &str) -> &Node {
        &self.procs[self.idx(name)].node
    }

    pub fn app(&self, name: &str) -> &App {
        &self.procs[self.idx(name)].app
    }

    pub fn accessing(&self, name: &str) -> BTreeSet<ResourceId> {
        self.app(name).accessing.clone()
    }

    pub fn io(&mut self, name: &str) -> &mut Io {
        let i = self.idx(name);
        &mut self.io[i]
    }

    pub fn trace(&self, name: &str) -> &[Ev] {
        &self.io[self.idx(name)].trace
    }

    /// The node's session, which must exist.
    pub fn session(&self, name: &str) -> Session {
        self.node(name)
            .session()
            .unwrap_or_else(|| panic!("{name} has no session"))
    }

    pub fn lease(&self, name: &str) -> LeaseId {
        self.session(name).lease
    }

    /// Queue `Input::Join`.
    pub fn join(&mut self, name: &str) {
        self.io(name).inbox.push_back(Input::Join);
    }

    pub fn set_auto_app(&mut self, name: &str, on: bool) {
        self.io(name).auto_app = on;
    }

    pub fn pause(&mut self, name: &str, paused: bool) {
        self.io(name).paused = paused;
    }

    /// The process dies: its application's access ends at once and it does nothing more.
    pub fn crash(&mut self, name: &str) {
        let i = self.idx(name);
        self.procs[i].up = false;
        self.procs[i].app.crash();
        self.io[i].paused = true;
        self.io[i].inbox.clear();
        self.io[i].outbox.clear();
        self.io[i].timers.clear();
    }

    // -- registry --------------------------------------------------------------------------

    pub fn barrier(&self, r: &str) -> Option<Session> {
        match self.registry.get(&Key::Barrier(rid(r))).map(|kv| &kv.value) {
            Some(Value::Session(s)) => Some(s.clone()),
            None => None,
            Some(other) => panic!("barrier {r} holds {other:?}"),
        }
    }

    pub fn assignment(&self) -> Option<Assignment> {
        match self.registry.get(&Key::Assignment).map(|kv| &kv.value) {
            Some(Value::Assignment(a)) => Some(a.clone()),
            _ => None,
        }
    }

    /// The leader key's session and term (`create_rev`).
    pub fn leader(&self) -> Option<(Session, u64)> {
        let kv = self.registry.get(&Key::Leader)?;
        match &kv.value {
            Value::Session(s) => Some((s.clone(), kv.create_rev)),
            _ => None,
        }
    }

    /// Route watch events to the watching nodes' inboxes (events for unknown clients drop).
    pub fn route(&mut self, deliveries: Deliveries) {
        for (to, event) in deliveries {
            if let Some(i) = self.find(&to.0) {
                self.io[i].inbox.push_back(Input::Watch(event));
            }
        }
        self.check();
    }

    /// The administrator runs a transaction (it watches nothing).
    pub fn admin(&mut self, txn: &Txn) {
        let (resp, deliveries) = self.registry.txn(txn);
        assert!(matches!(resp, Response::Txn(_)), "admin txn: {resp:?}");
        self.route(deliveries);
    }

    pub fn add_resources(&mut self, names: &[&str]) {
        for n in names {
            self.admin(&admin::add_resource(&rid(n)));
        }
    }

    /// The registry expires a lease now, whatever its clock says.
    pub fn expire(&mut self, lease: LeaseId) {
        let d = self.registry.expire(lease);
        self.route(d);
    }

    // -- driving ---------------------------------------------------------------------------

    /// Choose the fate of the next `times` requests of `node` that match `pred`.
    pub fn rule(
        &mut self,
        node: &str,
        times: usize,
        fate: Fate,
        pred: impl Fn(&Request) -> bool + 'static,
    ) {
        self.rules.push(Rule {
            node: NodeId::new(node),
            pred: Box::new(pred),
            fate,
            times,
        });
    }

    pub fn clear_rules(&mut self) {
        self.rules.clear();
    }

    fn fate_for(&mut self, i: usize, req: &Request) -> Fate {
        let id = self.procs[i].node.id().clone();
        for rule in self.rules.iter_mut() {
            if rule.times > 0 && rule.node == id && (rule.pred)(req) {
                rule.times -= 1;
                return rule.fate;
            }
        }
        Fate::Deliver
    }

    /// Feed one input to a node now and carry out its outputs; returns them.
    pub fn feed(&mut self, name: &str, input: Input) -> Vec<Output> {
        let i = self.idx(name);
        self.feed_idx(i, input)
    }

    fn feed_idx(&mut self, i: usize, input: Input) -> Vec<Output> {
        self.io[i].trace.push(Ev::In(input.clone()));
        let outs = self.procs[i].node.handle(self.now, input);
        for out in &outs {
            self.io[i].trace.push(Ev::Out(out.clone()));
            match out {
                Output::Send { req, request } => self.io[i].outbox.push(Sent {
                    req: *req,
                    request: request.clone(),
                    held: false,
                }),
                Output::SetTimer { kind, at } => {
                    self.io[i].timers.insert(*kind, *at);
                }
                Output::CancelTimer(kind) => {
                    self.io[i].timers.remove(kind);
                }
                Output::Start(r) => {
                    let node = self.procs[i].node.id().clone();
                    self.starts.push(StartRecord {
                        node,
                        resource: r.clone(),
                        session: self.procs[i].node.session(),
                        barrier: self.barrier(&r.0),
                    });
                    self.procs[i]
                        .app
                        .pending
                        .push_back(AppCommand::Start(r.clone()));
                }
                Output::Stop(r) => self.procs[i]
                    .app
                    .pending
                    .push_back(AppCommand::Stop(r.clone())),
                Output::Log(_) => {}
            }
        }
        self.check();
        outs
    }

    /// The application carries out its oldest command; the acknowledgement is fed at once.
    /// Returns the node's outputs, or `None` if nothing was pending.
    pub fn perform(&mut self, name: &str) -> Option<Vec<Output>> {
        let i = self.idx(name);
        self.perform_idx(i)
    }

    fn perform_idx(&mut self, i: usize) -> Option<Vec<Output>> {
        let ack = self.procs[i].app.perform()?;
        self.check();
        Some(self.feed_idx(i, ack))
    }

    /// Fire an armed timer now (the clock moves to its time if that is later); returns the
    /// node's outputs. Panics if the timer is not armed.
    pub fn fire(&mut self, name: &str, kind: TimerKind) -> Vec<Output> {
        let i = self.idx(name);
        let at = self.io[i]
            .timers
            .remove(&kind)
            .unwrap_or_else(|| panic!("{name} has no {kind} timer armed"));
        self.now = self.now.max(at);
        self.feed_idx(i, Input::Timer(kind))
    }

    /// Apply a request to the registry (unless its fate says otherwise) and return the outcome
    /// the node will see, and the watch events it caused.
    fn dispatch(&mut self, i: usize, request: &Request, fate: Fate) -> (Outcome, Deliveries) {
        let applied = matches!(fate, Fate::Deliver | Fate::Unknown);
        let mut deliveries = Vec::new();
        let mut response = None;
        if applied {
            let id = self.procs[i].node.id().clone();
            let previous = properties::replaced_assignment(&self.registry, request);
            let (resp, d) = self.registry.handle(self.now, &id, request);
            if let (Some(a), Response::Txn(t)) = (assignment_in(request), &resp) {
                if t.succeeded {
                    let leader = self.leader().map(|(s, term)| (s.node, term));
                    self.writes.push(AssignmentWrite {
                        writer: id,
                        assignment: a.clone(),
                        leader,
                        previous,
                    });
                }
            }
            deliveries = d;
            response = Some(resp);
        }
        let outcome = match fate {
            Fate::Deliver => Outcome::Success(response.expect("applied")),
            Fate::Unknown | Fate::Lost => Outcome::Unknown,
            Fate::PostFailed => Outcome::PostFailed,
            Fate::Retryable => Outcome::Retryable,
            Fate::Fatal => Outcome::Fatal,
            Fate::Hold => unreachable!("held requests are not dispatched"),
        };
        (outcome, deliveries)
    }

    /// Deliver now the first outstanding request of `name` (held or not) that matches `pred`,
    /// with the given fate; the reply is fed at once (its watch events are queued). Returns the
    /// node's outputs for the reply.
    pub fn deliver_now(
        &mut self,
        name: &str,
        fate: Fate,
        pred: impl Fn(&Request) -> bool,
    ) -> Vec<Output> {
        assert_ne!(fate, Fate::Hold);
        let i = self.idx(name);
        let pos = self.io[i]
            .outbox
            .iter()
            .position(|s| pred(&s.request))
            .unwrap_or_else(|| {
                panic!(
                    "{name} has no such request outstanding:\n{}",
                    self.dump(name)
                )
            });
        let sent = self.io[i].outbox.remove(pos);
        let (outcome, deliveries) = self.dispatch(i, &sent.request, fate);
        self.route(deliveries);
        self.feed_idx(
            i,
            Input::Reply {
                req: sent.req,
                outcome,
            },
        )
    }

    /// Deliver now the first outstanding request of `name` (held or not) that matches `pred`,
    /// with the given fate, but queue the reply behind whatever is already in its inbox.
    pub fn deliver(&mut self, name: &str, fate: Fate, pred: impl Fn(&Request) -> bool) {
        assert_ne!(fate, Fate::Hold);
        let i = self.idx(name);
        let pos = self.io[i]
            .outbox
            .iter()
            .position(|s| pred(&s.request))
            .unwrap_or_else(|| {
                panic!(
                    "{name} has no such request outstanding:\n{}",
                    self.dump(name)
                )
            });
        let sent = self.io[i].outbox.remove(pos);
        self.dispatch_queued(i, sent, fate);
    }

    /// Dispatch and queue the reply and the watch events, in the configured order.
    fn dispatch_queued(&mut self, i: usize, sent: Sent, fate: Fate) {
        let (outcome, deliveries) = self.dispatch(i, &sent.request, fate);
        let reply = Input::Reply {
            req: sent.req,
            outcome,
        };
        // A watch is answered on its stream ahead of the events it replays (as etcd does);
        // any other reply may come after the events its request caused.
        let watch = matches!(sent.request, Request::Watch { .. });
        if self.events_first && !watch {
            self.route(deliveries);
            self.io[i].inbox.push_back(reply);
        } else {
            self.io[i].inbox.push_back(reply);
            self.route(deliveries);
        }
    }

    /// Whether `name` has a held request matching `pred`.
    pub fn holds(&self, name: &str, pred: impl Fn(&Request) -> bool) -> bool {
        self.io[self.idx(name)]
            .outbox
            .iter()
            .any(|s| s.held && pred(&s.request))
    }

    /// Run until nothing is left to do. Panics if that takes more than 5,000 rounds.
    pub fn settle(&mut self) {
        assert!(self.try_settle(5_000), "did not settle in 5,000 rounds");
    }

    /// Run at most `rounds` rounds; returns whether everything settled.
    pub fn try_settle(&mut self, rounds: usize) -> bool {
        for _ in 0..rounds {
            let mut progressed = false;
            for i in 0..self.procs.len() {
                if self.io[i].paused {
                    continue;
                }
                while let Some(input) = self.io[i].inbox.pop_front() {
                    self.feed_idx(i, input);
                    progressed = true;
                }
            }
            for i in 0..self.procs.len() {
                if self.io[i].paused || !self.io[i].auto_app {
                    continue;
                }
                while self.perform_idx(i).is_some() {
                    progressed = true;
                }
            }
            for i in 0..self.procs.len() {
                if self.io[i].paused {
                    continue;
                }
                let outbox = std::mem::take(&mut self.io[i].outbox);
                for mut sent in outbox {
                    if sent.held {
                        self.io[i].outbox.push(sent);
                        continue;
                    }
                    let fate = self.fate_for(i, &sent.request);
                    if fate == Fate::Hold {
                        sent.held = true;
                        self.io[i].outbox.push(sent);
                        continue;
                    }
                    self.dispatch_queued(i, sent, fate);
                    progressed = true;
                }
            }
            if !progressed && !self.fire_next_auto_timer() {
                return true;
            }
        }
        false
    }

    fn fire_next_auto_timer(&mut self) -> bool {
        let next = (0..self.procs.len())
            .filter(|i| !self.io[*i].paused)
            .flat_map(|i| {
                self.io[i]
                    .timers
                    .iter()
                    .filter(|(k, _)| self.auto_timers.contains(k))
                    .map(move |(k, at)| (*at, i, *k))
            })
            .min();
        let Some((at, i, kind)) = next else {
            return false;
        };
        self.io[i].timers.remove(&kind);
        self.now = self.now.max(at);
        self.feed_idx(i, Input::Timer(kind));
        true
    }

    // -- observation -----------------------------------------------------------------------

    /// Evaluate the crate's safety properties over the current world; record violations.
    fn check(&mut self) {
        let world = World {
            registry: &self.registry,
            processes: &self.procs,
        };
        for result in [
            properties::no_double_access(&world),
            properties::access_holds_barrier(&world),
        ] {
            if let Err(v) = result {
                if !self.violations.contains(&v) {
                    self.violations.push(v);
                }
            }
        }
    }

    pub fn world_holds(&self, property: fn(&World<'_>) -> bool) -> bool {
        property(&World {
            registry: &self.registry,
            processes: &self.procs,
        })
    }

    /// Every request `name` sent, in order.
    pub fn sent(&self, name: &str) -> Vec<Request> {
        self.trace(name)
            .iter()
            .filter_map(|e| match e {
                Ev::Out(Output::Send { request, .. }) => Some(request.clone()),
                _ => None,
            })
            .collect()
    }

    /// Position in `name`'s trace of the first entry (at or after `from`) matching `pred`.
    pub fn position(&self, name: &str, from: usize, pred: impl Fn(&Ev) -> bool) -> Option<usize> {
        self.trace(name)
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, e)| pred(e))
            .map(|(i, _)| i)
    }

    /// Position of the first request sent by `name` (at or after `from`) matching `pred`.
    pub fn sent_at(
        &self,
        name: &str,
        from: usize,
        pred: impl Fn(&Request) -> bool,
    ) -> Option<usize> {
        self.position(
            name,
            from,
            |e| matches!(e, Ev::Out(Output::Send { request, .. }) if pred(request)),
        )
    }

    pub fn count_sent(&self, name: &str, pred: impl Fn(&Request) -> bool) -> usize {
        self.sent(name).iter().filter(|r| pred(r)).count()
    }

    /// The node's trace, one line per entry, for failure messages.
    pub fn dump(&self, name: &str) -> String {
        let mut s = String::new();
        for (i, e) in self.trace(name).iter().enumerate() {
            let _ = match e {
                Ev::In(Input::Reply { req, outcome }) => {
                    writeln!(s, "{i:4} <- reply #{req}: {outcome}")
                }
                Ev::In(Input::Watch(ev)) => writeln!(s, "{i:4} <- watch {ev}"),
                Ev::In(input) => writeln!(s, "{i:4} <- {input:?}"),
                Ev::Out(Output::Send { req, request }) => writeln!(s, "{i:4} -> #{req} {request}"),
                Ev::Out(out) => writeln!(s, "{i:4} -> {out:?}"),
            };
        }
        s
    }

    /// Start the cluster: add `resources`, then join `nodes` one after another, settling after
    /// each.
    pub fn started(resources: &[&str], nodes: &[(&str, Option<Mutant>)]) -> Cluster {
        Cluster::new().start(resources, nodes)
    }

    /// Like [`Cluster::started`], on this (still empty) cluster.
    pub fn start(mut self, resources: &[&str], nodes: &[(&str, Option<Mutant>)]) -> Cluster {
        let c = &mut self;
        c.add_resources(resources);
        for (name, mutant) in nodes {
            c.add_node(name, *mutant);
            c.join(name);
            c.settle();
        }
        self
    }
}
