//! The catalogue of deliberate defects. Off by default; each names the property it breaks, so
//! every checker can prove that it finds real bugs.

use crate::properties::Property;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A deliberate defect, selected at construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Mutant {
    /// M1: removing a resource also deletes its barrier, while its holder still accesses it.
    RemoveResourceClearsBarrier,
    /// M2: a node starts a resource while its barrier request is still in flight.
    StartBeforeBarrier,
    /// M3: a node releases a barrier as soon as it asks the application to stop.
    ReleaseBarrierBeforeStopAck,
    /// M4: the leader writes the assignment without comparing its term.
    UnfencedAssignmentWrite,
    /// M5: a node ignores its self-fencing deadline and a lost lease.
    NoSelfFence,
    /// M6: an UNKNOWN outcome is taken as "not applied": the node never re-reads, so a barrier it
    /// acquired without knowing stays held for ever.
    UnknownAsFailure,
    /// M7: the allocation never takes resources away from a member, so a newcomer gets nothing.
    ImbalancedAllocation,
    /// M8: a barrier release compares only the barrier's owner, not its `create_rev`, so a
    /// release that the network delays or duplicates deletes a barrier the same session
    /// acquired again later.
    OwnerOnlyRelease,
    /// M11: the allocation ignores the previous assignment: balanced, but a rebalance moves
    /// resources that balance did not require to move.
    ForgetfulAllocation,
    /// M9 (timing): the self-fencing deadline counts from the keep-alive's reply, not from its
    /// send, so a reply the network delayed pushes the deadline past the lease's expiry.
    FenceFromReply,
    /// M10 (timing): the leader holds `min_rebalance_interval` only after its own acknowledged
    /// writes; a write it learns of (its predecessor's, or its own answered UNKNOWN) starts no
    /// hold.
    HoldOwnWritesOnly,
    /// M12: the leader rebalances when members change or resources are added, but takes a
    /// removal for no change: the assignment keeps the removed resource for ever, while what
    /// runs stays balanced.
    IgnoreRemovals,
}

impl Mutant {
    /// Every mutant, in catalogue order (M9 and M10, the timing class, after M11 and M12).
    pub const ALL: [Mutant; 12] = [
        Mutant::RemoveResourceClearsBarrier,
        Mutant::StartBeforeBarrier,
        Mutant::ReleaseBarrierBeforeStopAck,
        Mutant::UnfencedAssignmentWrite,
        Mutant::NoSelfFence,
        Mutant::UnknownAsFailure,
        Mutant::ImbalancedAllocation,
        Mutant::OwnerOnlyRelease,
        Mutant::ForgetfulAllocation,
        Mutant::IgnoreRemovals,
        Mutant::FenceFromReply,
        Mutant::HoldOwnWritesOnly,
    ];

    /// The catalogue number, `M1`..`M12`.
    pub fn code(self) -> &'static str {
        match self {
            Mutant::RemoveResourceClearsBarrier => "M1",
            Mutant::StartBeforeBarrier => "M2",
            Mutant::ReleaseBarrierBeforeStopAck => "M3",
            Mutant::UnfencedAssignmentWrite => "M4",
            Mutant::NoSelfFence => "M5",
            Mutant::UnknownAsFailure => "M6",
            Mutant::ImbalancedAllocation => "M7",
            Mutant::OwnerOnlyRelease => "M8",
            Mutant::ForgetfulAllocation => "M11",
            Mutant::FenceFromReply => "M9",
            Mutant::HoldOwnWritesOnly => "M10",
            Mutant::IgnoreRemovals => "M12",
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::RemoveResourceClearsBarrier => "remove-resource-clears-barrier",
            Mutant::StartBeforeBarrier => "start-before-barrier",
            Mutant::ReleaseBarrierBeforeStopAck => "release-barrier-before-stop-ack",
            Mutant::UnfencedAssignmentWrite => "unfenced-assignment-write",
            Mutant::NoSelfFence => "no-self-fence",
            Mutant::UnknownAsFailure => "unknown-as-failure",
            Mutant::ImbalancedAllocation => "imbalanced-allocation",
            Mutant::OwnerOnlyRelease => "owner-only-release",
            Mutant::ForgetfulAllocation => "forgetful-allocation",
            Mutant::FenceFromReply => "fence-from-reply",
            Mutant::HoldOwnWritesOnly => "hold-own-writes-only",
            Mutant::IgnoreRemovals => "ignore-removals",
        }
    }

    /// The property (DESIGN.md section 7) that the defect breaks.
    pub fn breaks(self) -> Property {
        match self {
            Mutant::RemoveResourceClearsBarrier => Property::NoDoubleAccess,
            Mutant::StartBeforeBarrier => Property::AccessHoldsBarrier,
            Mutant::ReleaseBarrierBeforeStopAck => Property::AccessHoldsBarrier,
            Mutant::UnfencedAssignmentWrite => Property::FencedWrites,
            Mutant::NoSelfFence => Property::NoDoubleAccess,
            Mutant::UnknownAsFailure => Property::AllResourcesAccessed,
            Mutant::ImbalancedAllocation => Property::AssignmentWellFormed,
            Mutant::OwnerOnlyRelease => Property::AccessHoldsBarrier,
            Mutant::ForgetfulAllocation => Property::StickyAssignment,
            Mutant::FenceFromReply => Property::AccessHoldsBarrier,
            Mutant::HoldOwnWritesOnly => Property::MinIntervalRespected,
            Mutant::IgnoreRemovals => Property::RebalanceCompletes,
        }
    }

    /// What the defect does, in a sentence.
    pub fn description(self) -> &'static str {
        match self {
            Mutant::RemoveResourceClearsBarrier => {
                "removing a resource also deletes its barrier while the holder still accesses it"
            }
            Mutant::StartBeforeBarrier => {
                "a node starts a resource before its barrier request has succeeded"
            }
            Mutant::ReleaseBarrierBeforeStopAck => {
                "a node releases a barrier before the application acknowledged the stop"
            }
            Mutant::UnfencedAssignmentWrite => {
                "the leader writes the assignment without comparing its term"
            }
            Mutant::NoSelfFence => "a node ignores its self-fencing deadline and a lost lease",
            Mutant::UnknownAsFailure => {
                "an UNKNOWN outcome is taken as not applied; the node never re-reads"
            }
            Mutant::ImbalancedAllocation => {
                "the allocation never moves resources, so a newcomer stays empty"
            }
            Mutant::OwnerOnlyRelease => {
                "a barrier release compares only the owner, so a late copy deletes a later barrier"
            }
            Mutant::ForgetfulAllocation => {
                "the allocation ignores the previous assignment, so a rebalance moves resources \
                 balance did not require"
            }
            Mutant::FenceFromReply => {
                "the self-fencing deadline counts from the keep-alive's reply, not its send"
            }
            Mutant::HoldOwnWritesOnly => {
                "the leader holds the rebalance interval only after its own acknowledged writes"
            }
            Mutant::IgnoreRemovals => {
                "the leader takes a resource's removal for no change, so the assignment keeps it"
            }
        }
    }
}

