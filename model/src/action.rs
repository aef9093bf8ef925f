//! The model's actions: protocol steps, the application, time, and faults.

use protocol::{FailureStep, LeaseId, TimerKind};
use serde::{Deserialize, Serialize};

/// A process index (node `n{i+1}`).
pub type Pid = u8;

/// One step of the model.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Action {
    /// The registry receives and processes the k-th request in flight from a node.
    Deliver(Pid, u8),
    /// A request fails at one of the eight steps (fault).
    Fail(Pid, u8, FailureStep),
    /// The node gives up on its k-th request in flight (a timeout: it sees UNKNOWN) while the
    /// request is still on its way; it may land later, or never (fault).
    TimeOut(Pid, u8),
    /// The registry receives the k-th request in flight, and the network keeps a copy of it
    /// that may land again later (fault).
    Duplicate(Pid, u8),
    /// A node receives the k-th reply in flight to it.
    Reply(Pid, u8),
    /// Timed model: the network delays the k-th reply in flight to a node; it arrives within
    /// the runtime's request time-out (fault).
    Delay(Pid, u8),
    /// A node receives the next message of its watch stream.
    Watch(Pid),
    /// A watch stream breaks (fault).
    BreakWatch(Pid),
    /// A timer fires (keep-alive, rebalance hold, retry).
    Timer(Pid, TimerKind),
    /// A node's keep-alives lapse (fault). Untimed: its self-fencing deadline passes. Timed: its
    /// link to the registry is cut, and its requests fail until the link heals.
    Lapse(Pid),
    /// Timed model: a node's cut link to the registry heals.
    Heal(Pid),
    /// The application carries out its oldest command and acknowledges it.
    App(Pid),
    /// A process crashes (fault).
    Crash(Pid),
    /// A crashed process restarts and joins again.
    Restart(Pid),
    /// A node leaves gracefully (fault budget: membership).
    Leave(Pid),
    /// A node that left joins again (fault budget: membership).
    Join(Pid),
    /// The registry expires a lease. `breach` when a node still relies on it and the timing
    /// assumption would forbid it (assumption off only).
    Expire {
        /// The lease.
        lease: LeaseId,
        /// Whether this breaks the timing assumption.
        breach: bool,
    },
    /// Timed model: true time moves on one tick, and the registry expires the leases whose
    /// time has come. Enabled only when nothing is due (see `clock`).
    Tick,
    /// Timed model, timing assumption off: a process hangs (a pause longer than the envelope):
    /// its timers stop firing and its application keeps what it accesses (fault).
    Hang(Pid),
    /// The administrator adds resource `r{i+1}`.
    AddResource(u8),
    /// The administrator removes resource `r{i+1}`.
    RemoveResource(u8),
}

impl Action {
    /// The process this step concerns (the sender of a request the registry handles, the node
    /// a fault strikes); `None` for the registry's own and the administrator's steps.
    pub fn pid(&self) -> Option<Pid> {
        match self {
            Action::Deliver(p, _)
            | Action::Fail(p, ..)
            | Action::TimeOut(p, _)
            | Action::Duplicate(p, _)
            | Action::Reply(p, _)
            | Action::Delay(p, _)
            | Action::Watch(p)
            | Action::BreakWatch(p)
            | Action::Timer(p, _)
            | Action::Lapse(p)
            | Action::Heal(p)
            | Action::App(p)
            | Action::Crash(p)
            | Action::Restart(p)
            | Action::Leave(p)
            | Action::Join(p)
            | Action::Hang(p) => Some(*p),
            Action::Expire { .. }
            | Action::Tick
            | Action::AddResource(_)
            | Action::RemoveResource(_) => None,
        }
    }

    /// Whether the action is a fault or an environment change (consumes a budget). Liveness is
    /// judged on what fault-free steps can reach.
    pub fn is_fault(&self) -> bool {
        match self {
            Action::Fail(..)
            | Action::TimeOut(..)
            | Action::Duplicate(..)
            | Action::Delay(..)
            | Action::BreakWatch(_)
            | Action::Lapse(_)
            | Action::Heal(_)
            | Action::Crash(_)
            | Action::Leave(_)
            | Action::Join(_)
            | Action::Hang(_)
            | Action::AddResource(_)
            | Action::RemoveResource(_) => true,
            Action::Expire { breach, .. } => *breach,
            Action::Deliver(..)
            | Action::Reply(..)
            | Action::Watch(_)
            | Action::Timer(..)
            | Action::App(_)
            | Action::Tick
            | Action::Restart(_) => false,
        }
    }
}
