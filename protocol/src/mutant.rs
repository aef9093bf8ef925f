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
}

impl Mutant {
    /// Every mutant, M1 first. (M9 and M10 are kept for the timing class.)
    pub const ALL: [Mutant; 9] = [
        Mutant::RemoveResourceClearsBarrier,
        Mutant::StartBeforeBarrier,
        Mutant::ReleaseBarrierBeforeStopAck,
        Mutant::UnfencedAssignmentWrite,
        Mutant::NoSelfFence,
        Mutant::UnknownAsFailure,
        Mutant::ImbalancedAllocation,
        Mutant::OwnerOnlyRelease,
        Mutant::ForgetfulAllocation,
    ];

    /// The catalogue number, `M1`..`M8`, `M11`.
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
