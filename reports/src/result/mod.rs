//! The typed result of every command, as its `--json` writes it and `report --from` reads it
//! back. The model checker's result is its library's own ([`check::CheckReport`]).

mod checked;
pub mod cross_check;
pub mod mutants;
pub mod sim;

/// The model checker's result.
pub mod check {
    pub use model::check::{CheckReport, SCHEMA_VERSION};
}

pub use checked::{Checked, Kind};

/// TLC's result.
pub mod tla {
    pub use tla::{TlaReport, SCHEMA_VERSION};
}
