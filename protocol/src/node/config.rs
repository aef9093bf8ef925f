//! A node's timing configuration, and the self-fencing arithmetic that rests on it.

use crate::ids::Time;
use serde::{Deserialize, Serialize};

/// Timing of one node. All durations in milliseconds of the node's local clock.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeConfig {
    /// Lease time to live, on the registry's clock.
    pub ttl: u64,
    /// The largest clock drift between a node and the registry, in parts per thousand.
    pub max_drift_permille: u64,
    /// How long the application may take to stop a resource.
    pub stop_budget: u64,
    /// The leader writes assignments at least this far apart.
    pub min_rebalance_interval: u64,
    /// Back-off before retrying a request that failed (POST_FAILED, RETRYABLE, FATAL).
    pub retry: u64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            ttl: 3_000,
            max_drift_permille: 10,
            stop_budget: 500,
            min_rebalance_interval: 1_000,
            retry: 200,
        }
    }
}

impl NodeConfig {
    /// How often to renew the lease.
    pub fn keepalive_interval(&self) -> u64 {
        self.ttl / 3
    }

    /// Time from the (local) send of an acknowledged keep-alive until the node must have fenced
    /// itself: the lease lives at least `ttl` on the registry clock from that send, which is at
    /// least `ttl·(1−ρ)` locally, and the application needs `stop_budget` of that to stop.
    pub fn fence_margin(&self) -> u64 {
        let ttl_local = self.ttl - self.ttl * self.max_drift_permille / 1000;
        ttl_local.saturating_sub(self.stop_budget)
    }

    /// The self-fencing deadline for a keep-alive (or grant) sent at `sent_at`.
    pub fn fence_deadline(&self, sent_at: Time) -> Time {
        sent_at.plus(self.fence_margin())
    }

    /// Why this configuration cannot be safe, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.ttl == 0 {
            return Err("ttl must be positive".into());
        }
        if self.max_drift_permille >= 1000 {
            return Err(format!(
                "max drift {}‰ must be below 1000‰",
                self.max_drift_permille
            ));
        }
        if self.fence_margin() <= self.keepalive_interval() {
            return Err(format!(
                "ttl {} ms leaves a self-fencing margin of {} ms, no longer than the keep-alive \
                 interval of {} ms: raise the ttl or lower the stop budget ({} ms)",
                self.ttl,
                self.fence_margin(),
                self.keepalive_interval(),
                self.stop_budget
            ));
        }
        Ok(())
    }
}
