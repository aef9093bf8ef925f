//! `rebalanser tla --cross-check`: mutant parity. The clean protocol and every mutant go
//! through all three checkers (TLC on the TLA+ spec, the stateright model checker, the
//! simulator), each by its plain command ([`super::subject`]); parity means the clean protocol
//! holds under each and each kills every mutant. The model checker's clean cell is the whole
//! portfolio, and holds only if it ran complete ([`model::check::CheckReport::complete`]). Each mutant's TLC counterexample is also
//! replayed through the Rust core (`tla::replay`), which must reach the same violation.

use super::check::{check, CheckRequest};
use super::subject::{self, code, SEEDS};
use super::Outcome;
use crate::result::cross_check::{
    Cell, Cells, CrossCheckReport, ReplayCell, Row, SimCell, Verdict, SCHEMA_VERSION,
};
use crate::result::sim::SimReport;
use crate::text::cross_check::{describe, describe_replay, describe_sim, render};
use model::check::{CheckOptions, CheckReport, Status};
use model::portfolio::Entry;
use protocol::Mutant;
use std::path::Path;
use std::time::Instant;
use tla::{TlaReport, TlcJob};

fn subject_name(subject: Option<Mutant>) -> &'static str {
    subject.map_or("clean protocol", Mutant::name)
}

