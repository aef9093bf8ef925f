//! A node's timing configuration, the self-fencing arithmetic that rests on it, and every other
//! duration derived from the ttl (link timeouts, the shutdown budget), so that the runtimes and
//! tools that embed the core derive them in one place.

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
    /// The longest lease ttl, in milliseconds: a day. A node asks for no longer lease, and the
    /// embedded registry grants none: a lease of a day already keeps a crashed node's resources
    /// stranded for that long, and a bound keeps the fencing arithmetic far from overflow.
    pub const MAX_TTL: u64 = 86_400_000;

    /// How long a request may go unanswered before the runtime gives it up as `Unknown`: one
    /// keep-alive interval. A keep-alive lost in the network is then retried while the lease
    /// still lives (validation keeps the self-fencing margin longer than that interval), rather
    /// than waiting on a reply that will not come until the node must fence.
    pub fn request_timeout(&self) -> u64 {
        self.keepalive_interval()
    }

    /// How long a connection attempt may take before the request fails (nothing was sent): a
    /// sixth of the ttl, so that a failed attempt leaves room for another within one keep-alive
    /// interval, and at most 500 ms, because a registry that does not accept within that on a
    /// working network is better tried again than waited for.
    pub fn connect_timeout(&self) -> u64 {
        (self.ttl / 6).min(500)
    }

    /// How long leaving the group gracefully may take, which a process waits before it gives
    /// up on its node: the application stops its resources within the stop budget, and if the
    /// registry cannot be reached to revoke the lease, the node has fenced itself within a ttl
    /// of its last keep-alive; 5 s more cover the revoke's round trip and a slow machine.
    pub fn shutdown_budget(&self) -> u64 {
        self.ttl + self.stop_budget + 5_000
    }

    /// A stop budget that suits `ttl` when the application's own is not known (the demo's
    /// nodes): a quarter of the ttl, at least 100 ms. It leaves a self-fencing margin of about
    /// three quarters of the ttl at the default drift, well above the keep-alive interval.
    pub fn stop_budget_for(ttl: u64) -> u64 {
        (ttl / 4).max(100)
    }

    /// How often to renew the lease.
    pub fn keepalive_interval(&self) -> u64 {
        self.ttl / 3
    }

    /// The shortest local time that a true duration of `d` ms can measure under the max drift
    /// ρ: `d·(1−ρ)`, as `d` less its drift allowance `⌊d·ρ⌋`. It bounds, for instance, how long
    /// a lease of `ttl` on the registry's clock lasts on a node's, and how far apart in true time
    /// two events are that a node's clock timed `d` apart.
    pub fn drift_floor(&self, d: u64) -> u64 {
        d - d * self.max_drift_permille / 1000
    }

    /// Time from the (local) send of an acknowledged keep-alive until the node must have fenced
    /// itself: the lease lives at least `ttl` on the registry clock from that send, which is at
    /// least `ttl·(1−ρ)` locally, and the application needs `stop_budget` of that to stop.
    pub fn fence_margin(&self) -> u64 {
        self.drift_floor(self.ttl).saturating_sub(self.stop_budget)
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
        if self.ttl > Self::MAX_TTL {
            return Err(format!(
                "ttl {} ms is longer than the longest lease, {} ms (a day)",
                self.ttl,
                Self::MAX_TTL
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_ttl(ttl: u64) -> NodeConfig {
        NodeConfig {
            ttl,
            ..NodeConfig::default()
        }
    }

    #[test]
    fn a_ttl_up_to_a_day_is_valid_and_one_beyond_is_not() {
        assert_eq!(with_ttl(NodeConfig::MAX_TTL).validate(), Ok(()));
        let e = with_ttl(NodeConfig::MAX_TTL + 1).validate().unwrap_err();
        assert!(e.contains("86400001") && e.contains("a day"), "{e}");
        assert!(with_ttl(u64::MAX).validate().is_err());
        assert!(with_ttl(0).validate().is_err());
    }

    #[test]
    fn the_drift_floor_takes_the_drift_allowance_off() {
        let c = NodeConfig {
            max_drift_permille: 10,
            ..NodeConfig::default()
        };
        assert_eq!(c.drift_floor(3_000), 2_970);
        assert_eq!(c.drift_floor(1_050), 1_040, "the allowance rounds down");
        assert_eq!(c.drift_floor(0), 0);
        let exact = NodeConfig {
            max_drift_permille: 0,
            ..NodeConfig::default()
        };
        assert_eq!(exact.drift_floor(1_234), 1_234);
        assert_eq!(c.fence_margin(), 2_970 - c.stop_budget);
    }

    #[test]
    fn link_timeouts_follow_the_ttl() {
        let c = with_ttl(3_000);
        assert_eq!(c.request_timeout(), 1_000);
        assert_eq!(c.request_timeout(), c.keepalive_interval());
        assert_eq!(c.connect_timeout(), 500);
        assert_eq!(with_ttl(1_200).connect_timeout(), 200);
        assert_eq!(with_ttl(60_000).connect_timeout(), 500, "capped");
    }

    #[test]
    fn the_shutdown_budget_covers_a_stop_and_a_lease() {
        let c = NodeConfig {
            ttl: 2_000,
            stop_budget: 300,
            ..NodeConfig::default()
        };
        assert_eq!(c.shutdown_budget(), 7_300);
    }

    #[test]
    fn the_suggested_stop_budget_keeps_a_valid_config() {
        assert_eq!(NodeConfig::stop_budget_for(2_000), 500);
        assert_eq!(NodeConfig::stop_budget_for(200), 100);
        for ttl in [300, 1_500, 2_000, 3_000, 60_000, NodeConfig::MAX_TTL] {
            let c = NodeConfig {
                ttl,
                stop_budget: NodeConfig::stop_budget_for(ttl),
                ..NodeConfig::default()
            };
            assert_eq!(c.validate(), Ok(()), "ttl {ttl}");
        }
    }
}
