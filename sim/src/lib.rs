//! # Rebalanser's deterministic fault simulator
//!
//! Seeded discrete-event runs of a whole group (nodes, their applications, the network and the
//! registry) through every fault of DESIGN.md §5, driving the very same `protocol` code as the
//! model checker and the production runtime. Every property of DESIGN.md §7 is checked after
//! every event; after the fault phase everything heals and the group must converge within a
//! stated bound.
//!
//! Every choice comes from `rand_chacha` seeded by the run's seed (stream 0 for the run, one
//! stream per scheduled fault kind, one for swarm), so a seed and a configuration replay bit for
//! bit; each run's trace hash proves it.
//!
//! ```
//! use sim::{run, RunOptions, SimConfig};
//!
//! let config = SimConfig { duration: 10_000, ..SimConfig::default() };
//! let a = run(&config, 7, RunOptions::default());
//! let b = run(&config, 7, RunOptions::default());
//! assert_eq!(a.hash, b.hash);
//! assert!(a.violations.is_empty());
//! ```

pub mod config;
pub mod coverage;
pub mod fault;
pub mod orderings;
pub mod replay;
pub mod run;
pub mod schedule;
pub mod shrink;
pub mod spec_step;
pub mod swarm;
pub mod sweep;
pub mod trace;

pub use config::SimConfig;
pub use fault::{FaultKind, FaultPlan};
pub use run::{run, RunOptions, RunResult, Violation};
pub use spec_step::{Snapshot, SnapshotNode, SpecAction, SpecStep};
