//! # Rebalanser's stateright model
//!
//! N processes (a protocol node and its application), the registry, the messages in flight, and
//! faults as budgeted nondeterministic choices. It drives the `protocol` crate and re-implements
//! none of its rules.

pub mod action;
pub mod check;
pub mod clock;
pub mod config;
pub mod liveness;
pub mod mutants;
pub mod portfolio;
pub mod properties;
pub mod state;
pub mod symmetry;
pub mod system;
pub mod trace;

pub use action::{Action, Pid};
pub use config::{ModelConfig, Start};
pub use state::State;
pub use system::RebalanceModel;
