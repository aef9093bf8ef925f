//! # TLC on Rebalanser's TLA+ spec
//!
//! The spec and its TLC configurations live in this crate's `spec/` folder (TLC's jar, fetched
//! by `setup.sh`, in `.tools/`). This crate runs TLC on them and reads what it says
//! ([`tlc`]), validates simulator traces against the spec ([`trace`]), replays TLC's
//! counterexamples through the Rust core ([`replay`], reading TLC's values with [`value`]),
//! and is the `rebalanser tla` command ([`command`]). Every result that goes to JSON
//! deserializes back, typed.
//!
//! The core's state reads in the spec's variables through one mapping, [`spec`], for both
//! the traces and the replay.
//!
//! It may depend on `protocol`, `model` (the replay drives the model) and `sim` (whose traced
//! runs record their spec actions and snapshots as data, `sim::SpecStep`); never on the CLI,
//! which only parses arguments and calls [`command`].

pub mod command;
pub mod replay;
pub mod spec;
pub mod tlc;
pub mod trace;
pub mod value;

pub use command::TlaRequest;
pub use replay::Replayed;
pub use tlc::{
    configs, run_tlc, set_constant, set_mutant, spec_dir, tla_dir, tools_ready, TlaReport,
    TlaState, TlcJob, SCHEMA_VERSION, SPEC,
};
pub use trace::ValidationReport;
