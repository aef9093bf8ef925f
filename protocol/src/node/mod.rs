//! The node state machine of the resource-barrier protocol (DESIGN.md §4).
//!
//! Sans-IO, after quinn-proto and raft-rs: the caller owns the clock, the sockets, the timers and
//! the application, and feeds the node [`Input`]s with its local time; the node answers with
//! [`Output`]s to carry out. Nothing here reads a clock, draws randomness or iterates a hash map.
//!
//! The node is level-triggered: every input updates its state, then [`Node::handle`] reconciles
//! what the node runs with what its view of the group says it should run, and picks the next
//! registry request. One protocol request is in flight at a time (plus one keep-alive), which
//! keeps the reasoning and the model small.
//!
//! Where each rule lives:
//! - joining, leaving and the request loop: this file and `lifecycle.rs`;
//! - keep-alive and self-fencing: `lease.rs`;
//! - election and the leader's assignment writes: `leadership.rs`;
//! - starting and stopping resources behind their barriers: `apply.rs`.

mod apply;
mod config;
mod io;
mod leadership;
mod lease;
mod lifecycle;
mod view;

pub use config::NodeConfig;
pub use io::{Event, FenceReason, Input, Output, TimerKind};
pub use view::View;

use crate::ids::{LeaseId, NodeId, ReqId, ResourceId, Revision, Session, Time};
use crate::mutant::Mutant;
use crate::registry::{Request, Response};
use crate::rpc::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Created, not yet asked to join.
    Idle,
    /// Getting a lease and registering as a member.
    Joining,
    /// A registered member.
    Member,
    /// Stopping everything before revoking its lease.
    Leaving,
    /// Gone.
    Left,
}

/// What the node does with one resource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Local {
    /// Assigned to this node; its barrier is not (known to be) ours yet.
    Acquiring,
    /// Barrier held under `lease`; the application was told to start.
    Starting(LeaseId),
    /// Barrier held under `lease`; the application runs it.
    Running(LeaseId),
    /// The application was told to stop; the barrier (under `lease`) stays until it has.
    Stopping(LeaseId),
    /// Stopped (or never started); the barrier under `lease` is to be deleted.
    Releasing(LeaseId),
}

impl Local {
    /// The lease this entry depends on, if it holds a barrier.
    pub fn lease(&self) -> Option<LeaseId> {
        match self {
            Local::Acquiring => None,
            Local::Starting(l) | Local::Running(l) | Local::Stopping(l) | Local::Releasing(l) => {
                Some(*l)
            }
        }
    }

    /// Whether the application may be accessing the resource (told to start, not yet stopped).
    pub fn may_access(&self) -> bool {
        matches!(
            self,
            Local::Starting(_) | Local::Running(_) | Local::Stopping(_)
        )
    }
}

/// The one protocol request in flight and what it was for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) enum Pending {
    Grant,
    Register,
    Sync,
    Watch,
    Elect,
    Assign { epoch: u64 },
    Acquire(ResourceId),
    Release(ResourceId),
    Revoke,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Inflight<P> {
    req: ReqId,
    what: P,
    sent_at: Time,
}

/// The state of the node's watch stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WatchState {
    /// No watch (or one still being asked for: the request holds the slot until it answers).
    None,
    /// Created.
    Live,
}

/// One node of the group.
///
/// ```
/// use protocol::{Input, Node, NodeConfig, NodeId, Output, Time};
///
/// let mut node = Node::new(NodeId::new("worker-1"), NodeConfig::default(), None);
/// let outputs = node.handle(Time(0), Input::Join);
/// // The runtime sends the request to the registry and feeds the outcome back as
/// // `Input::Reply { req, outcome }`; it arms timers and feeds `Input::Timer(kind)` when they
/// // fire; it runs `Start`/`Stop` on the application and feeds `Input::Started`/`Stopped`.
/// assert!(matches!(outputs[0], Output::Send { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Node {
    id: NodeId,
    config: NodeConfig,
    mutant: Option<Mutant>,
    phase: Phase,
    lease: Option<LeaseId>,
    next_req: ReqId,
    inflight: Option<Inflight<Pending>>,
    keepalive: Option<Inflight<LeaseId>>,
    watch: WatchState,
    /// False when the view must be re-read with a `Range` before the node decides anything.
    synced: bool,
    view: View,
    /// Decide nothing until the view has caught up with our own last write (read-your-writes).
    wait_rev: Revision,
    /// The term we lead in, once we noticed we lead.
    term: Option<u64>,
    /// The minimum interval since our last assignment write has not passed.
    hold: bool,
    /// The assignment revision the hold was last armed for.
    held_rev: Revision,
    /// Backing off after a failed request.
    backoff: bool,
    resources: BTreeMap<ResourceId, Local>,
}

