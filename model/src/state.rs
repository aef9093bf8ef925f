//! The model's state: the registry, the processes, the messages in flight, budgets.

use protocol::registry::WatchEvent;
use protocol::{
    FailureStep, LeaseId, Outcome, Process, Property, Registry, ReqId, Request, TimerKind,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};

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
}

/// Everything between one node and the rest of the world.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Channels {
    /// Requests on their way to the registry. Unordered: any may arrive first.
    pub requests: Vec<(ReqId, Request)>,
    /// Replies on their way back. Unordered.
    pub replies: Vec<InFlightReply>,
    /// The watch stream: in order, as etcd guarantees.
    pub watch: VecDeque<WatchMsg>,
    /// The node's armed timers.
    pub timers: BTreeSet<TimerKind>,
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
    /// assignment_well_formed, sticky_assignment). Empty in every state of a correct protocol,
    /// so it costs no states there.
    pub violations: Vec<(Property, String)>,
}
