//! The environment faults of one run, drawn before it starts.
//!
//! Each scheduled fault kind draws its occurrences from its own stream of the run's ChaCha
//! generator, so that dropping one kind, one occurrence, or the tail of the run (shrinking)
//! leaves every other occurrence where it was.

use crate::config::SimConfig;
use crate::fault::{FaultKind, FaultPlan};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The generator stream of a fault kind's schedule (stream 0 drives the run itself).
pub fn stream_of(kind: FaultKind) -> u64 {
    1 + kind.index() as u64
}

/// What a scheduled fault does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Cut these nodes' links to the registry for `length` ms, in the given directions.
    Cut {
        /// Node indexes.
        nodes: Vec<usize>,
        /// Requests are lost.
        to_registry: bool,
        /// Replies and watch events are lost.
        from_registry: bool,
        /// How long.
        length: u64,
    },
    /// Flap one node's link (down, up, down...) every `period` ms for `length` ms.
    Flap {
        /// The node.
        node: usize,
        /// How long.
        length: u64,
        /// Between flips.
        period: u64,
    },
    /// Kill a node process; it restarts after `down` ms.
    Crash {
        /// The node.
        node: usize,
        /// Time until restart.
        down: u64,
    },
    /// Freeze a node process for `length` ms.
    Pause {
        /// The node.
        node: usize,
        /// How long.
        length: u64,
    },
    /// Restart the registry; it is unreachable for `down` ms.
    RegistryRestart {
        /// Time unreachable.
        down: u64,
    },
    /// Break one node's watch stream.
    WatchBreak {
        /// The node.
        node: usize,
    },
    /// Compact history, keeping the last `keep` revisions.
    Compaction {
        /// Revisions kept.
        keep: u64,
    },
    /// Add the resource if absent, else remove it; with `undo_after`, toggle it back that many
    /// ms later (an administrator who undoes a change: the same node may then take back the
    /// very resource it just released, under the same session).
    Admin {
        /// Index in the resource universe.
        resource: usize,
        /// Toggle back this many ms later.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        undo_after: Option<u64>,
    },
    /// A member leaves gracefully; a node that left joins again.
    Membership {
        /// The node.
        node: usize,
    },
}

/// One scheduled fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    /// When, in simulated ms.
    pub at: u64,
    /// Its kind.
    pub kind: FaultKind,
    /// Which occurrence of its kind, from 0 (what shrinking removes by).
    pub ordinal: u32,
    /// What it does.
    pub action: Action,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |i: &usize| SimConfig::node_id(*i);
        match self {
            Action::Cut {
                nodes,
                to_registry,
                from_registry,
                length,
            } => {
                let names: Vec<String> = nodes.iter().map(|i| n(i).to_string()).collect();
                let dir = match (to_registry, from_registry) {
                    (true, true) => "both ways",
                    (true, false) => "requests only",
                    _ => "replies only",
                };
                write!(
                    f,
                    "cut {} from the registry ({dir}) for {length} ms",
                    names.join("+")
                )
            }
            Action::Flap {
                node,
                length,
                period,
            } => write!(
                f,
                "flap {}'s link every {period} ms for {length} ms",
                n(node)
            ),
            Action::Crash { node, down } => write!(f, "crash {} for {down} ms", n(node)),
            Action::Pause { node, length } => write!(f, "pause {} for {length} ms", n(node)),
            Action::RegistryRestart { down } => {
                write!(f, "restart the registry ({down} ms unreachable)")
            }
            Action::WatchBreak { node } => write!(f, "break {}'s watch", n(node)),
            Action::Compaction { keep } => write!(f, "compact history, keeping {keep} revisions"),
            Action::Admin {
                resource,
                undo_after,
            } => {
                write!(f, "admin toggles {}", SimConfig::resource_id(*resource))?;
                match undo_after {
                    Some(ms) => write!(f, ", and back {ms} ms later"),
                    None => Ok(()),
                }
            }
            Action::Membership { node } => write!(f, "{} leaves or rejoins", n(node)),
        }
    }
}

/// Draw the schedule of `plan`'s scheduled faults for a run of `config` under `seed`, in time
/// order, without the occurrences `config.skip` removed.
pub fn draw(config: &SimConfig, plan: &FaultPlan, seed: u64) -> Vec<Planned> {
    let mut all = Vec::new();
    for (&kind, &rate) in &plan.rates {
        if !kind.scheduled() || rate <= 0.0 {
            continue;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream_of(kind));
        // Gaps uniform on [1, 2·mean]: the right rate, integer arithmetic only, so that every
        // platform draws the same schedule.
        let mean = (60_000.0 / rate).max(1.0) as u64;
        let mut at = 0u64;
        for ordinal in 0u32.. {
            at += rng.random_range(1..=2 * mean);
            if at >= config.duration {
                break;
            }
            let action = draw_action(kind, config, &mut rng);
            let skipped = config
                .skip
                .iter()
                .any(|s| s.kind == kind && s.ordinal == ordinal);
            if !skipped {
                all.push(Planned {
                    at,
                    kind,
                    ordinal,
                    action,
                });
            }
        }
    }
    all.sort_by_key(|p| (p.at, p.kind, p.ordinal));
    all
}

fn draw_action(kind: FaultKind, c: &SimConfig, rng: &mut ChaCha8Rng) -> Action {
    let node = rng.random_range(0..c.nodes);
    let length = rng.random_range(200..=10_000);
    match kind {
        FaultKind::Partition => {
            let mut nodes: Vec<usize> = (0..c.nodes).filter(|_| rng.random_bool(0.5)).collect();
            if nodes.is_empty() {
                nodes.push(node);
            }
            Action::Cut {
                nodes,
                to_registry: true,
                from_registry: true,
                length,
            }
        }
        FaultKind::OneWay => {
            let to = rng.random_bool(0.5);
            Action::Cut {
                nodes: vec![node],
                to_registry: to,
                from_registry: !to,
                length,
            }
        }
        FaultKind::Isolate => Action::Cut {
            nodes: vec![node],
            to_registry: true,
            from_registry: true,
            length,
        },
        FaultKind::Flapping => Action::Flap {
            node,
            length,
            period: rng.random_range(50..=500),
        },
        FaultKind::Crash => Action::Crash {
            node,
            down: rng.random_range(100..=10_000),
        },
        FaultKind::Pause => {
            let max = c.envelope.max_pause;
            let length = if c.breach_assumptions && rng.random_bool(0.5) {
                // Outside the envelope: long enough for the lease to run out under it.
                rng.random_range(c.timing.ttl..=4 * c.timing.ttl)
            } else {
                rng.random_range(1..=max)
            };
            Action::Pause { node, length }
        }
        FaultKind::RegistryRestart => Action::RegistryRestart {
            down: rng.random_range(50..=2_000),
        },
        FaultKind::WatchBreak => Action::WatchBreak { node },
        FaultKind::Compaction => Action::Compaction {
            keep: rng.random_range(0..=5),
        },
        FaultKind::AdminChurn => Action::Admin {
            resource: rng.random_range(0..c.universe()),
            undo_after: rng.random_bool(0.5).then(|| rng.random_range(100..=3_000)),
        },
        FaultKind::Membership => Action::Membership { node },
        other => unreachable!("{other} is not a scheduled fault"),
    }
}
