//! `rebalanser tla --cross-check`: mutant parity. The clean protocol and every mutant go
//! through all three checkers (TLC on the TLA+ spec, the stateright model checker, the
//! simulator); parity means the clean protocol holds under each and each kills every mutant.
//! Each mutant's TLC counterexample is also replayed through the Rust core
//! (`tla::replay`), which must reach the same violation.

use crate::output::{self, thousands};
use model::check::{self, CheckOptions, Status};
use model::ModelConfig;
use protocol::Mutant;
use serde::Serialize;
use sim::sweep::{self, SweepOptions};
use sim::SimConfig;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use tla::replay as tla_replay;
use tla::TlcJob;

/// The JSON layout of the cross-check.
pub const SCHEMA_VERSION: u32 = 1;

/// The simulator's seeds for every subject: those `rebalanser sim` runs by default.
const SEEDS: std::ops::Range<u64> = 0..1000;

/// The TLC configurations the clean protocol must pass: safety on the model checker's default
/// configuration, and liveness.
const CLEAN_TLC_CONFIGS: [&str; 2] = ["ci", "liveness"];

/// What `rebalanser tla --cross-check` was asked.
pub struct CrossCheckRequest {
    /// TLC workers, model-checker threads and simulator threads.
    pub workers: u16,
    /// Write the table as JSON here.
    pub json: Option<PathBuf>,
}

/// What one checker says about one subject.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Verdict {
    /// The clean protocol passed.
    Holds,
    /// The clean protocol failed.
    Violated,
    /// A mutant was caught.
    Killed,
    /// A mutant went unnoticed.
    Survived,
}

impl Verdict {
    fn of(subject: Option<Mutant>, violated: bool) -> Verdict {
        match (subject, violated) {
            (None, false) => Verdict::Holds,
            (None, true) => Verdict::Violated,
            (Some(_), true) => Verdict::Killed,
            (Some(_), false) => Verdict::Survived,
        }
    }

    /// Whether this is what parity asks for.
    fn agrees(self) -> bool {
        matches!(self, Verdict::Holds | Verdict::Killed)
    }
}

/// One checker's result on one subject.
#[derive(Serialize, Debug)]
struct Cell {
    verdict: Verdict,
    /// The violated property the checker names first.
    property: Option<String>,
    /// The counterexample's length in the checker's own unit: states (TLC), steps (model
    /// checker), events up to the violation (simulator).
    length: Option<u64>,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    distinct_states: Option<u64>,
}

/// The simulator's cell: a sweep over seeds rather than a state space.
#[derive(Serialize, Debug)]
struct SimCell {
    #[serde(flatten)]
    cell: Cell,
    /// The lowest failing seed.
    seed: Option<u64>,
    /// Seeds run: all of them, or those up to the lowest failing one.
    seeds_run: u64,
    /// Events over the seeds run.
    events: u64,
}

/// A mutant's TLC counterexample replayed through the Rust core.
#[derive(Serialize, Debug)]
struct ReplayCell {
    /// The core reached the violation TLC reports.
    reproduced: bool,
    /// The property.
    property: Option<String>,
    /// States in TLC's counterexample (a run of the stepwise-watch spec, `Hold = TRUE`).
    tlc_states: usize,
    /// Model steps that replayed them.
    core_steps: usize,
    /// TLC and the replay.
    seconds: f64,
    /// Why not, if not.
    #[serde(skip_serializing_if = "Option::is_none")]
    why_not: Option<String>,
}

#[derive(Serialize, Debug)]
struct Cells {
    tlc: Cell,
    model: Cell,
    sim: SimCell,
    /// Mutants only.
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<ReplayCell>,
}

#[derive(Serialize, Debug)]
struct Row {
    /// `clean` or the mutant's code.
    subject: String,
    /// The mutant's name.
    name: String,
    cells: Cells,
}

#[derive(Serialize, Debug)]
struct CrossCheckReport {
    schema_version: u32,
    command: &'static str,
    rows: Vec<Row>,
    /// The clean protocol holds under every checker, every checker kills every mutant, and
    /// every mutant's TLC counterexample replays through the core.
    all_agree: bool,
    seconds: f64,
}

/// The checkers, as table headings and in sentences.
const CHECKERS: [&str; 3] = ["TLC", "model checker", "simulator"];
const CHECKERS_IN_SENTENCES: [&str; 3] = ["TLC", "the model checker", "the simulator"];
/// The replay column's heading.
const REPLAY: &str = "TLC -> core replay";

