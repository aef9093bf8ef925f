//! The result of `rebalanser tla --cross-check`: the clean protocol and every catalogued mutant
//! under each checker, and each mutant's TLC counterexample replayed through the core.

use protocol::Mutant;
use serde::{Deserialize, Serialize};

/// The JSON layout of the cross-check's result.
pub const SCHEMA_VERSION: u32 = 1;

/// What one checker says about one subject.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The clean protocol passed.
    Holds,
    /// The clean protocol failed.
    Violated,
    /// A mutant was caught.
    Killed,
    /// A mutant went unnoticed.
    Survived,
    /// The clean subject passed but the run did not explore what it must: not exhaustive (a
    /// bound or time-out stopped it) or a `sometimes` property not reached, so its pass
    /// proves less than it claims.
    Inconclusive,
    /// The catalogue marks the mutant as outside this checker's abstraction (with a reason):
    /// the checker is not run on it.
    Outside,
}

impl Verdict {
    pub fn of(subject: Option<Mutant>, violated: bool) -> Verdict {
        match (subject, violated) {
            (None, false) => Verdict::Holds,
            (None, true) => Verdict::Violated,
            (Some(_), true) => Verdict::Killed,
            (Some(_), false) => Verdict::Survived,
        }
    }

    /// Whether this is what parity asks for.
    pub fn agrees(self) -> bool {
        matches!(self, Verdict::Holds | Verdict::Killed | Verdict::Outside)
    }
}

/// One checker's result on one subject.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Cell {
    pub verdict: Verdict,
    /// The violated property the checker names first.
    pub property: Option<String>,
    /// The counterexample's length in the checker's own unit: states (TLC), steps (model
    /// checker), events up to the violation (simulator).
    pub length: Option<u64>,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct_states: Option<u64>,
    /// What the run did not explore, when the verdict is [`Verdict::Inconclusive`]; why the
    /// checker cannot see the mutant, when it is [`Verdict::Outside`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexplored: Option<String>,
}

/// The simulator's cell: a sweep over seeds rather than a state space.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct SimCell {
    #[serde(flatten)]
    pub cell: Cell,
    /// The lowest failing seed.
    pub seed: Option<u64>,
    /// Seeds run: all of them, or those up to the lowest failing one.
    pub seeds_run: u64,
    /// Events over the seeds run.
    pub events: u64,
}

/// A mutant's TLC counterexample replayed through the Rust core.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ReplayCell {
    /// The core reached the violation TLC reports.
    pub reproduced: bool,
    /// The property.
    pub property: Option<String>,
    /// States in TLC's counterexample (a run of the stepwise-watch spec, `Hold = TRUE`).
    pub tlc_states: usize,
    /// Model steps that replayed them.
    pub core_steps: usize,
    /// TLC and the replay.
    pub seconds: f64,
    /// Why not, if not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Cells {
    pub tlc: Cell,
    pub model: Cell,
    pub sim: SimCell,
    /// Mutants only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayCell>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Row {
    /// `clean` or the mutant's code.
    pub subject: String,
    /// The mutant's name.
    pub name: String,
    pub cells: Cells,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct CrossCheckReport {
    pub schema_version: u32,
    pub command: String,
    pub rows: Vec<Row>,
    /// The clean protocol holds under every checker, every checker kills every mutant, and
    /// every mutant's TLC counterexample replays through the core.
    pub all_agree: bool,
    pub seconds: f64,
}