impl Node {
    /// A node that has not joined yet. `mutant` selects a deliberate defect (tests only).
    pub fn new(id: NodeId, config: NodeConfig, mutant: Option<Mutant>) -> Node {
        Node {
            id,
            config,
            mutant,
            phase: Phase::Idle,
            lease: None,
            next_req: 0,
            inflight: None,
            keepalive: None,
            watch: WatchState::None,
            synced: false,
            view: View::default(),
            wait_rev: 0,
            term: None,
            hold: false,
            held_rev: 0,
            backoff: false,
            resources: BTreeMap::new(),
        }
    }

    /// Feed one input at local time `now`; returns what the runtime must do, in order.
    pub fn handle(&mut self, now: Time, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Join => self.join(),
            Input::Leave => self.leave(&mut out),
            Input::Reply { req, outcome } => self.on_reply(now, req, outcome, &mut out),
            Input::Watch(event) => {
                // Only events of the stream we created: its creation is confirmed before its
                // first event (etcd answers a watch request on its stream, ahead of the
                // events). An event on no stream of ours (a watch of a crashed incarnation, or
                // one we gave up on) may skip revisions the view never saw: applying it would
                // leave a view that looks synced but misses a write, for ever.
                // Events older than the view are already in it (a Range overtook them).
                if self.watch == WatchState::Live && self.view.rev > 0 {
                    self.view.apply(&event);
                }
            }
            Input::WatchBroken => {
                self.watch = WatchState::None;
                self.synced = false;
                // A watch being created may be the one that broke: give it up, so that its
                // late "created" cannot mark a dead stream live.
                if self
                    .inflight
                    .as_ref()
                    .is_some_and(|i| i.what == Pending::Watch)
                {
                    self.inflight = None;
                }
            }
            Input::Timer(kind) => self.on_timer(now, kind, &mut out),
            Input::Started(r) => self.on_started(&r),
            Input::Stopped(r) => self.on_stopped(&r),
            Input::Fence => self.fence(FenceReason::AppFailed, &mut out),
        }
        self.drive(now, &mut out);
        out
    }

    fn on_timer(&mut self, now: Time, kind: TimerKind, out: &mut Vec<Output>) {
        match kind {
            TimerKind::KeepAlive => self.send_keepalive(now, out),
            TimerKind::Fence => self.fence(FenceReason::Deadline, out),
            TimerKind::RebalanceHold => self.hold = false,
            TimerKind::Retry => self.backoff = false,
        }
    }

    fn on_reply(&mut self, now: Time, req: ReqId, outcome: Outcome, out: &mut Vec<Output>) {
        if self.keepalive.as_ref().is_some_and(|k| k.req == req) {
            return self.on_keepalive_reply(now, outcome, out);
        }
        let Some(inflight) = self.inflight.take_if(|i| i.req == req) else {
            return; // a reply to a request we gave up on
        };
        match outcome {
            Outcome::Success(Response::LeaseNotFound) => {
                if inflight.what == Pending::Revoke {
                    self.left(out);
                } else {
                    self.fence(FenceReason::LeaseLost, out);
                }
            }
            Outcome::Success(response) => self.on_response(now, inflight, response, out),
            Outcome::PostFailed | Outcome::Retryable => self.back_off(now, out),
            Outcome::Fatal => {
                self.synced = false;
                self.back_off(now, out);
            }
            Outcome::Unknown if self.mutant == Some(Mutant::UnknownAsFailure) => {
                self.back_off(now, out)
            }
            // Maybe applied, maybe not: re-read the group before deciding anything again.
            Outcome::Unknown => self.synced = false,
        }
    }

    fn on_response(
        &mut self,
        now: Time,
        inflight: Inflight<Pending>,
        response: Response,
        out: &mut Vec<Output>,
    ) {
        match (inflight.what, response) {
            (Pending::Grant, Response::Granted { lease, .. }) => {
                self.granted(lease, inflight.sent_at, now, out)
            }
            (Pending::Register, Response::Txn(t)) => self.registered(t.rev, out),
            (Pending::Sync, Response::Range { rev, kvs }) => {
                if rev >= self.view.rev {
                    self.view = View::from_range(rev, &kvs);
                }
                self.synced = true;
            }
            (Pending::Watch, Response::WatchCreated) => self.watch = WatchState::Live,
            (Pending::Watch, Response::Compacted { .. }) => {
                self.watch = WatchState::None;
                self.synced = false;
            }
            (Pending::Elect, Response::Txn(t)) => self.wait_rev = t.rev,
            (Pending::Assign { epoch }, Response::Txn(t)) => {
                self.assigned(epoch, t.succeeded, t.rev, now, out)
            }
            (Pending::Acquire(r), Response::Txn(t)) => self.acquired(r, t.succeeded, t.rev, out),
            (Pending::Release(r), Response::Txn(t)) => self.released(&r, t.rev),
            (Pending::Revoke, Response::Revoked { .. }) => self.left(out),
            // A response that does not fit the request: treat it as unknown and re-read.
            _ => self.synced = false,
        }
    }

    /// Disarm every timer (the lease, and with it every role, is gone).
    fn cancel_timers(out: &mut Vec<Output>) {
        for kind in [
            TimerKind::KeepAlive,
            TimerKind::Fence,
            TimerKind::RebalanceHold,
            TimerKind::Retry,
        ] {
            out.push(Output::CancelTimer(kind));
        }
    }

    fn back_off(&mut self, now: Time, out: &mut Vec<Output>) {
        self.backoff = true;
        out.push(Output::SetTimer {
            kind: TimerKind::Retry,
            at: now.plus(self.config.retry),
        });
    }

    /// Reconcile, then send the next request if the slot is free.
    fn drive(&mut self, now: Time, out: &mut Vec<Output>) {
        self.reconcile(out);
        self.track_leadership(now, out);
        self.hold_after_writes(now, out);
        if self.inflight.is_some() || self.backoff {
            return;
        }
        if let Some((what, request)) = self.next_request() {
            let req = self.next_req;
            self.next_req += 1;
            self.inflight = Some(Inflight {
                req,
                what,
                sent_at: now,
            });
            out.push(Output::Send { req, request });
        }
    }

    /// The next protocol request, in order of precedence.
    fn next_request(&self) -> Option<(Pending, Request)> {
        match self.phase {
            Phase::Idle | Phase::Left => None,
            Phase::Joining => Some(self.join_request()),
            Phase::Leaving => self.leave_request(),
            Phase::Member => {
                if !self.synced {
                    return Some((Pending::Sync, Request::Range));
                }
                if self.watch == WatchState::None {
                    let from_rev = self.view.rev + 1;
                    return Some((Pending::Watch, Request::Watch { from_rev }));
                }
                if self.view.rev < self.wait_rev {
                    return None;
                }
                self.election_request()
                    .or_else(|| self.assignment_request())
                    .or_else(|| self.barrier_request())
            }
        }
    }

    /// This incarnation's session, while it holds a lease.
    pub fn session(&self) -> Option<Session> {
        self.lease.map(|lease| Session {
            node: self.id.clone(),
            lease,
        })
    }

    /// The node's name.
    pub fn id(&self) -> &NodeId {
        &self.id
    }

    /// Where the node is in its life.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The lease it currently holds.
    pub fn lease(&self) -> Option<LeaseId> {
        self.lease
    }

    /// Its view of the group.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// Its watch stream.
    pub fn watch_state(&self) -> WatchState {
        self.watch
    }

    /// Whether its view is read (a `Range` answered since it last had to re-read).
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// Whether it backs off after a failed request.
    pub fn backing_off(&self) -> bool {
        self.backoff
    }

    /// Whether, as leader, it holds assignment writes for the minimum rebalance interval.
    pub fn holding(&self) -> bool {
        self.hold
    }

    /// The revision of its own last write, which its view must reach before it decides.
    pub fn wait_rev(&self) -> Revision {
        self.wait_rev
    }

    /// The id of its protocol request in flight (not the keep-alive).
    pub fn pending_request(&self) -> Option<ReqId> {
        self.inflight.as_ref().map(|i| i.req)
    }

    /// The term it leads in, if it knows itself leader.
    pub fn term(&self) -> Option<u64> {
        self.term
    }

    /// What it does with each resource.
    pub fn resources(&self) -> &BTreeMap<ResourceId, Local> {
        &self.resources
    }

    /// Whether the node still relies on `lease`: it is the node's lease, or the application may
    /// still access a resource whose barrier is on it. The timing assumption (DESIGN.md §6) is
    /// exactly that the registry never expires such a lease.
    pub fn relies_on(&self, lease: LeaseId) -> bool {
        self.lease == Some(lease)
            || self
                .resources
                .values()
                .any(|l| l.may_access() && l.lease() == Some(lease))
    }

    /// The assignment (term, epoch) the node has fully applied: it runs exactly its share and
    /// nothing else. `None` while it is still moving.
    pub fn applied(&self) -> Option<(u64, u64)> {
        let a = self.view.assignment.as_ref()?;
        if self.phase != Phase::Member || self.view.rev < self.wait_rev || !self.synced {
            return None;
        }
        let mine: Vec<&ResourceId> = a
            .share(&self.id)
            .filter(|r| self.view.resources.contains(*r))
            .collect();
        let runs_exactly = mine.len() == self.resources.len()
            && mine
                .iter()
                .all(|r| matches!(self.resources.get(*r), Some(Local::Running(_))));
        runs_exactly.then_some((a.term, a.epoch))
    }

    /// Resources the node waits for because another session holds their barrier.
    pub fn waiting_on_others(&self) -> impl Iterator<Item = (&ResourceId, &Session)> {
        let me = self.session();
        self.resources.iter().filter_map(move |(r, l)| {
            let (holder, _) = self.view.barriers.get(r)?;
            (*l == Local::Acquiring && Some(holder) != me.as_ref()).then_some((r, holder))
        })
    }

    /// The ids of requests the node would still accept a reply for. Model checkers renumber
    /// them (with [`Node::renumber_requests`]) so that otherwise equal states compare equal.
    pub fn live_requests(&self) -> impl Iterator<Item = ReqId> + '_ {
        self.inflight
            .as_ref()
            .map(|i| i.req)
            .into_iter()
            .chain(self.keepalive.as_ref().map(|k| k.req))
    }

    /// Rename nodes throughout (symmetry reduction); see [`crate::rename`].
    pub(crate) fn rename_all(&mut self, map: &crate::rename::Renaming) {
        use crate::rename::RenameNodes;
        self.id.rename_nodes(map);
        let v = &mut self.view;
        v.members = std::mem::take(&mut v.members)
            .into_iter()
            .map(|(mut n, (mut s, rev))| {
                n.rename_nodes(map);
                s.rename_nodes(map);
                (n, (s, rev))
            })
            .collect();
        if let Some((s, _)) = v.leader.as_mut() {
            s.rename_nodes(map);
        }
        v.assignment.rename_nodes(map);
        for (s, _) in v.barriers.values_mut() {
            s.rename_nodes(map);
        }
    }

    /// The local times the node remembers: when its requests in flight were sent. A model
    /// checker that keeps clocks as bounded counters needs them to shift the clock down (with
    /// [`Node::shift_clock`]) without moving one below zero.
    pub fn clock_readings(&self) -> impl Iterator<Item = Time> + '_ {
        self.inflight
            .as_ref()
            .map(|i| i.sent_at)
            .into_iter()
            .chain(self.keepalive.as_ref().map(|k| k.sent_at))
    }

    /// Move every remembered local time back by `by` (see [`Node::clock_readings`]); the
    /// runtime moves the node's clock and armed timers back by the same amount.
    pub fn shift_clock(&mut self, by: u64) {
        if let Some(i) = self.inflight.as_mut() {
            i.sent_at = Time(i.sent_at.0.saturating_sub(by));
        }
        if let Some(k) = self.keepalive.as_mut() {
            k.sent_at = Time(k.sent_at.0.saturating_sub(by));
        }
    }

    /// Rename request ids with `rename` (which must keep distinct ids distinct) and continue
    /// numbering from `next`.
    pub fn renumber_requests(&mut self, rename: impl Fn(ReqId) -> ReqId, next: ReqId) {
        if let Some(i) = self.inflight.as_mut() {
            i.req = rename(i.req);
        }
        if let Some(k) = self.keepalive.as_mut() {
            k.req = rename(k.req);
        }
        self.next_req = next;
    }
}