/// One of the testbed's three checkers, for the catalogue's marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Checker {
    /// The stateright model checker (its untimed and timed models together).
    Model,
    /// The deterministic simulator.
    Simulator,
    /// TLC on the TLA+ spec (with trace validation against it).
    Tlc,
}

impl Checker {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Checker::Model => "model",
            Checker::Simulator => "sim",
            Checker::Tlc => "tlc",
        }
    }
}

impl Mutant {
    /// Whether the defect is in a rule about *when* something may happen (the timing class).
    pub fn is_timing(self) -> bool {
        matches!(self, Mutant::FenceFromReply | Mutant::HoldOwnWritesOnly)
    }

    /// The checker whose abstraction cannot express the defect, and why, if there is one. A
    /// checker that misses a mutant fails the cross-check unless this marks it; no mutant is
    /// outside more than one checker.
    pub fn outside(self) -> Option<(Checker, &'static str)> {
        match self {
            Mutant::FenceFromReply => Some((
                Checker::Tlc,
                "the TLA+ spec has no clocks: a lapse is a budgeted step that may come at any \
                 moment, so when the self-fencing deadline starts has no counterpart in it, nor \
                 in the traces it validates, which carry no time; the timed model and the \
                 simulator judge it",
            )),
            Mutant::HoldOwnWritesOnly => Some((
                Checker::Tlc,
                "the TLA+ spec has no clocks: its hold ends at any moment (HoldOver), so writes \
                 too close together break none of its invariants; trace validation does reject \
                 its traces (the hold is logged state), and the timed model and the simulator \
                 judge the interval",
            )),
            _ => None,
        }
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mutant {
    type Err = String;

    /// Accepts the name (`no-self-fence`) or the code (`M5`, `m5`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mutant::ALL
            .into_iter()
            .find(|m| m.name() == s || m.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<String> = Mutant::ALL
                    .iter()
                    .map(|m| format!("{} ({})", m.name(), m.code()))
                    .collect();
                format!(
                    "unknown mutant '{s}'; expected one of: {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_timing_class_is_outside_a_checker_and_each_mark_gives_its_reason() {
        for m in Mutant::ALL {
            match m.outside() {
                Some((checker, why)) => {
                    assert!(m.is_timing(), "{m}");
                    assert_eq!(checker, Checker::Tlc, "{m}");
                    assert!(why.contains("no clocks"), "{m}: {why}");
                }
                None => assert!(!m.is_timing(), "{m} has no mark"),
            }
            assert_eq!(m.code().parse::<Mutant>(), Ok(m));
            assert_eq!(m.name().parse::<Mutant>(), Ok(m));
        }
        let codes: Vec<&str> = Mutant::ALL.iter().map(|m| m.code()).collect();
        for n in 1..=11 {
            assert!(codes.contains(&format!("M{n}").as_str()), "M{n} missing");
        }
    }
}