fn subject_code(subject: Option<Mutant>) -> &'static str {
    subject.map_or("clean", Mutant::code)
}

fn subject_name(subject: Option<Mutant>) -> &'static str {
    subject.map_or("clean protocol", Mutant::name)
}

/// `rebalanser tla --cross-check`.
pub fn run(req: CrossCheckRequest) -> Result<ExitCode, String> {
    let dir = tla::spec_dir()?;
    if let Some(path) = &req.json {
        output::check_writable(path)?;
    }
    tla::tools_ready()?;
    let subjects: Vec<Option<Mutant>> = std::iter::once(None)
        .chain(Mutant::ALL.into_iter().map(Some))
        .collect();
    // Every TLC job is prepared first, so that a missing configuration fails before minutes of
    // checking rather than after.
    let tlc_jobs = subjects
        .iter()
        .map(|&s| tlc_jobs(&dir, s, req.workers))
        .collect::<Result<Vec<_>, String>>()?;
    let replay_jobs = Mutant::ALL
        .into_iter()
        .map(|m| {
            let name = format!("mutant-{}", m.code());
            let path = dir.join(format!("{name}.cfg"));
            let cfg = std::fs::read_to_string(&path)
                .map_err(|e| format!("the cross-check needs {}: {e}", path.display()))?;
            tla_replay::job(
                &dir,
                &name,
                &tla::set_mutant(&cfg, m.code()),
                Some(m),
                req.workers,
            )
            .map_err(|e| format!("the replay of {name}: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let threads = usize::from(req.workers);
    eprintln!(
        "cross-check: the clean protocol and {} mutants through TLC, the model checker and the \
         simulator (seeds {}..{}), and each mutant's TLC counterexample replayed through the \
         Rust core; about two and a half minutes",
        Mutant::ALL.len(),
        SEEDS.start,
        SEEDS.end
    );
    let started = Instant::now();
    let total = subjects.len() * CHECKERS.len() + replay_jobs.len();
    let mut finished = 0;
    let mut progress = |subject: Option<Mutant>, checker: &str, text: &str| {
        finished += 1;
        eprintln!(
            "  [{finished:>2}/{total}] {:<5} {checker:<13} {text}",
            subject_code(subject)
        );
    };
    let mut rows = Vec::new();
    for (&subject, jobs) in subjects.iter().zip(&tlc_jobs) {
        let tlc = tlc_cell(&dir, subject, jobs)?;
        progress(subject, CHECKERS[0], &describe(&tlc, "states"));
        let model = model_cell(subject, threads);
        progress(subject, CHECKERS[1], &describe(&model, "steps"));
        let sim = sim_cell(subject, threads);
        progress(subject, CHECKERS[2], &describe_sim(&sim));
        let replay = match subject {
            Some(m) => {
                let job = &replay_jobs[Mutant::ALL.iter().position(|x| *x == m).unwrap_or(0)];
                let cell = replay_cell(&dir, m, job)?;
                progress(subject, REPLAY, &describe_replay(Some(&cell)));
                Some(cell)
            }
            None => None,
        };
        rows.push(Row {
            subject: subject_code(subject).to_string(),
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
        command: "tla --cross-check",
        all_agree: rows.iter().all(|r| {
            [&r.cells.tlc, &r.cells.model, &r.cells.sim.cell]
                .iter()
                .all(|c| c.verdict.agrees())
                && r.cells.replay.as_ref().is_none_or(|c| c.reproduced)
        }),
        rows,
        seconds: started.elapsed().as_secs_f64(),
    };
    print!("{}", render(&report));
    if let Some(path) = &req.json {
        output::write_json(path, &report)?;
    }
    Ok(if report.all_agree {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The TLC runs for a subject: the clean configurations, or the mutant's own with it set.
fn tlc_jobs(dir: &Path, subject: Option<Mutant>, workers: u16) -> Result<Vec<TlcJob>, String> {
    let names: Vec<String> = match subject {
        None => CLEAN_TLC_CONFIGS.iter().map(|c| c.to_string()).collect(),
        Some(m) => vec![format!("mutant-{}", m.code())],
    };
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(format!("{name}.cfg"));
            let cfg = std::fs::read_to_string(&path)
                .map_err(|e| format!("the cross-check needs {}: {e}", path.display()))?;
            Ok(TlcJob {
                cfg: match subject {
                    Some(m) => tla::set_mutant(&cfg, m.code()),
                    None => cfg,
                },
                label: name,
                module: tla::SPEC.to_string(),
                files: Vec::new(),
                workers,
            })
        })
        .collect()
}

/// Run the subject's TLC jobs until one is violated; figures are summed over the runs.
fn tlc_cell(dir: &Path, subject: Option<Mutant>, jobs: &[TlcJob]) -> Result<Cell, String> {
    let mut seconds = 0.0;
    let mut states = 0;
    for job in jobs {
        let report = tla::run_tlc(dir, job)?;
        seconds += report.seconds();
        states += report.distinct_states();
        if let Some(property) = report.violated_property() {
            return Ok(Cell {
                verdict: Verdict::of(subject, true),
                property: Some(property.to_string()),
                length: report.counterexample_length().map(|n| n as u64),
                seconds,
                distinct_states: Some(states),
            });
        }
    }
    Ok(Cell {
        verdict: Verdict::of(subject, false),
        property: None,
        length: None,
        seconds,
        distinct_states: Some(states),
    })
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
    let replayed = tla_replay::replay(&job.cfg, Some(mutant), property, report.counterexample())?;
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

/// The clean protocol on `rebalanser check`'s default configuration, a mutant on the
/// configuration `rebalanser mutants` gives for it; liveness included either way.
fn model_cell(subject: Option<Mutant>, threads: usize) -> Cell {
    let config = subject.map_or_else(ModelConfig::default, model::mutants::config_for);
    let options = CheckOptions {
        threads,
        ..CheckOptions::quiet(true)
    };
    let report = check::run(&config, &options);
    let first = report
        .properties
        .iter()
        .find(|p| p.status == Status::Violated);
    let f = &report.figures;
    Cell {
        verdict: Verdict::of(subject, first.is_some()),
        property: first.map(|p| p.name.clone()),
        length: first
            .and_then(|p| p.trace.as_ref())
            .map(|t| t.steps.len() as u64),
        seconds: f.seconds + f.liveness_seconds,
        distinct_states: Some(f.unique_states as u64),
    }
}

/// The default scenario over [`SEEDS`], stopping at the lowest failing seed.
fn sim_cell(subject: Option<Mutant>, threads: usize) -> SimCell {
    let config = SimConfig {
        mutant: subject,
        ..SimConfig::default()
    };
    let seeds: Vec<u64> = SEEDS.collect();
    let options = SweepOptions {
        threads,
        keep_going: false,
    };
    let result = sweep::sweep(&config, &seeds, options, None);
    let failure = result
        .failures()
        .next()
        .and_then(|o| o.violations.first().map(|v| (o.seed, v)));
    SimCell {
        cell: Cell {
            verdict: Verdict::of(subject, failure.is_some()),
            property: failure.map(|(_, v)| v.property.clone()),
            // `step` counts from 0.
            length: failure.map(|(_, v)| v.step + 1),
            seconds: result.seconds,
            distinct_states: None,
        },
        seed: failure.map(|(seed, _)| seed),
        seeds_run: result.outcomes.len() as u64,
        events: result.events(),
    }
}

/// `1234567` as `1,234,567`.
fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "holds",
        Verdict::Violated => "VIOLATED",
        Verdict::Killed => "killed",
        Verdict::Survived => "SURVIVED",
    }
}

/// A cell of TLC or the model checker; `unit` names what its length counts.
fn describe(c: &Cell, unit: &str) -> String {
    let states = thousands(c.distinct_states.unwrap_or(0));
    match (&c.property, c.length) {
        (Some(p), length) => format!(
            "{} ({p}, {} {unit}, {:.1} s)",
            verdict_word(c.verdict),
            length.map_or("?".to_string(), thousands),
            c.seconds
        ),
        (None, _) => format!(
            "{} ({states} states, {:.1} s)",
            verdict_word(c.verdict),
            c.seconds
        ),
    }
}

fn describe_sim(s: &SimCell) -> String {
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

fn describe_replay(c: Option<&ReplayCell>) -> String {
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

fn render(r: &CrossCheckReport) -> String {
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
    let mut disagreements = Vec::new();
    for row in &r.rows {
        let cells = [&row.cells.tlc, &row.cells.model, &row.cells.sim.cell];
        for (checker, c) in CHECKERS_IN_SENTENCES.iter().zip(cells) {
            if !c.verdict.agrees() {
                disagreements.push(format!(
                    "{} {} under the {checker}",
                    row.subject,
                    verdict_word(c.verdict)
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