/// Run the cross-check with `workers` TLC workers, model-checker and simulator threads;
/// progress on stderr. `Err` if TLC cannot run or a configuration is missing.
pub fn cross_check(workers: u16) -> Result<Outcome<CrossCheckReport>, String> {
    let dir = tla::spec_dir()?;
    tla::tools_ready()?;
    let subjects: Vec<Option<Mutant>> = std::iter::once(None)
        .chain(Mutant::ALL.into_iter().map(Some))
        .collect();
    // Every TLC job is prepared first, so that a missing configuration fails before minutes of
    // checking rather than after.
    let need = |e: String| format!("the cross-check needs {e}");
    let tlc_jobs = subjects
        .iter()
        .map(|&s| subject::tlc_jobs(&dir, s, workers).map_err(need))
        .collect::<Result<Vec<_>, String>>()?;
    let replay_jobs = Mutant::ALL
        .into_iter()
        .filter(|m| !subject::outside_tlc(*m))
        .map(|m| {
            let name = format!("mutant-{}", m.code());
            let path = dir.join(format!("{name}.cfg"));
            let cfg = std::fs::read_to_string(&path)
                .map_err(|e| need(format!("{}: {e}", path.display())))?;
            tla::replay::job(
                &dir,
                &name,
                &tla::set_mutant(&cfg, m.code()),
                Some(m),
                workers,
            )
            .map_err(|e| format!("the replay of {name}: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let threads = usize::from(workers);
    eprintln!(
        "cross-check: the clean protocol and {} mutants through TLC, the model checker and the \
         simulator (seeds {}..{}), and each mutant's TLC counterexample replayed through the \
         Rust core; about two and a half minutes",
        Mutant::ALL.len(),
        SEEDS.start,
        SEEDS.end
    );
    let started = Instant::now();
    let total = subjects.len() * 3 + replay_jobs.len();
    let replay_mutants: Vec<Mutant> = Mutant::ALL
        .into_iter()
        .filter(|m| !subject::outside_tlc(*m))
        .collect();
    let mut finished = 0;
    let mut progress = |subject: Option<Mutant>, checker: &str, text: &str| {
        finished += 1;
        eprintln!(
            "  [{finished:>2}/{total}] {:<5} {checker:<13} {text}",
            code(subject)
        );
    };
    let mut rows = Vec::new();
    for (&subject, jobs) in subjects.iter().zip(&tlc_jobs) {
        let tlc = tlc_cell(subject, &subject::tlc(&dir, subject, jobs)?);
        progress(subject, "TLC", &describe(&tlc, "states"));
        // The clean protocol through the whole portfolio, judged complete (this is CI's one
        // run of it); a mutant through the plain portfolio too, as `check --mutant M` runs it,
        // untimed and timed rows alike, stopping at the row that kills it.
        let entries = model::portfolio::entries();
        let model_request = CheckRequest::Portfolio(entries.clone(), subject);
        let options = CheckOptions {
            threads,
            ..CheckOptions::quiet(true)
        };
        let model = model_cell(subject, &check(&model_request, &options).result, &entries);
        progress(subject, "model checker", &describe(&model, "steps"));
        let sim = sim_cell(subject, &subject::simulate(subject, threads, false)?.result);
        progress(subject, "simulator", &describe_sim(&sim));
        let replay = match subject {
            Some(m) if subject::outside_tlc(m) => None,
            Some(m) => {
                let at = replay_mutants.iter().position(|x| *x == m).unwrap_or(0);
                let job = &replay_jobs[at];
                let cell = replay_cell(&dir, m, job)?;
                progress(subject, "TLC -> core", &describe_replay(Some(&cell)));
                Some(cell)
            }
            None => None,
        };
        rows.push(Row {
            subject: code(subject).to_string(),
            name: subject_name(subject).to_string(),
            cells: Cells {
                tlc,
                model,
                sim,
                replay,
            },
        });
    }
    let report = CrossCheckReport {
        schema_version: SCHEMA_VERSION,
        command: "tla --cross-check".into(),
        all_agree: rows.iter().all(|r| {
            [&r.cells.tlc, &r.cells.model, &r.cells.sim.cell]
                .iter()
                .all(|c| c.verdict.agrees())
                && r.cells.replay.as_ref().is_none_or(|c| c.reproduced)
        }),
        rows,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Outcome {
        text: render(&report),
        violated: !report.all_agree,
        result: report,
        error: None,
    })
}

/// TLC's cell: its runs' figures summed, the first violation's property and length.
fn tlc_cell(subject: Option<Mutant>, runs: &[Outcome<TlaReport>]) -> Cell {
    let violated = runs.iter().find_map(|r| {
        r.result
            .violated_property()
            .map(|p| (p.to_string(), r.result.counterexample_length()))
    });
    if let Some((_, why)) = subject.and_then(Mutant::outside) {
        if runs.is_empty() {
            return Cell {
                verdict: Verdict::Outside,
                property: None,
                length: None,
                seconds: 0.0,
                distinct_states: None,
                unexplored: Some(why.to_string()),
            };
        }
    }
    Cell {
        verdict: Verdict::of(subject, violated.is_some()),
        length: violated.as_ref().and_then(|(_, n)| n.map(|n| n as u64)),
        property: violated.map(|(p, _)| p),
        seconds: runs.iter().map(|r| r.result.seconds()).sum(),
        distinct_states: Some(runs.iter().map(|r| r.result.distinct_states()).sum()),
        unexplored: None,
    }
}

/// TLC on the mutant's configuration for the replay, and its counterexample replayed.
fn replay_cell(dir: &Path, mutant: Mutant, job: &TlcJob) -> Result<ReplayCell, String> {
    let started = Instant::now();
    let report = tla::run_tlc(dir, job)?;
    let Some(property) = report.violated_property() else {
        return Ok(ReplayCell {
            reproduced: false,
            property: None,
            tlc_states: 0,
            core_steps: 0,
            seconds: started.elapsed().as_secs_f64(),
            why_not: Some("TLC found no counterexample to replay".into()),
        });
    };
    let replayed = tla::replay::replay(&job.cfg, Some(mutant), property, report.counterexample())?;
    Ok(ReplayCell {
        reproduced: replayed.reproduced,
        property: Some(property.to_string()),
        tlc_states: report.counterexample_length().unwrap_or(0),
        core_steps: replayed.core_steps,
        seconds: started.elapsed().as_secs_f64(),
        why_not: replayed
            .divergence
            .map(|d| format!("TLC state {}: {}", d.tlc_state, d.why)),
    })
}

/// The model checker's cell: the first violated property and its counterexample's length; a
/// clean pass is inconclusive unless the portfolio of `entries` ran complete.
fn model_cell(subject: Option<Mutant>, report: &CheckReport, entries: &[Entry]) -> Cell {
    let first = report
        .properties
        .iter()
        .find(|p| p.status == Status::Violated);
    let f = &report.figures;
    let verdict = Verdict::of(subject, first.is_some());
    let unexplored = (verdict == Verdict::Holds)
        .then(|| report.complete(entries).err())
        .flatten();
    Cell {
        verdict: match unexplored {
            Some(_) => Verdict::Inconclusive,
            None => verdict,
        },
        unexplored,
        property: first.map(|p| p.name.clone()),
        length: first
            .and_then(|p| p.trace.as_ref())
            .map(|t| t.steps.len() as u64),
        seconds: f.seconds + f.liveness_seconds,
        distinct_states: Some(f.unique_states as u64),
    }
}

/// The simulator's cell: the lowest failing seed, and its events up to the violation.
fn sim_cell(subject: Option<Mutant>, report: &SimReport) -> SimCell {
    let failure = report.failures.first();
    SimCell {
        cell: Cell {
            verdict: Verdict::of(subject, failure.is_some()),
            property: failure.map(|f| f.property.clone()),
            // `step` counts from 0.
            length: failure
                .and_then(|f| f.violations.first())
                .map(|v| v.step + 1),
            seconds: report.figures.seconds,
            distinct_states: None,
            unexplored: None,
        },
        seed: failure.map(|f| f.seed),
        seeds_run: report.figures.seeds as u64,
        events: report.figures.events,
    }
}
