//! The mutant catalogue as `rebalanser mutants` prints and writes it.

use crate::text::check::check_command;
use protocol::Mutant;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// One entry of the mutant catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutantEntry {
    /// `M1`..
    pub code: String,
    /// Its name (`--mutant NAME`).
    pub name: String,
    /// The property it breaks.
    pub breaks: String,
    /// What the defect does.
    pub description: String,
    /// The smallest `check` command found that shows it.
    pub command: String,
    /// The checker whose abstraction cannot express it, and why (see `Mutant::outside`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside: Option<Outside>,
}

/// A catalogue mark: the mutant is outside one checker's abstraction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outside {
    /// `model`, `sim` or `tlc`.
    pub checker: String,
    /// Why that checker cannot see it.
    pub reason: String,
}

/// The catalogue, with the command that shows each mutant.
pub fn mutant_catalogue() -> Vec<MutantEntry> {
    Mutant::ALL
        .into_iter()
        .map(|m| MutantEntry {
            code: m.code().to_string(),
            name: m.name().to_string(),
            breaks: m.breaks().name().to_string(),
            description: m.description().to_string(),
            command: check_command(&model::mutants::config_for(m)),
            outside: m.outside().map(|(checker, reason)| Outside {
                checker: checker.name().to_string(),
                reason: reason.to_string(),
            }),
        })
        .collect()
}

/// The catalogue as a table.
pub fn render_mutants(entries: &[MutantEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        let _ = writeln!(
            out,
            "{} {}\n   breaks: {}\n   what:   {}\n   shown by: {}",
            e.code, e.name, e.breaks, e.description, e.command
        );
        if let Some(o) = &e.outside {
            let _ = writeln!(out, "   outside {}: {}", o.checker, o.reason);
        }
        out.push('\n');
    }
    out
}
