//! The model's state: the registry, the processes, the messages in flight, budgets.

use protocol::registry::WatchEvent;
use protocol::{
    FailureStep, LeaseId, Outcome, Process, Property, Registry, ReqId, Request, Time, TimerKind,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A request id the node no longer waits for: its reply would be ignored.
pub const ORPHAN: ReqId = ReqId::MAX;

/// What travels on a node's watch stream.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WatchMsg {
    /// An event.
    Event(WatchEvent),
    /// The stream broke.
    Broken,
    /// The answer to the watch request that created the stream (etcd sends it on the stream,
    /// ahead of the events the watch replays).
    Reply(InFlightReply),
}

/// A reply on its way to a node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InFlightReply {
    /// The request it answers.
    pub req: ReqId,
    /// What the node will see.
    pub outcome: Outcome,
    /// The failure that produced it, if any (UNKNOWN after the registry applied the request,
    /// say). Ghost state for traces and `sometimes` properties; the node never sees it.
    pub fault: Option<FailureStep>,
    /// The true time by which it arrives (the timed model; 0 in the untimed one).
    pub due: u64,
}

/// The due time of a message that may arrive at any time, or never (a request its sender gave
/// up on, a duplicate).
pub const NEVER: u64 = u64::MAX;

/// Everything between one node and the rest of the world.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Channels {
    /// Requests on their way to the registry, each with the true time by which it arrives
    /// ([`NEVER`], or 0 in the untimed model). Unordered: any may arrive first.
    pub requests: Vec<(ReqId, Request, u64)>,
    /// Replies on their way back. Unordered.
    pub replies: Vec<InFlightReply>,
    /// The watch stream: in order, as etcd guarantees.
    pub watch: VecDeque<WatchMsg>,
    /// The true time by which the stream's next message arrives (timed model; 0 when empty).
    pub watch_due: u64,
    /// The node's armed timers and, in the timed model, the local time each fires at.
    pub timers: BTreeMap<TimerKind, Time>,
    /// The true time by which the application carries out each pending command, oldest first
    /// (timed model; one entry per command, 0 in the untimed model).
    pub app_due: VecDeque<u64>,
    /// The rate of the machine's clock against true time, in drift periods (timed model): -1
    /// loses one tick, +1 gains one, in every [`crate::clock::DRIFT_PERIOD`] ticks.
    pub drift: i8,
    /// Timed model: the node's link to the registry is cut (a keep-alive lapse): every request
    /// it sends fails before it is posted, until the link heals.
    pub cut: bool,
    /// Timed model, timing assumption off: the process hangs for good (a pause beyond the
    /// envelope).
    pub hung: bool,
}

/// Faults left to inject.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Budget {
    /// Crashes.
    pub crashes: u8,
    /// Request/reply failures.
    pub rpc_faults: u8,
    /// Lapses and (assumption off) expiries under a relying node.
    pub expiries: u8,
    /// Admin changes.
    pub admin_changes: u8,
    /// Watch breaks.
    pub watch_breaks: u8,
    /// Leaves and joins.
    pub membership_changes: u8,
    /// Requests the node gives up on (it sees UNKNOWN) while they are still on their way.
    pub late: u8,
    /// Requests the network hands the registry twice.
    pub duplicates: u8,
    /// Replies the network delays (timed model).
    pub delays: u8,
}

/// One state of the model.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct State {
    /// The registry.
    pub registry: Registry,
    /// Process `i` is node `n{i+1}`.
    pub processes: Vec<Process>,
    /// Process `i`'s channels.
    pub channels: Vec<Channels>,
    /// Faults left.
    pub budget: Budget,
    /// Leases whose holder's self-fencing deadline has passed: under the timing assumption the
    /// registry may expire them once the holder's application has stopped what it was told to.
    pub lapsed: BTreeSet<LeaseId>,
    /// Violations of properties judged at the moment of a write (fenced_writes,
    /// assignment_well_formed, sticky_assignment, min_interval_respected). Empty in every state
    /// of a correct protocol, so it costs no states there.
    pub violations: Vec<(Property, String)>,
    /// True time, in the timed model only.
    pub clock: Option<TrueClock>,
}

/// True time in the timed model: the registry's clock, which the node clocks drift against.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TrueClock {
    /// Ticks since the origin; every clock is shifted down by whole drift periods so that the
    /// earliest time any part of the state remembers is within one period of 0.
    pub now: u64,
    /// The true time of the last assignment write, while a write could still come too soon
    /// after it (ghost state for `min_interval_respected`).
    pub last_write: Option<u64>,
}
