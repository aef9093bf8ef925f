//! The ordering audit: each nondeterministic choice the model checker makes about the order in
//! which things happen, and how to see in a simulator trace that a run made it.
//!
//! The model explores every interleaving of its actions; the simulator draws one per seed. A
//! defect in how a node orders what it receives is only within the simulator's reach if its
//! runs produce that ordering at all. [`observed`] reads a traced run's spec steps (typed: the
//! spec actions and the group after them) and names every [`Interleaving`] the run contains;
//! the audit's tests hold the simulator to producing each within a fixed set of seeds.

use crate::config::Fault;
use crate::schedule::{Action, Planned};
use crate::spec_step::{Snapshot, SpecAction};
use crate::trace::TraceStep;
use crate::{RunResult, SimConfig};
use protocol::{FailureStep, NodeId, Request};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One ordering the model checker can choose, observable in a simulator trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Interleaving {
    /// The registry handles a node's request while another node's, sent earlier, is still on
    /// its way (model: `Deliver` of any node's request in flight).
    LaterSentFirst,
    /// A reply reaches its node later than any undelayed message could, yet within the
    /// request time-out (timed model: `Delay`).
    ReplyDelayed,
    /// A process pauses for longer than the timing envelope allows (timed model, timing
    /// assumption off: `Hang`).
    PauseBeyondEnvelope,
    /// A writer takes its reply before its watch shows its own write (model: `Reply` before
    /// `Watch`).
    ReplyBeforeOwnWatch,
    /// A writer's watch shows its own write before its reply arrives (model: `Watch` before
    /// `Reply`).
    OwnWatchBeforeReply,
    /// Another node's watch shows a write before its writer has the reply.
    OtherWatchBeforeWriterReply,
    /// A node takes a `Range` snapshot after the registry moved past it: the events it misses
    /// are in flight on its watch (model: `Reply` of a range vs later writes).
    SnapshotBehindWrites,
    /// A node takes a `Range` snapshot older than what its watch has shown it already.
    SnapshotOlderThanWatch,
    /// A request fails at this one of its eight steps (model: `Fail(p, k, step)`). Read from
    /// the run's injections: the spec's trace labels a lost request or reply as the time-out
    /// the client sees.
    Fail(FailureStep),
    /// A request its client gave up on lands later (model: `TimeOut`, then `Deliver`).
    OrphanLandsLate,
    /// An orphan lands while its node awaits a later request (the node's own requests
    /// reordered).
    OrphanBehindLaterRequest,
    /// A duplicated request lands again (model: `Duplicate`).
    DuplicateLandsAgain,
    /// A watch stream breaks (model: `BreakWatch`).
    WatchBreaks,
    /// A keep-alive finds the node's lease gone.
    LeaseGone,
    /// The leader's rebalance hold ends while it awaits a request (model: `Timer(Hold)` at any
    /// moment after it was armed).
    HoldOverWithRequestInFlight,
    /// A back-off ends and the node retries (model: `Timer(Retry)`).
    RetryAfterBackOff,
    /// An application acknowledges a command only after its node took further watch events
    /// (model: `App` late relative to `Watch`).
    AppAckAfterWatchEvents,
    /// A process crashes while it awaits a request (model: `Crash` between send and reply).
    CrashWithRequestInFlight,
    /// A request sent before its process crashed lands after the process restarted.
    RequestLandsAfterRestart,
    /// A process crashes after the registry applied its request, before the reply.
    CrashAfterApplyBeforeReply,
    /// A process crashes with an application command not yet carried out.
    CrashWithAppCommandPending,
    /// A node fences itself when its lease lapses on its own clock (model: `Lapse`).
    Lapse,
    /// The registry expires the lease of a node that fenced itself (model: `Expire` after
    /// `Lapse`).
    ExpireAfterLapse,
    /// The registry expires the lease of a crashed process (model: `Expire` after `Crash`).
    ExpireAfterCrash,
    /// Leadership passes from one node to another.
    LeaderChange,
    /// A member leaves and joins again (model: `Leave`, `Join`).
    LeaveThenJoin,
    /// The administrator changes the resources while the leader awaits a request (model:
    /// `AddResource`/`RemoveResource` between any two steps).
    AdminWhileLeaderBusy,
}

