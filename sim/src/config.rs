//! What one simulated run contains: the group, the faults, the timing envelope, the network.

use crate::fault::{FaultKind, FaultPlan};
use crate::schedule::{Action, Planned};
use protocol::registry::{Key, Op as TxnOp};
use protocol::{Mutant, NodeConfig, NodeId, Property, Request, ResourceId};
use serde::{Deserialize, Serialize};

/// The timing assumptions of DESIGN.md §6, as the simulator enforces them.
///
/// The node's stop budget is the time from its self-fencing deadline until its application has
/// surely stopped. A pause that spans the deadline delays the fence by up to its length, so the
/// budget has to cover one pause plus one stop: within the envelope, a pause lasts at most
/// `max_pause` and a stop at most `stop_budget − max_pause`. Drift stays within the node
/// configuration's `max_drift_permille`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The longest process pause, in ms.
    pub max_pause: u64,
}

impl Envelope {
    /// The longest the application may take to stop a resource, in ms.
    pub fn max_stop(&self, timing: &NodeConfig) -> u64 {
        timing.stop_budget.saturating_sub(self.max_pause).max(1)
    }
}

/// Message latencies and the client's request timeout, in ms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// The shortest one-way latency.
    pub min_latency: u64,
    /// The longest one-way latency of an undelayed message.
    pub max_latency: u64,
    /// The longest extra delay of a delayed message.
    pub max_delay: u64,
    /// The client gives a request up as UNKNOWN after this long without a reply.
    pub request_timeout: u64,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            min_latency: 1,
            max_latency: 10,
            max_delay: 2_000,
            request_timeout: 1_000,
        }
    }
}

/// A fault of the schedule that shrinking removed: the `ordinal`-th occurrence of a kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skip {
    /// The kind's name.
    pub kind: crate::fault::FaultKind,
    /// Which occurrence, from 0.
    pub ordinal: u32,
}

/// What a request does, as per-message faults name a node's requests: its operation, and for a
/// transaction whether it puts or deletes (its first operation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// `Grant`.
    Grant,
    /// `KeepAlive`.
    KeepAlive,
    /// `Revoke`.
    Revoke,
    /// `Range`.
    Range,
    /// `Watch`.
    Watch,
    /// A transaction that puts a key (a barrier acquired, an assignment or a leader written...).
    Put,
    /// A transaction that deletes a key (a barrier released).
    Delete,
    /// Any other transaction.
    Txn,
}

impl Op {
    /// What `request` does, and the key it is about (a transaction's first key).
    pub fn of(request: &Request) -> (Op, Option<Key>) {
        match request {
            Request::Grant { .. } => (Op::Grant, None),
            Request::KeepAlive { .. } => (Op::KeepAlive, None),
            Request::Revoke { .. } => (Op::Revoke, None),
            Request::Range => (Op::Range, None),
            Request::Watch { .. } => (Op::Watch, None),
            Request::Txn(t) => match t.then.first() {
                Some(TxnOp::Put { key, .. }) => (Op::Put, Some(key.clone())),
                Some(TxnOp::Delete { key }) => (Op::Delete, Some(key.clone())),
                Some(TxnOp::Get { key }) => (Op::Txn, Some(key.clone())),
                None => (Op::Txn, None),
            },
        }
    }

    /// Its name (`keep-alive`, `delete`...).
    pub fn name(self) -> &'static str {
        match self {
            Op::Grant => "grant",
            Op::KeepAlive => "keep-alive",
            Op::Revoke => "revoke",
            Op::Range => "range",
            Op::Watch => "watch",
            Op::Put => "put",
            Op::Delete => "delete",
            Op::Txn => "txn",
        }
    }
}

/// One fault a run injected, explicitly: what a shrunk configuration's `script` lists.
///
/// A per-message fault names its request by what it does, counted over the whole run: node `n1`'s
/// `n`-th delete of `barriers/r6`, its `n`-th keep-alive (from 0), so that it stays on the same
/// request when faults elsewhere, other traffic or the schedule's timing change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "kebab-case")]
pub enum Fault {
    /// A scheduled fault, with its time and action written out.
    Scheduled(Planned),
    /// A fault of one request: one of the eight steps fails, the request or its reply is
    /// delayed, or the network duplicates it. (A run records each message that overtook an
    /// earlier one as a `reorder` of it too, but a script does not list them: `reorder` is a
    /// switch, and with it on, messages overtake each other as they come.)
    Message {
        /// `post-request`..`update-client-state`, `delay` or `duplicate` (`reorder` in a run's
        /// record only).
        kind: FaultKind,
        /// The node.
        node: usize,
        /// What the request does.
        op: Op,
        /// The key it is about (a transaction's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<Key>,
        /// Which of the node's requests doing that, from 0.
        n: u32,
        /// `delay` (and `reorder`): the reply, not the request.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reply: bool,
        /// `delay`: the extra ms; `duplicate`: ms until the copy arrives.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<u64>,
    },
    /// A node's clock drifts (parts per million).
    Drift {
        /// The node.
        node: usize,
        /// Fast (> 0) or slow.
        ppm: i64,
    },
    /// An application takes longer to stop than the envelope allows (with
    /// `breach_assumptions`).
    SlowStop {
        /// The node.
        node: usize,
        /// Which of the node's stop commands, from 0.
        n: u32,
        /// How long it takes, ms.
        ms: u64,
    },
}

