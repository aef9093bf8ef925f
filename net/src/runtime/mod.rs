//! The node runtime: drives the protocol core's [`Node`] with the real clock, real timers, a
//! registry link and the application's handlers. It decides nothing of the protocol itself.
//!
//! - the clock: the node's local time is the monotonic clock since the runtime started;
//! - timers: the core's `SetTimer`/`CancelTimer`, one per kind; a timer that came due is fed
//!   before any other input, so that a node resuming from a pause fences before it acts on
//!   replies that waited in its socket;
//! - requests: carried by a [`Link`]; its outcomes come back as `Input::Reply`;
//! - the application: `app.rs`.

pub(crate) mod app;

use crate::backend::{Link, LinkEvent};
use app::{App, Done};
use protocol::node::{Event, Input, Output, TimerKind};
use protocol::{LeaseId, Node, NodeId, Phase, ResourceId, Time};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::{Duration, Instant};

pub use app::Aborted;

/// A node's state, as its handle shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeState {
    /// The node's name.
    pub node: NodeId,
    /// Where it is in its life.
    pub phase: Phase,
    /// Its current lease.
    pub lease: Option<LeaseId>,
    /// The term it leads in, if it is the leader.
    pub term: Option<u64>,
    /// The latest assignment it has seen: (term, epoch).
    pub assignment: Option<(u64, u64)>,
    /// The assignment it has fully applied (runs exactly its share), if it has.
    pub applied: Option<(u64, u64)>,
    /// Members it sees.
    pub members: usize,
    /// Resources it sees in the group.
    pub resources: usize,
    /// What the application runs now (its start handler returned, no stop has begun).
    pub running: BTreeSet<ResourceId>,
}

/// Something that happened on a node, for logs and dashboards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// A protocol event (joined, leader, assignment written, fenced, waiting, left).
    Protocol(Event),
    /// The application started a resource.
    Started(ResourceId),
    /// The application stopped a resource.
    Stopped(ResourceId),
    /// A handler failed: the node fenced itself and aborted the resource.
    Aborted(ResourceId, Aborted),
}

pub(crate) enum Command {
    Leave,
}

pub(crate) struct Runtime {
    node: Node,
    origin: Instant,
    timers: BTreeMap<TimerKind, Instant>,
    link: Link,
    app: App,
    commands: mpsc::Receiver<Command>,
    state: watch::Sender<NodeState>,
    events: broadcast::Sender<NodeEvent>,
    leaving: bool,
}

impl Runtime {
    pub(crate) fn new(
        node: Node,
        link: Link,
        app: App,
        commands: mpsc::Receiver<Command>,
        state: watch::Sender<NodeState>,
        events: broadcast::Sender<NodeEvent>,
    ) -> Runtime {
        Runtime {
            node,
            origin: Instant::now(),
            timers: BTreeMap::new(),
            link,
            app,
            commands,
            state,
            events,
            leaving: false,
        }
    }

    /// The node's local clock.
    fn now(&self) -> Time {
        Time(self.origin.elapsed().as_millis() as u64)
    }

    fn instant(&self, at: Time) -> Instant {
        self.origin + Duration::from_millis(at.0)
    }

    pub(crate) async fn run(mut self) {
        self.feed(Input::Join);
        loop {
            if self.leaving && self.node.phase() == Phase::Left && self.app.idle() {
                break;
            }
            let next_timer = self.timers.values().min().copied();
            tokio::select! {
                event = self.link.events.recv() => match event {
                    Some(LinkEvent::Reply { req, outcome }) => self.feed(Input::Reply { req, outcome }),
                    Some(LinkEvent::Watch(e)) => self.feed(Input::Watch(e)),
                    Some(LinkEvent::WatchBroken) => self.feed(Input::WatchBroken),
                    None => break, // the link task is gone: nothing can reach the registry
                },
                _ = sleep_until(next_timer) => self.fire_due(),
                done = self.app.done_rx.recv() => {
                    let Some((r, c, result)) = done else { break };
                    match self.app.finished(r, c, result) {
                        Some(Done::Started(r)) => {
                            let _ = self.events.send(NodeEvent::Started(r.clone()));
                            self.feed(Input::Started(r));
                        }
                        Some(Done::Stopped(r)) => {
                            let _ = self.events.send(NodeEvent::Stopped(r.clone()));
                            self.feed(Input::Stopped(r));
                        }
                        Some(Done::Failed(r, why)) => {
                            tracing::error!("{}: {r}: {why}; fencing", self.node.id());
                            let _ = self.events.send(NodeEvent::Aborted(r, why));
                            self.feed(Input::Fence);
                        }
                        None => {}
                    }
                }
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Leave) | None => {
                        // A dropped handle leaves too: nothing could stop the node otherwise.
                        if !self.leaving {
                            self.leaving = true;
                            self.feed(Input::Leave);
                        }
                    }
                },
            }
            self.publish();
        }
        self.publish();
    }

    /// Feed every timer that has come due, earliest first.
    fn fire_due(&mut self) {
        let now = Instant::now();
        let mut due: Vec<(Instant, TimerKind)> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, at)| (*at, *k))
            .collect();
        due.sort();
        for (_, kind) in due {
            // An earlier timer's outputs may have cancelled or moved this one.
            if self.timers.get(&kind).is_some_and(|at| *at <= now) {
                self.timers.remove(&kind);
                self.carry_out(Input::Timer(kind));
            }
        }
    }

    /// Feed one input, after any timer that is due.
    fn feed(&mut self, input: Input) {
        self.fire_due();
        self.carry_out(input);
    }

    fn carry_out(&mut self, input: Input) {
        let now = self.now();
        for output in self.node.handle(now, input) {
            match output {
                Output::Send { req, request } => {
                    if self.link.requests.send((req, request)).is_err() {
                        tracing::error!("{}: the registry link is gone", self.node.id());
                    }
                }
                Output::SetTimer { kind, at } => {
                    let at = self.instant(at);
                    self.timers.insert(kind, at);
                }
                Output::CancelTimer(kind) => {
                    self.timers.remove(&kind);
                }
                Output::Start(r) => self.app.start(r),
                Output::Stop(r) => self.app.stop(r),
                Output::Log(event) => {
                    tracing::info!("{}: {event}", self.node.id());
                    let _ = self.events.send(NodeEvent::Protocol(event));
                }
            }
        }
    }

    fn publish(&self) {
        let view = self.node.view();
        let state = NodeState {
            node: self.node.id().clone(),
            phase: self.node.phase(),
            lease: self.node.lease(),
            term: self.node.term(),
            assignment: view.assignment.as_ref().map(|a| (a.term, a.epoch)),
            applied: self.node.applied(),
            members: view.members.len(),
            resources: view.resources.len(),
            running: self.app.running().clone(),
        };
        self.state.send_if_modified(|old| {
            let changed = *old != state;
            *old = state;
            changed
        });
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
