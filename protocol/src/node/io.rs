//! What goes into a node and what comes out of it.

use crate::ids::{LeaseId, ReqId, ResourceId, Session, Time};
use crate::registry::{Request, WatchEvent};
use crate::rpc::Outcome;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The node's timers. One of each kind at most: setting one replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TimerKind {
    /// Renew the lease.
    KeepAlive,
    /// The self-fencing deadline: no acknowledged keep-alive for too long.
    Fence,
    /// The leader's minimum interval between assignment writes is over.
    RebalanceHold,
    /// Back-off after a failed request is over.
    Retry,
}

/// An input to [`Node::handle`](super::Node::handle).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Input {
    /// Join the group.
    Join,
    /// Leave the group gracefully.
    Leave,
    /// The outcome of a request the node sent.
    Reply {
        /// Which request.
        req: ReqId,
        /// How it ended.
        outcome: Outcome,
    },
    /// An event on the node's watch.
    Watch(WatchEvent),
    /// The watch stream broke.
    WatchBroken,
    /// A timer fired.
    Timer(TimerKind),
    /// The application has started accessing a resource.
    Started(ResourceId),
    /// The application has stopped accessing a resource.
    Stopped(ResourceId),
    /// Fence at once: the application failed to start or stop a resource (its handler erred,
    /// panicked or overran the stop budget), so the node can no longer vouch for what it
    /// accesses. The node stops everything, gives up its lease without releasing a barrier (they
    /// die with the lease, which is no longer kept alive), and rejoins.
    Fence,
}

/// An output of [`Node::handle`](super::Node::handle), for the runtime to carry out.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Output {
    /// Send a request to the registry; its outcome comes back as [`Input::Reply`].
    Send {
        /// Its id.
        req: ReqId,
        /// The request.
        request: Request,
    },
    /// Arm a timer at a local time (replacing one of the same kind).
    SetTimer {
        /// Which timer.
        kind: TimerKind,
        /// When, on the node's clock.
        at: Time,
    },
    /// Disarm a timer.
    CancelTimer(TimerKind),
    /// Tell the application to start accessing a resource; it answers [`Input::Started`].
    Start(ResourceId),
    /// Tell the application to stop accessing a resource; it answers [`Input::Stopped`].
    Stop(ResourceId),
    /// Something worth a log line or a trace mark.
    Log(Event),
}

/// Noteworthy moments, for logs and traces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Event {
    /// Registered as a member with this session.
    Joined(Session),
    /// Fenced itself: stopped everything and dropped its lease.
    Fenced {
        /// The lease given up.
        lease: LeaseId,
        /// Why.
        reason: FenceReason,
    },
    /// Became leader.
    Leader {
        /// Its term.
        term: u64,
    },
    /// Wrote an assignment.
    Assigned {
        /// The epoch written.
        epoch: u64,
    },
    /// Waits for another session to release a barrier.
    Waiting {
        /// The resource.
        resource: ResourceId,
        /// Who holds it.
        holder: Session,
    },
    /// Left the group.
    Left,
}

/// Why a node fenced itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FenceReason {
    /// Its self-fencing deadline passed.
    Deadline,
    /// The registry no longer knows its lease.
    LeaseLost,
    /// The runtime fenced it: the application failed ([`Input::Fence`]).
    AppFailed,
}

impl fmt::Display for TimerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            TimerKind::KeepAlive => "keep-alive",
            TimerKind::Fence => "fence deadline",
            TimerKind::RebalanceHold => "rebalance hold",
            TimerKind::Retry => "retry",
        };
        f.write_str(s)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Joined(s) => write!(f, "joined as {s}"),
            Event::Fenced { lease, reason } => write!(f, "fenced ({reason:?}), gave up {lease}"),
            Event::Leader { term } => write!(f, "became leader, term {term}"),
            Event::Assigned { epoch } => write!(f, "wrote assignment epoch {epoch}"),
            Event::Waiting { resource, holder } => {
                write!(f, "waits for {holder} to release {resource}")
            }
            Event::Left => write!(f, "left"),
        }
    }
}