impl Interleaving {
    /// Every row of the audit, in the README's order.
    pub const ALL: [Interleaving; 34] = [
        Interleaving::LaterSentFirst,
        Interleaving::ReplyDelayed,
        Interleaving::PauseBeyondEnvelope,
        Interleaving::ReplyBeforeOwnWatch,
        Interleaving::OwnWatchBeforeReply,
        Interleaving::OtherWatchBeforeWriterReply,
        Interleaving::SnapshotBehindWrites,
        Interleaving::SnapshotOlderThanWatch,
        Interleaving::Fail(FailureStep::PostRequest),
        Interleaving::Fail(FailureStep::DeliverRequest),
        Interleaving::Fail(FailureStep::ValidateRequest),
        Interleaving::Fail(FailureStep::UpdateServerState),
        Interleaving::Fail(FailureStep::PostReply),
        Interleaving::Fail(FailureStep::DeliverReply),
        Interleaving::Fail(FailureStep::ValidateReply),
        Interleaving::Fail(FailureStep::UpdateClientState),
        Interleaving::OrphanLandsLate,
        Interleaving::OrphanBehindLaterRequest,
        Interleaving::DuplicateLandsAgain,
        Interleaving::WatchBreaks,
        Interleaving::LeaseGone,
        Interleaving::HoldOverWithRequestInFlight,
        Interleaving::RetryAfterBackOff,
        Interleaving::AppAckAfterWatchEvents,
        Interleaving::CrashWithRequestInFlight,
        Interleaving::RequestLandsAfterRestart,
        Interleaving::CrashAfterApplyBeforeReply,
        Interleaving::CrashWithAppCommandPending,
        Interleaving::Lapse,
        Interleaving::ExpireAfterLapse,
        Interleaving::ExpireAfterCrash,
        Interleaving::LeaderChange,
        Interleaving::LeaveThenJoin,
        Interleaving::AdminWhileLeaderBusy,
    ];

    /// The row's name, as the README's table names it.
    pub fn name(self) -> &'static str {
        match self {
            Interleaving::LaterSentFirst => "later-sent-first",
            Interleaving::ReplyDelayed => "reply-delayed",
            Interleaving::PauseBeyondEnvelope => "pause-beyond-envelope",
            Interleaving::ReplyBeforeOwnWatch => "reply-before-own-watch",
            Interleaving::OwnWatchBeforeReply => "own-watch-before-reply",
            Interleaving::OtherWatchBeforeWriterReply => "other-watch-before-writer-reply",
            Interleaving::SnapshotBehindWrites => "snapshot-behind-writes",
            Interleaving::SnapshotOlderThanWatch => "snapshot-older-than-watch",
            Interleaving::Fail(step) => match step {
                FailureStep::PostRequest => "fail-at-post-request",
                FailureStep::DeliverRequest => "fail-at-deliver-request",
                FailureStep::ValidateRequest => "fail-at-validate-request",
                FailureStep::UpdateServerState => "fail-at-update-server-state",
                FailureStep::PostReply => "fail-at-post-reply",
                FailureStep::DeliverReply => "fail-at-deliver-reply",
                FailureStep::ValidateReply => "fail-at-validate-reply",
                FailureStep::UpdateClientState => "fail-at-update-client-state",
            },
            Interleaving::OrphanLandsLate => "orphan-lands-late",
            Interleaving::OrphanBehindLaterRequest => "orphan-behind-later-request",
            Interleaving::DuplicateLandsAgain => "duplicate-lands-again",
            Interleaving::WatchBreaks => "watch-breaks",
            Interleaving::LeaseGone => "lease-gone",
            Interleaving::HoldOverWithRequestInFlight => "hold-over-with-request-in-flight",
            Interleaving::RetryAfterBackOff => "retry-after-back-off",
            Interleaving::AppAckAfterWatchEvents => "app-ack-after-watch-events",
            Interleaving::CrashWithRequestInFlight => "crash-with-request-in-flight",
            Interleaving::RequestLandsAfterRestart => "request-lands-after-restart",
            Interleaving::CrashAfterApplyBeforeReply => "crash-after-apply-before-reply",
            Interleaving::CrashWithAppCommandPending => "crash-with-app-command-pending",
            Interleaving::Lapse => "lapse",
            Interleaving::ExpireAfterLapse => "expire-after-lapse",
            Interleaving::ExpireAfterCrash => "expire-after-crash",
            Interleaving::LeaderChange => "leader-change",
            Interleaving::LeaveThenJoin => "leave-then-join",
            Interleaving::AdminWhileLeaderBusy => "admin-while-leader-busy",
        }
    }
}

