//! For each mutant, the smallest configuration in which the model checker shows its defect.
//! The CLI's `mutants` command prints these; the tests run them.

use crate::config::{ModelConfig, Start};
use protocol::Mutant;

fn quiet(nodes: usize, resources: usize, start: Start) -> ModelConfig {
    ModelConfig {
        nodes,
        resources,
        crashes: 0,
        rpc_faults: 0,
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
        start,
        timed: false,
    }
}

/// The configuration that shows `mutant` (with the mutant selected).
pub fn config_for(mutant: Mutant) -> ModelConfig {
    let mut c = match mutant {
        // Removing r3 moves r2 from n1 to n2; r2 is removed while n1 still holds it, re-added,
        // and n2 (still assigned it) takes the barrier the removal deleted.
        Mutant::RemoveResourceClearsBarrier => ModelConfig {
            admin_changes: 3,
            ..quiet(2, 3, Start::Settled)
        },
        Mutant::StartBeforeBarrier => quiet(1, 1, Start::Joining),
        // Removing the resource makes its holder stop it.
        Mutant::ReleaseBarrierBeforeStopAck => ModelConfig {
            admin_changes: 1,
            ..quiet(1, 1, Start::Settled)
        },
        // A leader's write still on the wire when its lease lapses and expires.
        Mutant::UnfencedAssignmentWrite => ModelConfig {
            admin_changes: 1,
            expiries: 1,
            ..quiet(1, 1, Start::Settled)
        },
        Mutant::NoSelfFence => ModelConfig {
            expiries: 1,
            ..quiet(2, 1, Start::Settled)
        },
        // An applied acquire answered UNKNOWN.
        Mutant::UnknownAsFailure => ModelConfig {
            rpc_faults: 1,
            ..quiet(1, 1, Start::Joining)
        },
        // The second node registers after the first assignment.
        Mutant::ImbalancedAllocation => quiet(2, 2, Start::Joining),
        // The resource is removed and its release times out (still on its way); the node
        // releases again; the resource comes back and the node takes its barrier anew; the first
        // release lands and, comparing only the owner, deletes the new barrier.
        Mutant::OwnerOnlyRelease => ModelConfig {
            admin_changes: 2,
            late: 1,
            ..quiet(1, 1, Start::Settled)
        },
        // Removing n1's resource: from scratch, the senior n1 takes n2's, which did not have
        // to move.
        Mutant::ForgetfulAllocation => ModelConfig {
            admin_changes: 1,
            ..quiet(2, 2, Start::Settled)
        },
        // One node's resource removed: the assignment keeps it, the node runs the other.
        Mutant::IgnoreRemovals => ModelConfig {
            admin_changes: 1,
            ..quiet(1, 2, Start::Settled)
        },
        // A keep-alive's reply delayed, then the link cut: the deadline counted from the
        // late reply passes only after the lease expired.
        Mutant::FenceFromReply => ModelConfig {
            delays: 1,
            expiries: 1,
            timed: true,
            ..quiet(1, 1, Start::Settled)
        },
        // A write answered UNKNOWN, learned of on the re-read, and a second admin change
        // written at once.
        Mutant::HoldOwnWritesOnly => ModelConfig {
            rpc_faults: 1,
            admin_changes: 2,
            timed: true,
            ..quiet(1, 1, Start::Settled)
        },
    };
    c.mutant = Some(mutant);
    c
}

/// The configuration that shows, in the timed model, why the timing assumption is needed
/// (with it off): a process hangs past its deadline and another takes its resource over.
pub fn timed_breach_config() -> ModelConfig {
    ModelConfig {
        expiries: 1,
        timing_assumption: false,
        timed: true,
        ..quiet(2, 1, Start::Settled)
    }
}

/// The configuration that shows why the timing assumption is needed (with it off).
pub fn timing_breach_config() -> ModelConfig {
    ModelConfig {
        expiries: 1,
        timing_assumption: false,
        ..quiet(2, 1, Start::Settled)
    }
}
