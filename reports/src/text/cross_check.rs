//! The cross-check's kill matrix as a terminal shows it.

use super::number::thousands;
use crate::result::cross_check::{Cell, CrossCheckReport, ReplayCell, SimCell, Verdict};
use crate::run::subject::SEEDS;
use std::fmt::Write as _;

/// The checkers, as table headings and in sentences.
const CHECKERS: [&str; 3] = ["TLC", "model checker", "simulator"];
const CHECKERS_IN_SENTENCES: [&str; 3] = ["TLC", "the model checker", "the simulator"];
/// The replay column's heading.
const REPLAY: &str = "TLC -> core replay";

/// A verdict as the table shows it: the ones parity does not want in capitals.
fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "holds",
        Verdict::Violated => "VIOLATED",
        Verdict::Killed => "killed",
        Verdict::Survived => "SURVIVED",
        Verdict::Inconclusive => "INCONCLUSIVE",
        Verdict::Outside => "outside",
    }
}

/// A cell of TLC or the model checker; `unit` names what its length counts.
pub fn describe(c: &Cell, unit: &str) -> String {
    if c.verdict == Verdict::Outside {
        // The reason is long; the table notes it below.
        return "outside its abstraction (see below)".to_string();
    }
    let states = thousands(c.distinct_states.unwrap_or(0));
    match (&c.property, c.length) {
        (Some(p), length) => format!(
            "{} ({p}, {} {unit}, {:.1} s)",
            verdict_word(c.verdict),
            length.map_or("?".to_string(), thousands),
            c.seconds
        ),
        (None, _) => format!(
            "{} ({states} states, {:.1} s{})",
            verdict_word(c.verdict),
            c.seconds,
            c.unexplored
                .as_deref()
                .map_or(String::new(), |u| format!("; {u}"))
        ),
    }
}

/// The simulator's cell.
pub fn describe_sim(s: &SimCell) -> String {
    let c = &s.cell;
    match (&c.property, s.seed) {
        (Some(p), Some(seed)) => format!(
            "{} ({p}, {} events, seed {seed}, {:.1} s)",
            verdict_word(c.verdict),
            c.length.map_or("?".to_string(), thousands),
            c.seconds
        ),
        _ => format!(
            "{} ({} seeds, {} events, {:.1} s)",
            verdict_word(c.verdict),
            thousands(s.seeds_run),
            thousands(s.events),
            c.seconds
        ),
    }
}

/// The replay cell.
pub fn describe_replay(c: Option<&ReplayCell>) -> String {
    match c {
        None => "-".to_string(),
        Some(c) if c.reproduced => format!(
            "reproduced ({}, {} -> {} core steps, {:.1} s)",
            c.property.as_deref().unwrap_or("?"),
            c.tlc_states,
            c.core_steps,
            c.seconds
        ),
        Some(c) => format!("NOT REPRODUCED ({})", c.why_not.as_deref().unwrap_or("?")),
    }
}

/// The kill matrix and the verdict.
pub fn render(r: &CrossCheckReport) -> String {
    let mut table: Vec<[String; 5]> = vec![[
        "subject".to_string(),
        CHECKERS[0].to_string(),
        CHECKERS[1].to_string(),
        CHECKERS[2].to_string(),
        REPLAY.to_string(),
    ]];
    for row in &r.rows {
        table.push([
            row.subject.clone(),
            describe(&row.cells.tlc, "states"),
            describe(&row.cells.model, "steps"),
            describe_sim(&row.cells.sim),
            describe_replay(row.cells.replay.as_ref()),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|k| {
            table
                .iter()
                .map(|t| t[k].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nmutant parity (counterexample length: TLC in states, the model checker in steps, the \
         simulator in events of the lowest failing seed of {}..{}; the replay of TLC's \
         counterexample through the Rust core in TLC states -> core steps):\n",
        SEEDS.start, SEEDS.end
    );
    for t in &table {
        let line: Vec<String> = t
            .iter()
            .zip(&widths)
            .map(|(text, &w)| format!("{text:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    for row in &r.rows {
        let cells = [&row.cells.tlc, &row.cells.model, &row.cells.sim.cell];
        for (checker, c) in CHECKERS_IN_SENTENCES.iter().zip(cells) {
            if c.verdict == Verdict::Outside {
                let _ = writeln!(
                    out,
                    "\n{} is outside {checker}'s abstraction, as the catalogue marks it: {}",
                    row.subject,
                    c.unexplored.as_deref().unwrap_or("no reason given")
                );
            }
        }
    }
    let mut disagreements = Vec::new();
    for row in &r.rows {
        let cells = [&row.cells.tlc, &row.cells.model, &row.cells.sim.cell];
        for (checker, c) in CHECKERS_IN_SENTENCES.iter().zip(cells) {
            if !c.verdict.agrees() {
                disagreements.push(format!(
                    "{} {} under the {checker}{}",
                    row.subject,
                    verdict_word(c.verdict),
                    c.unexplored
                        .as_deref()
                        .map_or(String::new(), |u| format!(" ({u})"))
                ));
            }
        }
        if row.cells.replay.as_ref().is_some_and(|c| !c.reproduced) {
            disagreements.push(format!(
                "{}'s TLC counterexample does not replay through the core",
                row.subject
            ));
        }
    }
    let _ = writeln!(out, "\n{:.0} s in all", r.seconds);
    if disagreements.is_empty() {
        let _ = writeln!(
            out,
            "verdict: parity: the clean protocol holds under all three checkers, each kills \
             every mutant, and every mutant's TLC counterexample replays through the core"
        );
    } else {
        let _ = writeln!(out, "verdict: NO PARITY: {}", disagreements.join("; "));
    }
    out
}