/// What the audit remembers of one node while it reads a trace.
#[derive(Default)]
struct Seen {
    /// The step at which the request it awaits was sent.
    sent_at: Option<u64>,
    /// The revision of its write the registry applied, whose reply it has not taken yet.
    write_rev: Option<u64>,
    /// The revision of the `Range` the registry served, whose reply it has not taken yet.
    range_rev: Option<u64>,
    /// The revision its watch has shown it.
    watched: u64,
    /// The registry applied its awaited request; the reply has not been taken.
    applied_unreplied: bool,
    /// When the registry applied its awaited request, whose reply it has not taken, ms.
    applied_at_ms: Option<u64>,
    /// It took watch events while an application command was pending.
    watched_while_pending: bool,
    /// It gave up on a request, or one of its requests was duplicated, that has not landed.
    orphans: u32,
    /// Its lease when it lapsed or crashed, not yet expired: `(lease, crashed)`.
    gone: Option<(u64, bool)>,
    /// It left and has not joined again.
    left: bool,
    /// Requests of an earlier incarnation that may still land.
    from_before_crash: u32,
    /// It crashed and restarted since those were sent.
    restarted: bool,
}

/// Every interleaving the run `result` of `config` contains. Only a traced run (with
/// [`crate::RunOptions::trace`]) shows more than its failure steps and breaches.
pub fn observed(config: &SimConfig, result: &RunResult) -> BTreeSet<Interleaving> {
    let mut found: BTreeSet<Interleaving> = FailureStep::ALL
        .into_iter()
        .filter(|s| result.coverage.rpc[*s as usize].iter().any(|n| *n > 0))
        .map(Interleaving::Fail)
        .collect();
    let long_pause = result.injected.iter().any(|i| match &i.fault {
        Fault::Scheduled(Planned {
            action: Action::Pause { length, .. },
            ..
        }) => *length > config.envelope.max_pause,
        _ => false,
    });
    if long_pause {
        found.insert(Interleaving::PauseBeyondEnvelope);
    }
    let undelayed = config.network.max_latency;
    let trace: &[TraceStep] = &result.trace;
    let mut seen: BTreeMap<NodeId, Seen> = BTreeMap::new();
    let mut before: Option<&Snapshot> = None;
    let mut leader: Option<NodeId> = None;
    for step in trace {
        let Some(spec) = &step.spec else { continue };
        let after = &spec.state;
        let Some(prev) = before else {
            before = Some(after);
            continue;
        };
        let rev = after.registry.revision();
        for action in &spec.actions {
            if let SpecAction::Reply { node } = action {
                let at = seen.get(node).and_then(|s| s.applied_at_ms);
                // The request's reply left when the registry applied it.
                if at.is_some_and(|t| step.time_ms > t + undelayed) {
                    found.insert(Interleaving::ReplyDelayed);
                }
            }
            judge(action, prev, after, &mut seen, &mut found);
            if let SpecAction::Deliver { node } = action {
                seen.entry(node.clone()).or_default().applied_at_ms = Some(step.time_ms);
            }
        }
        // Writers whose write another node's watch has shown already.
        for (id, s) in &seen {
            if let Some(w) = s.write_rev {
                if seen.iter().any(|(other, o)| other != id && o.watched >= w) {
                    found.insert(Interleaving::OtherWatchBeforeWriterReply);
                }
            }
            if s.range_rev.is_some_and(|r| rev > r) {
                found.insert(Interleaving::SnapshotBehindWrites);
            }
        }
        // Requests: when each node's awaited request was sent.
        for n in &after.nodes {
            let id = n.process.node.id().clone();
            let was = prev
                .nodes
                .iter()
                .find(|p| p.process.node.id() == &id)
                .and_then(|p| p.request.clone());
            let s = seen.entry(id).or_default();
            match (&was, &n.request) {
                (_, None) => s.sent_at = None,
                (None, Some(_)) => s.sent_at = Some(step.step),
                (Some(a), Some(b)) if a != b => s.sent_at = Some(step.step),
                _ => {}
            }
            if n.process.app.pending.is_empty() {
                s.watched_while_pending = false;
            }
        }
        let now_leader = after
            .nodes
            .iter()
            .find(|n| n.process.up && n.process.node.term().is_some())
            .map(|n| n.process.node.id().clone());
        if let (Some(a), Some(b)) = (&leader, &now_leader) {
            if a != b {
                found.insert(Interleaving::LeaderChange);
            }
        }
        if now_leader.is_some() {
            leader = now_leader;
        }
        before = Some(after);
    }
    found
}

