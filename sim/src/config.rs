//! What one simulated run contains: the group, the faults, the timing envelope, the network.

use crate::fault::FaultPlan;
use protocol::{Mutant, NodeConfig, NodeId, ResourceId};
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
        Ok(())
    }

    /// Node `i`'s name (`n1`, ...).
    pub fn node_id(i: usize) -> NodeId {
        NodeId::new(format!("n{}", i + 1))
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
