//! What the model checks: group size, fault budgets, switches.

use protocol::{Mutant, NodeConfig, NodeId, ResourceId};
use serde::{Deserialize, Serialize};

/// The bounded configuration of one model.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Nodes in the group (all start by joining).
    pub nodes: usize,
    /// Resources present at the start. One more can be added by an admin change.
    pub resources: usize,
    /// Process crashes (each followed by a restart at some later point).
    pub crashes: u8,
    /// Request/reply failures, at any of the eight steps.
    pub rpc_faults: u8,
    /// Keep-alive lapses (a node's self-fencing deadline passes); with the timing assumption off
    /// also leases that expire under a node that still relies on them.
    pub expiries: u8,
    /// Resources added or removed by the administrator.
    pub admin_changes: u8,
    /// Watch streams that break.
    pub watch_breaks: u8,
    /// Nodes leaving and joining again.
    pub membership_changes: u8,
    /// Requests that time out while still on their way (they may land later).
    pub late: u8,
    /// Requests the network delivers twice.
    pub duplicates: u8,
    /// Timed model: replies the network delays, up to the runtime's request time-out.
    #[serde(default)]
    pub delays: u8,
    /// Symmetry reduction over node names.
    pub symmetry: bool,
    /// The timing assumption of DESIGN.md §6: clocks drift at most ρ, pauses stay within the
    /// self-fencing margin, the application stops within its budget. Off, a lease may expire
    /// under a node that still relies on it.
    pub timing_assumption: bool,
    /// A deliberate defect.
    pub mutant: Option<Mutant>,
    /// Where exploration starts.
    pub start: Start,
    /// The timed model (see [`crate::clock`]): clocks as bounded counters that ticks advance,
    /// timers firing at their armed time, drift within ρ, and `min_interval_respected` judged.
    /// Safety only: liveness is judged by the untimed model.
    #[serde(default)]
    pub timed: bool,
}

/// Where exploration starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Start {
    /// A settled group: every node joined, a leader elected, the assignment applied (reached by
    /// running the protocol fault-free from `Joining`). Faults strike from there.
    Settled,
    /// Every node has just been asked to join: bootstrapping is explored too (larger).
    Joining,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            nodes: 2,
            resources: 2,
            crashes: 1,
            rpc_faults: 1,
            expiries: 0,
            admin_changes: 0,
            watch_breaks: 0,
            membership_changes: 0,
            late: 0,
            duplicates: 0,
            delays: 0,
            symmetry: true,
            timing_assumption: true,
            mutant: None,
            start: Start::Settled,
            timed: false,
        }
    }
}

/// Largest group the model accepts: the state space grows steeply beyond it.
pub const MAX_NODES: usize = 5;
/// Largest resource count the model accepts.
pub const MAX_RESOURCES: usize = 8;

impl ModelConfig {
    /// Why this configuration cannot be checked, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 || self.nodes > MAX_NODES {
            return Err(format!(
                "--nodes {}: must be between 1 and {MAX_NODES}",
                self.nodes
            ));
        }
        if self.resources > MAX_RESOURCES {
            return Err(format!(
                "--resources {}: must be at most {MAX_RESOURCES}",
                self.resources
            ));
        }
        if self.delays > 0 && !self.timed {
            return Err(format!(
                "--delays {}: delayed replies need time; add --timed",
                self.delays
            ));
        }
        Ok(())
    }

    /// The protocol's timing configuration inside the model: in ticks in the timed model;
    /// the default one in the untimed model, where time itself is abstract.
    pub fn node_config(&self) -> NodeConfig {
        if self.timed {
            crate::clock::node_config()
        } else {
            NodeConfig::default()
        }
    }

    /// The same configuration without a mutant.
    pub fn clean(&self) -> ModelConfig {
        ModelConfig {
            mutant: None,
            ..self.clone()
        }
    }

    /// Node `i`'s name (`n1`, `n2`, ...).
    pub fn node_id(i: usize) -> NodeId {
        NodeId::numbered(i)
    }

    /// Resource `i`'s name (`r1`, ...). Index `resources` is the spare an admin may add.
    pub fn resource_id(i: usize) -> ResourceId {
        ResourceId::new(format!("r{}", i + 1))
    }

    /// Every resource an admin change may touch: the initial ones and one spare.
    pub fn universe(&self) -> usize {
        self.resources + usize::from(self.admin_changes > 0)
    }
}
