//! Any checker's result, typed by the command that wrote it.

use crate::result::cross_check::CrossCheckReport;
use crate::result::sim::SimReport;
use model::check::CheckReport;
use serde::Serialize;
use tla::TlaReport;

/// Which command wrote a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `rebalanser check --json`.
    Check,
    /// `rebalanser sim --json`.
    Sim,
    /// `rebalanser tla --json`.
    Tla,
    /// `rebalanser tla --cross-check --json`: the mutant kill matrix.
    CrossCheck,
}

impl Kind {
    /// The checker's name in the report.
    pub fn checker(self) -> &'static str {
        match self {
            Kind::Check => "model",
            Kind::Sim => "sim",
            Kind::Tla | Kind::CrossCheck => "tlc",
        }
    }
}

/// A result, typed by the command that wrote it.
#[derive(Clone, Debug)]
pub enum Checked {
    /// `rebalanser check --json`.
    Check(Box<CheckReport>),
    /// `rebalanser sim --json`.
    Sim(Box<SimReport>),
    /// `rebalanser tla --json`.
    Tla(Box<TlaReport>),
    /// `rebalanser tla --cross-check --json`.
    CrossCheck(Box<CrossCheckReport>),
}

impl Checked {
    /// Which command wrote it.
    pub fn kind(&self) -> Kind {
        match self {
            Checked::Check(_) => Kind::Check,
            Checked::Sim(_) => Kind::Sim,
            Checked::Tla(_) => Kind::Tla,
            Checked::CrossCheck(_) => Kind::CrossCheck,
        }
    }
}

impl Checked {
    /// Whether it reports a violation (for the cross-check: a disagreement).
    pub fn violated(&self) -> bool {
        match self {
            Checked::Check(r) => r.violated(),
            Checked::Sim(r) => r.violated(),
            Checked::Tla(r) => r.violated_property().is_some(),
            Checked::CrossCheck(r) => !r.all_agree,
        }
    }
}

impl Serialize for Checked {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // As the command's own `--json` writes it.
        match self {
            Checked::Check(r) => r.serialize(s),
            Checked::Sim(r) => r.serialize(s),
            Checked::Tla(r) => r.serialize(s),
            Checked::CrossCheck(r) => r.serialize(s),
        }
    }
}