impl Fault {
    /// Its kind (a slow stop counts as `pause`, the fault that brings it).
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Scheduled(p) => p.kind,
            Fault::Message { kind, .. } => *kind,
            Fault::Drift { .. } => FaultKind::ClockDrift,
            Fault::SlowStop { .. } => FaultKind::Pause,
        }
    }

    /// Readably.
    pub fn describe(&self) -> String {
        match self {
            Fault::Scheduled(p) => format!("{:.3}s {}: {}", p.at as f64 / 1000.0, p.kind, p.action),
            Fault::Message {
                kind,
                node,
                op,
                key,
                n,
                reply,
                ms,
            } => {
                let what = format!(
                    "{}'s {}{} #{n}{}",
                    SimConfig::node_id(*node),
                    op.name(),
                    key.as_ref().map_or(String::new(), |k| format!(" {k}")),
                    if *reply { " (its reply)" } else { "" }
                );
                match (kind, ms) {
                    (FaultKind::Duplicate, Some(ms)) => {
                        format!("duplicate {what}, the copy arriving {ms} ms later")
                    }
                    (_, Some(ms)) => format!("{kind} {what} by {ms} ms"),
                    (_, None) => format!("{kind} {what}"),
                }
            }
            Fault::Drift { node, ppm } => format!(
                "clock-drift {} {:+.2}%",
                SimConfig::node_id(*node),
                *ppm as f64 / 10_000.0
            ),
            Fault::SlowStop { node, n, ms } => format!(
                "slow-stop {}'s stop #{n} takes {ms} ms",
                SimConfig::node_id(*node)
            ),
        }
    }
}

/// One run's configuration. With the seed, it determines the run bit for bit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Nodes in the group.
    pub nodes: usize,
    /// Resources at the start.
    pub resources: usize,
    /// Length of the fault phase, in simulated ms.
    pub duration: u64,
    /// Faults and rates (ignored when `swarm` is set: the seed draws them).
    pub faults: FaultPlan,
    /// Swarm testing: each seed draws its own fault mix and rates.
    pub swarm: bool,
    /// A deliberate defect.
    pub mutant: Option<Mutant>,
    /// Also inject faults outside the timing envelope (long pauses, fast or slow clocks,
    /// slow stops); violations after one are labelled `assumption-breached`.
    pub breach_assumptions: bool,
    /// After the fault phase, heal everything and require convergence within the bound.
    pub liveness: bool,
    /// The nodes' timing.
    pub timing: NodeConfig,
    /// The timing envelope.
    pub envelope: Envelope,
    /// The network.
    pub network: Network,
    /// Scheduled faults removed by shrinking.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<Skip>,
    /// A shrunk run's faults, explicitly. When set, the run injects exactly these (each while
    /// its kind is on and before the fault phase ends) and no other: the schedule is not drawn,
    /// and every per-message draw is still made, its outcome replaced by the script's, so that
    /// the rest of the run keeps its random choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<Vec<Fault>>,
    /// End the run right after the event that first violates this property (a shrunk run
    /// carries nothing after its failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_at: Option<String>,
    /// Take the run's random choices (latencies, clock offsets, how long applications take)
    /// from the run of this configuration under the same seed, each by what it is for — a
    /// request's latency by the request, as the script names requests — so that a change
    /// elsewhere leaves the rest of the run as it was; choices that run never made are drawn.
    /// A shrunk run has the run it was shrunk from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draws_from: Option<Box<SimConfig>>,
}

/// The most nodes and resources a run may have (bounded everything).
pub const MAX_NODES: usize = 32;
/// See [`MAX_NODES`].
pub const MAX_RESOURCES: usize = 256;
/// Resources the administrator may add beyond the initial ones.
pub const SPARE_RESOURCES: usize = 2;

impl Default for SimConfig {
    /// The default scenario: 3 nodes, 6 resources, 120 simulated seconds of every fault at its
    /// default rate, then healing and the liveness check.
    fn default() -> Self {
        SimConfig {
            nodes: 3,
            resources: 6,
            duration: 120_000,
            faults: FaultPlan::all(),
            swarm: false,
            mutant: None,
            breach_assumptions: false,
            liveness: true,
            timing: NodeConfig::default(),
            envelope: Envelope { max_pause: 200 },
            network: Network::default(),
            skip: Vec::new(),
            script: None,
            stop_at: None,
            draws_from: None,
        }
    }
}

