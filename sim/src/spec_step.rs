//! What a traced run records for the TLA+ trace validation: with each event, the spec actions
//! it amounts to and a snapshot of the state after them, as typed data. The simulator knows
//! which spec action an event is (it knows each request's fate); how its state reads in the
//! spec's variables is the `rebalanser-tla` crate's mapping (`tla::spec`), written once there.

use protocol::{FailureStep, NodeId, Process, Registry, Request, ResourceId};
use serde::{Deserialize, Serialize};

/// What one event amounts to in the spec.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SpecStep {
    /// The spec actions, in order.
    pub actions: Vec<SpecAction>,
    /// The state after them.
    pub state: Snapshot,
}

/// One action of the spec (`tla/spec/Rebalanser.tla`), named as the spec names it, with the
/// arguments the trace gives it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "action")]
pub enum SpecAction {
    /// An awaited request reached the registry and its reply will get through.
    Deliver { node: NodeId },
    /// An awaited watch request met a compacted revision.
    WatchCompacted { node: NodeId },
    /// An awaited request fails at `step` (applied first if the step says so).
    Fail { node: NodeId, step: FailureStep },
    /// The network made a second copy of the awaited request.
    Duplicate { node: NodeId },
    /// A request its client gave up on (or a copy) lands; `kept` if a copy stays on the wire.
    DeliverOrphan {
        node: NodeId,
        request: Request,
        kept: bool,
    },
    /// The client gave up on its awaited request.
    TimeOut { node: NodeId },
    /// The node takes the outcome of its awaited request.
    Reply { node: NodeId },
    /// A keep-alive found the node's lease gone.
    LeaseGone { node: NodeId },
    /// The node applies the watch events up to revision `rev`.
    WatchTo { node: NodeId, rev: u64 },
    /// The node notices its watch stream broke.
    BreakWatch { node: NodeId },
    /// The node's lease lapsed on its own clock: it fences itself.
    Lapse { node: NodeId },
    /// The leader's rebalance hold is over.
    HoldOver { node: NodeId },
    /// A back-off is over: the node retries.
    Retry { node: NodeId },
    /// The node's application acknowledges a start or stop of `resource`.
    App { node: NodeId, resource: ResourceId },
    /// The node's process crashes.
    Crash { node: NodeId },
    /// A crashed process starts again.
    Restart { node: NodeId },
    /// A node that left joins again.
    Join { node: NodeId },
    /// A member leaves.
    Leave { node: NodeId },
    /// The registry expires `lease`.
    Expire { lease: u64 },
    /// The administrator adds or removes `resource`.
    Admin { resource: ResourceId },
}

/// The group after an event: the registry (without its watch history), every node with the
/// request it awaits, and the resources the spec's functions range over.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    /// The registry's keys, leases and revision.
    pub registry: Registry,
    /// Every node, in order.
    pub nodes: Vec<SnapshotNode>,
    /// Every resource that may exist (the initial ones and the administrator's spares).
    pub resources: Vec<ResourceId>,
}

/// One node in a [`Snapshot`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SnapshotNode {
    /// The node's core, whether its process is up, and its application.
    pub process: Process,
    /// The request it awaits, if any.
    pub request: Option<Request>,
}

impl Snapshot {
    /// The nodes' ids, in order.
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .map(|n| n.process.node.id().clone())
            .collect()
    }
}
