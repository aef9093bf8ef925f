//! Time in the timed model: true time (the registry's clock) and each machine's clock as bounded
//! discrete counters, advanced by explicit ticks.
//!
//! One tick is the smallest timing parameter (the retry back-off). The node configuration is
//! the default one's shape in ticks, with the drift bound coarse enough that a tick of drift
//! shows within one lease: ρ = 1/[`DRIFT_PERIOD`]. Each machine's clock runs at a fixed rate
//! chosen at the start, slow (it loses a tick every period), exact or fast (it gains one), as
//! the simulator's clocks do: the extremes are where the timing rules are tested, a slow clock
//! for the self-fencing deadline, a fast one for the rebalance hold. The rates, the periods and
//! the lengths below are multiples of each other, so that the discrete clocks stay within the
//! drift bound the protocol's arithmetic assumes over every interval it measures.
//!
//! The timing assumption is a constraint on these counters, not a budgeted lapse: a timer fires
//! when its clock reaches the armed time, before time moves on; a message on the wire arrives
//! within [`LATENCY`] ticks (unless a fault loses or delays it); the application carries out a
//! command before [`NodeConfig::stop_budget`] ticks have passed (a pause of the process is
//! within that budget, as in the simulator's envelope). Time advances only when nothing is due.

use protocol::NodeConfig;

/// Ticks per drift period: a drifting clock gains or loses one tick in this many (ρ = 1/4).
pub const DRIFT_PERIOD: u64 = 4;

/// The longest a fault-free message spends on the wire, in ticks: it arrives before time moves
/// on (a tick is the retry back-off, 200 ms at the defaults, far above a round trip on a
/// working network). A slower reply is a budgeted fault (`Delay`), up to the runtime's request
/// time-out; a request that lands later still is the `late` fault.
pub const LATENCY: u64 = 0;

/// The drift classes a machine's clock may have: slow, exact, fast.
pub const DRIFTS: [i8; 3] = [-1, 0, 1];

/// The protocol's timing in ticks: a ttl of 8 (a keep-alive interval of 2, a self-fencing
/// margin of 4 after a slow clock's allowance of 2 and the stop budget of 2), a rebalance
/// interval of 4, a retry of 1, drift 1/4.
pub fn node_config() -> NodeConfig {
    let config = NodeConfig {
        ttl: 8,
        max_drift_permille: 1000 / DRIFT_PERIOD,
        stop_budget: 2,
        min_rebalance_interval: 4,
        retry: 1,
    };
    debug_assert_eq!(config.validate(), Ok(()));
    config
}

/// The reading of a clock of class `drift` at true time `now` (both shifted to the same origin,
/// a whole number of periods back).
pub fn local(now: u64, drift: i8) -> u64 {
    let periods = now / DRIFT_PERIOD;
    match drift {
        d if d < 0 => now - periods,
        0 => now,
        _ => now + periods,
    }
}

/// How far a clock of class `drift` moves in `periods` whole drift periods.
pub fn local_span(periods: u64, drift: i8) -> u64 {
    local(periods * DRIFT_PERIOD, drift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timed_configuration_is_valid_and_leaves_the_margins_it_is_built_on() {
        let c = node_config();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.keepalive_interval(), 2);
        assert_eq!(
            c.drift_floor(c.ttl),
            6,
            "a slow clock loses 2 ticks of an 8-tick lease"
        );
        assert_eq!(c.fence_margin(), 4);
        assert_eq!(c.drift_floor(c.min_rebalance_interval), 3);
        // A fault-free keep-alive is answered before the next is due, well inside the margin.
        assert!(c.keepalive_interval() + 2 * LATENCY < c.fence_margin());
    }

    /// Over every window of `d` true ticks, a drifting clock moves within the bound the
    /// protocol assumes wherever it measures: a slow clock at least `drift_floor(d)` for the
    /// lengths the fencing rule relies on (a ttl), a fast one at most `d` plus its allowance.
    #[test]
    fn drifting_clocks_stay_within_the_bound_over_a_lease() {
        let c = node_config();
        for start in 0..3 * DRIFT_PERIOD {
            let slow = local(start + c.ttl, -1) - local(start, -1);
            assert_eq!(slow, c.drift_floor(c.ttl), "from {start}");
            // The fast clock reaches the interval no sooner than its drift floor in true time.
            let fast = (1..=c.min_rebalance_interval)
                .find(|d| local(start + d, 1) - local(start, 1) >= c.min_rebalance_interval)
                .expect("a fast clock reaches the interval");
            assert!(
                fast >= c.drift_floor(c.min_rebalance_interval),
                "from {start}"
            );
        }
        assert_eq!(local_span(3, 1), 15);
        assert_eq!(local_span(3, -1), 9);
    }
}