impl SimConfig {
    /// Why this configuration cannot run, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 || self.nodes > MAX_NODES {
            return Err(format!("nodes {}: must be 1..={MAX_NODES}", self.nodes));
        }
        if self.resources > MAX_RESOURCES {
            return Err(format!(
                "resources {}: must be 0..={MAX_RESOURCES}",
                self.resources
            ));
        }
        if self.duration == 0 || self.duration > 24 * 3_600_000 {
            return Err(format!(
                "duration {} ms: must be between 1 ms and 24 h",
                self.duration
            ));
        }
        self.timing.validate()?;
        if self.envelope.max_pause >= self.timing.stop_budget {
            return Err(format!(
                "max pause {} ms must be shorter than the stop budget {} ms",
                self.envelope.max_pause, self.timing.stop_budget
            ));
        }
        let n = &self.network;
        if n.min_latency == 0 || n.min_latency > n.max_latency || n.request_timeout == 0 {
            return Err(format!("network latencies {n:?} are inconsistent"));
        }
        if let Some(p) = &self.stop_at {
            if Property::from_name(p).is_none() && p != "event_budget" {
                return Err(format!("stop_at '{p}': no such property"));
            }
        }
        if let Some(base) = &self.draws_from {
            if base.draws_from.is_some() {
                return Err("draws_from: its configuration has a draws_from of its own".into());
            }
            base.validate()
                .map_err(|why| format!("draws_from: {why}"))?;
        }
        for f in self.script.iter().flatten() {
            self.check_fault(f)
                .map_err(|why| format!("script fault {}: {why}", f.describe()))?;
        }
        Ok(())
    }

    fn check_fault(&self, f: &Fault) -> Result<(), String> {
        let node_ok = |i: usize| {
            (i < self.nodes)
                .then_some(())
                .ok_or_else(|| format!("node index {i} with {} node(s)", self.nodes))
        };
        match f {
            Fault::Scheduled(p) => {
                if !p.kind.scheduled() {
                    return Err(format!("{} is not a scheduled fault", p.kind));
                }
                match &p.action {
                    Action::Cut { nodes, .. } => {
                        if nodes.is_empty() {
                            return Err("a cut of no node".into());
                        }
                        nodes.iter().try_for_each(|i| node_ok(*i))
                    }
                    Action::Flap { node, period, .. } => {
                        if *period == 0 {
                            return Err("a flapping period of 0 ms".into());
                        }
                        node_ok(*node)
                    }
                    Action::Crash { node, .. }
                    | Action::Pause { node, .. }
                    | Action::WatchBreak { node }
                    | Action::Membership { node } => node_ok(*node),
                    Action::Admin { resource, .. } => (*resource < self.universe())
                        .then_some(())
                        .ok_or_else(|| format!("resource index {resource} beyond the universe")),
                    Action::RegistryRestart { .. } | Action::Compaction { .. } => Ok(()),
                }
            }
            Fault::Message { kind, node, .. } => {
                if kind.scheduled() || kind.unit() == crate::fault::RateUnit::Switch {
                    return Err(format!("{kind} is not a fault of one message"));
                }
                node_ok(*node)
            }
            Fault::Drift { node, .. } | Fault::SlowStop { node, .. } => node_ok(*node),
        }
    }

    /// Node `i`'s name (`n1`, ...).
    pub fn node_id(i: usize) -> NodeId {
        NodeId::numbered(i)
    }

    /// Resource `i`'s name (`r1`, ...). Indexes from `resources` on are the spares an
    /// administrator may add.
    pub fn resource_id(i: usize) -> ResourceId {
        ResourceId::new(format!("r{}", i + 1))
    }

    /// Every resource an admin change may touch.
    pub fn universe(&self) -> usize {
        self.resources + SPARE_RESOURCES
    }

    /// How long after healing every resource must be accessed and every node must have applied
    /// the latest assignment, in ms:
    /// - a message of the fault phase may still be on its way: `max_delay + request_timeout`;
    /// - leases of dead sessions run out: `ttl`;
    /// - the leader waits out its minimum interval, up to twice (members die, then rejoin):
    ///   `2 × min_rebalance_interval`, plus one more if leadership changes hands;
    /// - a node stops what moved away, then the new owner starts it: `2 × stop_budget`;
    /// - each node's requests, one at a time: join (grant, register, read, watch, elect),
    ///   assign, and per resource an acquire and a release, each a round trip or a retry
    ///   back-off, whichever is longer.
    pub fn liveness_bound(&self) -> u64 {
        let t = &self.timing;
        let n = &self.network;
        let round = (2 * n.max_latency).max(t.retry) + n.max_latency;
        let requests = 6 + 2 * self.universe() as u64;
        n.max_delay
            + n.request_timeout
            + t.ttl
            + 3 * t.min_rebalance_interval
            + 2 * t.stop_budget
            + requests * round
    }
}