/// One spec action of a step, in the state before the step (`prev`) and after it (`after`).
fn judge(
    action: &SpecAction,
    prev: &Snapshot,
    after: &Snapshot,
    seen: &mut BTreeMap<NodeId, Seen>,
    found: &mut BTreeSet<Interleaving>,
) {
    let node_before = |id: &NodeId| prev.nodes.iter().find(|n| n.process.node.id() == id);
    let awaited = |id: &NodeId| node_before(id).and_then(|n| n.request.clone());
    let rev = after.registry.revision();
    match action {
        SpecAction::Deliver { node } => {
            let mine = seen.get(node).and_then(|s| s.sent_at);
            if let Some(mine) = mine {
                let earlier = seen
                    .iter()
                    .any(|(other, o)| other != node && o.sent_at.is_some_and(|t| t < mine));
                if earlier {
                    found.insert(Interleaving::LaterSentFirst);
                }
            }
            let s = seen.entry(node.clone()).or_default();
            s.applied_unreplied = true;
            match awaited(node) {
                Some(Request::Txn(_)) if rev > prev.registry.revision() => s.write_rev = Some(rev),
                Some(Request::Range) => s.range_rev = Some(rev),
                _ => {}
            }
        }
        SpecAction::Fail { node, step } if step.applied() => {
            seen.entry(node.clone()).or_default().applied_unreplied = true;
        }
        SpecAction::Reply { node } => {
            let s = seen.entry(node.clone()).or_default();
            if let Some(w) = s.write_rev.take() {
                found.insert(if s.watched >= w {
                    Interleaving::OwnWatchBeforeReply
                } else {
                    Interleaving::ReplyBeforeOwnWatch
                });
            }
            if s.range_rev.is_some_and(|r| s.watched > r) {
                found.insert(Interleaving::SnapshotOlderThanWatch);
            }
            s.range_rev = None;
            s.applied_unreplied = false;
            s.applied_at_ms = None;
        }
        SpecAction::WatchTo { node, rev } => {
            let pending = node_before(node).is_some_and(|n| !n.process.app.pending.is_empty());
            let s = seen.entry(node.clone()).or_default();
            s.watched = s.watched.max(*rev);
            if pending {
                s.watched_while_pending = true;
            }
        }
        SpecAction::TimeOut { node } | SpecAction::Duplicate { node } => {
            let s = seen.entry(node.clone()).or_default();
            s.orphans += 1;
            s.write_rev = None;
            s.range_rev = None;
            s.applied_unreplied = false;
        }
        SpecAction::DeliverOrphan { node, kept, .. } => {
            let s = seen.entry(node.clone()).or_default();
            if s.from_before_crash > 0 && s.restarted {
                found.insert(Interleaving::RequestLandsAfterRestart);
            }
            if s.orphans > 0 {
                found.insert(Interleaving::OrphanLandsLate);
                if node_before(node).is_some_and(|n| n.request.is_some()) {
                    found.insert(Interleaving::OrphanBehindLaterRequest);
                }
            }
            if *kept {
                found.insert(Interleaving::DuplicateLandsAgain);
            } else {
                s.orphans = s.orphans.saturating_sub(1);
            }
        }
        SpecAction::BreakWatch { .. } => {
            found.insert(Interleaving::WatchBreaks);
        }
        SpecAction::LeaseGone { .. } => {
            found.insert(Interleaving::LeaseGone);
        }
        SpecAction::HoldOver { node } => {
            if awaited(node).is_some() {
                found.insert(Interleaving::HoldOverWithRequestInFlight);
            }
        }
        SpecAction::Retry { .. } => {
            found.insert(Interleaving::RetryAfterBackOff);
        }
        SpecAction::App { node, .. } => {
            if seen.get(node).is_some_and(|s| s.watched_while_pending) {
                found.insert(Interleaving::AppAckAfterWatchEvents);
            }
        }
        SpecAction::Crash { node } => {
            let before = node_before(node);
            if before.is_some_and(|n| n.request.is_some()) {
                found.insert(Interleaving::CrashWithRequestInFlight);
            }
            if before.is_some_and(|n| !n.process.app.pending.is_empty()) {
                found.insert(Interleaving::CrashWithAppCommandPending);
            }
            let lease = before.and_then(|n| n.process.node.lease());
            let s = seen.entry(node.clone()).or_default();
            if s.applied_unreplied {
                found.insert(Interleaving::CrashAfterApplyBeforeReply);
            }
            let in_flight = u32::from(before.is_some_and(|n| n.request.is_some()));
            *s = Seen {
                gone: lease.map(|l| (l.0, true)),
                orphans: s.orphans + in_flight,
                from_before_crash: s.from_before_crash + in_flight,
                ..Seen::default()
            };
        }
        SpecAction::Lapse { node } => {
            found.insert(Interleaving::Lapse);
            let lease = node_before(node).and_then(|n| n.process.node.lease());
            seen.entry(node.clone()).or_default().gone = lease.map(|l| (l.0, false));
        }
        SpecAction::Expire { lease } => {
            for s in seen.values_mut() {
                if let Some((l, crashed)) = s.gone {
                    if l == *lease {
                        found.insert(if crashed {
                            Interleaving::ExpireAfterCrash
                        } else {
                            Interleaving::ExpireAfterLapse
                        });
                        s.gone = None;
                    }
                }
            }
        }
        SpecAction::Leave { node } => {
            seen.entry(node.clone()).or_default().left = true;
        }
        SpecAction::Join { node } => {
            if seen.get(node).is_some_and(|s| s.left) {
                found.insert(Interleaving::LeaveThenJoin);
            }
            seen.entry(node.clone()).or_default().left = false;
        }
        SpecAction::Admin { .. } => {
            let busy = prev
                .nodes
                .iter()
                .any(|n| n.process.up && n.process.node.term().is_some() && n.request.is_some());
            if busy {
                found.insert(Interleaving::AdminWhileLeaderBusy);
            }
        }
        SpecAction::Restart { node } => {
            seen.entry(node.clone()).or_default().restarted = true;
        }
        SpecAction::Fail { .. } | SpecAction::WatchCompacted { .. } => {}
    }
}
