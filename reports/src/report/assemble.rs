//! The report itself: every property × checker with its status, the figures of each checker,
//! the counterexamples with their replay commands, and the simulator's fault coverage, put
//! together from the checkers' own JSON results. Several results of one checker (TLC's `ci`
//! and `liveness`, the shards of one sweep) combine: a property is violated if any result
//! violates it, and figures add up.

use super::inputs::Input;
use super::sequence::{Lane, Mark, Tag};
use crate::result::cross_check::{self, CrossCheckReport};
use crate::result::sim::SimReport;
use crate::result::Checked;
use crate::text::check::check_command;
use model::check::{CheckReport, Status};
use protocol::Property;
use serde::{Deserialize, Serialize};
use sim::coverage::CoverageReport;
use std::collections::BTreeMap;
use tla::TlaReport;

/// The layout of `report.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// The checkers, in the report's order: key and title.
pub const CHECKERS: [(&str, &str); 3] = [
    ("model", "model checker"),
    ("sim", "simulator"),
    ("tlc", "TLC"),
];

/// A checker's title in a sentence ("under the model checker", "under TLC").
pub fn in_sentence(title: &str) -> String {
    if title == "TLC" {
        title.to_string()
    } else {
        format!("the {title}")
    }
}

/// `report.json`.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `report`.
    pub command: String,
    /// The crate version.
    pub version: String,
    /// When it was made (Unix seconds): orders the trend of `--history`.
    pub generated_at: u64,
    /// `quick`, `full`, or `from` (merged from files).
    pub profile: String,
    /// The mutant the checkers ran with, if any.
    pub mutant: Option<String>,
    /// `holds`, or `violated` if any property is violated under any checker.
    pub verdict: String,
    /// What each checker ran, or why it did not.
    pub checkers: Vec<CheckerSummary>,
    /// Every property × checker.
    pub properties: Vec<PropertyRow>,
    /// The simulator's fault coverage, summed over its results.
    pub coverage: Option<CoverageReport>,
    /// The mutant kill matrix, when a cross-check result is among the inputs.
    pub mutants: Option<Vec<MutantRow>>,
    /// The cross-check's verdict: the clean protocol holds under every checker, and every
    /// checker kills every mutant (and TLC's counterexample replays through the core).
    pub parity: Option<bool>,
    /// The result files the report was made of.
    pub sources: Vec<String>,
}

/// One checker's runs.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct CheckerSummary {
    /// `model`, `sim` or `tlc`.
    pub checker: String,
    /// `model checker`, `simulator`, `TLC`.
    pub title: String,
    /// Results it produced (0: not run).
    pub runs: usize,
    /// Why it did not run.
    pub not_run: Option<String>,
    /// What each run checked, in words.
    pub configs: Vec<String>,
    /// Its figures, summed over its runs.
    pub figures: Figures,
}

/// A checker's figures (those that apply to it).
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Figures {
    /// Distinct states (model checker, TLC).
    pub states: Option<u64>,
    /// Distinct states per second.
    pub states_per_sec: Option<f64>,
    /// Seeds run (simulator).
    pub seeds: Option<u64>,
    /// Seeds per second.
    pub seeds_per_sec: Option<f64>,
    /// Simulator events.
    pub events: Option<u64>,
    /// Simulated seconds.
    pub simulated_seconds: Option<f64>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// One subject of the cross-check (`clean` or a mutant) under every checker.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct MutantRow {
    /// `clean` or the mutant's code.
    pub subject: String,
    /// The mutant's name.
    pub name: String,
    /// `tlc`, `model`, `sim`, then `replay` (TLC's counterexample through the core).
    pub cells: Vec<MutantCell>,
}

/// One checker's verdict on one subject.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct MutantCell {
    /// `tlc`, `model`, `sim` or `replay`.
    pub checker: String,
    /// `holds`, `violated`, `killed`, `survived`, `inconclusive`, `outside` (the catalogue
    /// marks the mutant as outside the checker's abstraction), or for the replay `reproduced` /
    /// `not_reproduced`.
    pub verdict: String,
    /// The property it met.
    pub property: Option<String>,
    /// The counterexample's length in the checker's unit.
    pub length: Option<u64>,
    /// What an inconclusive run did not explore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexplored: Option<String>,
}

impl MutantCell {
    /// Whether this is what parity asks for.
    pub fn agrees(&self) -> bool {
        matches!(
            self.verdict.as_str(),
            "holds" | "killed" | "reproduced" | "outside"
        )
    }
}

fn mutant_rows(report: &CrossCheckReport) -> Vec<MutantRow> {
    let cell = |checker: &str, c: &cross_check::Cell| MutantCell {
        checker: checker.into(),
        verdict: verdict_word(c.verdict).into(),
        property: c.property.clone(),
        length: c.length,
        unexplored: c.unexplored.clone(),
    };
    report
        .rows
        .iter()
        .map(|row| {
            let c = &row.cells;
            let mut cells = vec![
                cell("tlc", &c.tlc),
                cell("model", &c.model),
                cell("sim", &c.sim.cell),
            ];
            if let Some(r) = &c.replay {
                cells.push(MutantCell {
                    checker: "replay".into(),
                    verdict: if r.reproduced {
                        "reproduced"
                    } else {
                        "not_reproduced"
                    }
                    .into(),
                    property: r.property.clone(),
                    length: Some(r.core_steps as u64),
                    unexplored: None,
                });
            }
            MutantRow {
                subject: row.subject.clone(),
                name: row.name.clone(),
                cells,
            }
        })
        .collect()
}

/// One property under every checker.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct PropertyRow {
    /// Its name (DESIGN.md §7).
    pub name: String,
    /// `always`, `eventually` or `sometimes`.
    pub kind: String,
    /// What it says.
    pub statement: String,
    /// One cell per checker, in [`CHECKERS`] order.
    pub cells: Vec<Cell>,
}

/// One property under one checker.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Cell {
    /// `model`, `sim` or `tlc`.
    pub checker: String,
    /// `holds`, `violated`, `reached`, `not_reached`, `unknown`, `not_checked` or `not_run`.
    pub status: String,
    /// Why, in a sentence (a violation's explanation).
    pub detail: Option<String>,
    /// The counterexample, for a violation.
    pub counterexample: Option<Counterexample>,
    /// The command that replays it.
    pub replay: Option<String>,
}

/// A counterexample, step by step as far as the checker's result records it.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Counterexample {
    /// Its length in `unit`s.
    pub length: Option<u64>,
    /// `steps` (model checker), `events` (simulator) or `states` (TLC).
    pub unit: String,
    /// The seed of the run drawn (simulator): the shrunk run's.
    pub seed: Option<u64>,
    /// The steps it records.
    pub steps: Vec<Step>,
    /// A simulator counterexample is the failing seed's run shrunk: what it was shrunk from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrunk_from: Option<ShrunkFrom>,
}

/// The failing run a simulator counterexample was shrunk from.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ShrunkFrom {
    /// The sweep's failing seed (the replay command's).
    pub seed: u64,
    /// Its events up to the failure.
    pub events: u64,
    /// Its faults up to the failure.
    pub faults: u64,
    /// The shrunk run's faults.
    pub shrunk_faults: u64,
    /// The shrunk run is another seed's, regrown in a smaller group with the same cause.
    pub regrown: bool,
}

/// One step of a counterexample.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Step {
    /// Who acts: `n1`, `registry`, `admin`, `app n1`, `fault`, or `spec` for a TLC action.
    pub actor: String,
    /// What happens.
    pub action: String,
    /// A fault or environment change.
    pub fault: bool,
    /// What the sequence diagram draws for it. Not in report.json: the diagram is drawn from
    /// the checkers' results, which carry it typed.
    #[serde(skip)]
    pub mark: Mark,
}

impl Step {
    /// The step as a numbered line: `  3. [fault] n1: ...` (`n` counts from 1).
    pub fn line(&self, n: usize) -> String {
        format!(
            "{n:>3}. {}{}: {}",
            if self.fault { "[fault] " } else { "" },
            self.actor,
            self.action
        )
    }
}

impl Counterexample {
    /// How long it is, and its seed: `6 steps`, `seed 146`.
    pub fn extent(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.length {
            parts.push(format!("{n} {}", self.unit));
        }
        if let Some(s) = self.seed {
            parts.push(format!("seed {s}"));
        }
        if let Some(f) = &self.shrunk_from {
            parts.push(format!(
                "{} fault(s); shrunk from seed {}: {} events, {} fault(s){}",
                f.shrunk_faults,
                f.seed,
                f.events,
                f.faults,
                if f.regrown {
                    ", regrown in a smaller group"
                } else {
                    ""
                }
            ));
        }
        parts.join(", ")
    }
}

impl Report {
    /// Whether any property is violated under any checker.
    pub fn violated(&self) -> bool {
        self.verdict == "violated"
    }
}

/// Statuses from worst to best: a combination of results takes the worst.
const RANK: [&str; 7] = [
    "violated",
    "unknown",
    "reached",
    "not_reached",
    "holds",
    "not_checked",
    "not_run",
];

fn worse(a: &str, b: &str) -> bool {
    let rank = |s: &str| RANK.iter().position(|r| *r == s).unwrap_or(RANK.len());
    rank(a) < rank(b)
}

/// A cell's contribution from one result.
struct Found {
    status: String,
    detail: Option<String>,
    counterexample: Option<Counterexample>,
    replay: Option<String>,
}

/// A model checker status in the report's words.
fn status_word(s: Status) -> &'static str {
    match s {
        Status::Holds => "holds",
        Status::Violated => "violated",
        Status::Reached => "reached",
        Status::NotReached => "not_reached",
        Status::Unknown => "unknown",
    }
}

/// A cross-check verdict in the report's words.
fn verdict_word(v: cross_check::Verdict) -> &'static str {
    match v {
        cross_check::Verdict::Holds => "holds",
        cross_check::Verdict::Violated => "violated",
        cross_check::Verdict::Killed => "killed",
        cross_check::Verdict::Survived => "survived",
        cross_check::Verdict::Inconclusive => "inconclusive",
        cross_check::Verdict::Outside => "outside",
    }
}

/// What a model checker step draws.
fn model_mark(st: &model::trace::Step) -> Mark {
    use model::trace::Event;
    let node = st.node.map(|p| {
        Lane::Node(
            usize::from(p),
            model::ModelConfig::node_id(usize::from(p)).to_string(),
        )
    });
    let to_registry = |from: Lane| Mark::Message {
        from,
        to: Lane::Registry,
        watch: false,
    };
    let on = |lane: Lane, tag: Tag| Mark::On { lane, tag };
    match (st.event, node) {
        (Event::Admin, _) => to_registry(Lane::Admin),
        (Event::Request, Some(n)) => to_registry(n),
        (Event::Reply | Event::Watch, Some(n)) => Mark::Message {
            from: Lane::Registry,
            to: n,
            watch: st.event == Event::Watch,
        },
        (Event::Start, Some(n)) => on(n, Tag::Start),
        (Event::Stop, Some(n)) => on(n, Tag::Stop),
        (_, n) => on(n.unwrap_or(Lane::Registry), Tag::fault_or_plain(st.fault)),
    }
}

/// What one `check` result says of each property.
fn from_check(report: &CheckReport) -> Vec<(String, String, Found)> {
    let replay = check_command(&report.config);
    let mut out = Vec::new();
    for p in &report.properties {
        let violated = p.status == Status::Violated;
        let counterexample = violated.then(|| {
            let steps: Vec<Step> = p
                .trace
                .iter()
                .flat_map(|t| &t.steps)
                .map(|st| Step {
                    actor: st.actor.clone(),
                    action: st.action.clone(),
                    fault: st.fault,
                    mark: model_mark(st),
                })
                .collect();
            Counterexample {
                length: Some(steps.len() as u64),
                unit: "steps".into(),
                seed: None,
                steps,
                shrunk_from: None,
            }
        });
        out.push((
            p.name.clone(),
            p.kind.clone(),
            Found {
                status: status_word(p.status).into(),
                detail: p.reason.clone(),
                counterexample,
                replay: violated.then(|| replay.clone()),
            },
        ));
    }
    out
}

/// What one `sim` result says of each property.
fn from_sim(report: &SimReport) -> Vec<(String, String, Found)> {
    let mut out = Vec::new();
    for p in &report.properties {
        let status = p.status.replace(' ', "_");
        // The lowest failing seed of this property, with its replay command.
        let failure = report
            .failures
            .iter()
            .filter(|x| x.property == p.name)
            .min_by_key(|x| x.seed);
        let (detail, counterexample, replay) = match failure.filter(|_| status == "violated") {
            Some(x) => (
                Some(format!(
                    "seed {} at {:.3} s: {}",
                    x.seed,
                    x.time_ms as f64 / 1000.0,
                    x.detail
                )),
                // The result keeps the seed only: shrink it and run the shrunk run for its
                // events.
                Some(
                    match super::sim_steps::steps(&report.config, x.seed, &p.name) {
                        Some(drawn) => Counterexample {
                            length: Some(drawn.events),
                            unit: "events".into(),
                            seed: Some(drawn.seed),
                            steps: drawn.steps,
                            shrunk_from: drawn.shrunk_from,
                        },
                        None => Counterexample {
                            length: None,
                            unit: "events".into(),
                            seed: Some(x.seed),
                            steps: Vec::new(),
                            shrunk_from: None,
                        },
                    },
                ),
                x.replay_command.clone(),
            ),
            None => (None, None, None),
        };
        out.push((
            p.name.clone(),
            p.kind.clone(),
            Found {
                status,
                detail,
                counterexample,
                replay,
            },
        ));
    }
    out
}

/// What one `tla` result says: every property its configuration lists.
fn from_tla(report: &TlaReport) -> Vec<(String, String, Found)> {
    let config = &report.config;
    let replay = format!(
        "rebalanser tla --config {config}{}",
        report
            .mutant
            .as_ref()
            .map_or(String::new(), |m| format!(" --mutant {m}"))
    );
    let violated: Vec<&str> = report
        .violation
        .as_ref()
        .map(|v| v.property.split(" or ").collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for name in &report.checked {
        let kind = Property::from_name(name).map_or("always", |p| match p.kind() {
            protocol::properties::Kind::Always => "always",
            protocol::properties::Kind::Eventually => "eventually",
        });
        let found = match &report.violation {
            Some(v) if violated.contains(&name.as_str()) => Found {
                status: "violated".into(),
                detail: Some(format!("TLC on {config}: {name} is violated")),
                counterexample: Some(Counterexample {
                    length: Some(v.length as u64),
                    unit: "states".into(),
                    seed: None,
                    steps: v
                        .counterexample
                        .iter()
                        .map(|st| Step {
                            actor: "spec".into(),
                            action: st.action.clone(),
                            fault: false,
                            mark: Mark::On {
                                lane: Lane::Spec,
                                tag: Tag::Plain,
                            },
                        })
                        .collect(),
                    shrunk_from: None,
                }),
                replay: Some(replay.clone()),
            },
            _ => Found {
                status: "holds".into(),
                detail: None,
                counterexample: None,
                replay: None,
            },
        };
        out.push((name.clone(), kind.to_string(), found));
    }
    out
}

fn config_line(input: &Input) -> String {
    match &input.result {
        Checked::Check(r) if r.rows.len() > 1 => {
            let names: Vec<&str> = r.rows.iter().map(|row| row.name.as_str()).collect();
            format!("rebalanser check: the portfolio ({})", names.join(", "))
        }
        Checked::Check(r) => check_command(&r.config),
        Checked::Sim(r) => format!(
            "seeds {}{} of {} nodes × {} resources, {} simulated s each",
            r.seeds,
            r.shard
                .map(|sh| format!(" (shard {}/{})", sh.index, sh.count))
                .unwrap_or_default(),
            r.config.nodes,
            r.config.resources,
            r.config.duration as f64 / 1000.0
        ),
        Checked::Tla(r) => format!(
            "tla/spec/{}.cfg{}",
            r.config,
            r.mutant
                .as_ref()
                .map_or(String::new(), |m| format!(" with {m}"))
        ),
        Checked::CrossCheck(_) => "rebalanser tla --cross-check".into(),
    }
}

fn add_figures(into: &mut Figures, input: &Input) {
    let add = |a: &mut Option<u64>, b: Option<u64>| {
        if let Some(b) = b {
            *a = Some(a.unwrap_or(0) + b);
        }
    };
    match &input.result {
        Checked::Check(r) => {
            let f = &r.figures;
            add(&mut into.states, Some(f.unique_states as u64));
            into.seconds += f.seconds + f.liveness_seconds;
        }
        Checked::Sim(r) => {
            let f = &r.figures;
            add(&mut into.seeds, Some(f.seeds as u64));
            add(&mut into.events, Some(f.events));
            into.simulated_seconds =
                Some(into.simulated_seconds.unwrap_or(0.0) + f.simulated_seconds);
            into.seconds += f.seconds;
        }
        Checked::Tla(r) => {
            add(&mut into.states, Some(r.distinct_states()));
            into.seconds += r.seconds();
        }
        Checked::CrossCheck(_) => {}
    }
    let per = |n: Option<u64>| n.map(|n| n as f64 / into.seconds.max(1e-9));
    into.states_per_sec = per(into.states);
    into.seeds_per_sec = per(into.seeds);
}

fn add_coverage(into: &mut Option<CoverageReport>, c: &CoverageReport) {
    let c = c.clone();
    match into {
        None => *into = Some(c),
        Some(total) => {
            for (step, ops) in c.rpc {
                let row = total.rpc.entry(step).or_default();
                for (op, n) in ops {
                    *row.entry(op).or_default() += n;
                }
            }
            for (fault, n) in c.environment {
                *total.environment.entry(fault).or_default() += n;
            }
            total.assumption_breaches += c.assumption_breaches;
        }
    }
}

/// Put the report together. `not_run` says, per checker, why it has no result (if so).
pub fn assemble(
    inputs: &[Input],
    profile: &str,
    mutant: Option<&str>,
    not_run: &BTreeMap<&str, String>,
) -> Result<Report, String> {
    // Every property the checkers know, DESIGN.md's first, then the model's sometimes-ones.
    let mut rows: Vec<PropertyRow> = Vec::new();
    let row_of = |rows: &mut Vec<PropertyRow>, name: &str, kind: &str| -> usize {
        if let Some(i) = rows.iter().position(|r| r.name == name) {
            return i;
        }
        let statement = Property::from_name(name)
            .map(|p| p.statement().to_string())
            .unwrap_or_else(|| format!("the model can reach: {}", name.replace('_', " ")));
        rows.push(PropertyRow {
            name: name.to_string(),
            kind: kind.to_string(),
            statement,
            cells: CHECKERS
                .iter()
                .map(|(key, _)| Cell {
                    checker: key.to_string(),
                    status: if not_run.contains_key(key) {
                        "not_run"
                    } else {
                        "not_checked"
                    }
                    .to_string(),
                    detail: not_run.get(key).cloned(),
                    counterexample: None,
                    replay: None,
                })
                .collect(),
        });
        rows.len() - 1
    };
    for p in Property::ALL {
        let kind = match p.kind() {
            protocol::properties::Kind::Always => "always",
            protocol::properties::Kind::Eventually => "eventually",
        };
        row_of(&mut rows, p.name(), kind);
    }
    let mut checkers: Vec<CheckerSummary> = CHECKERS
        .iter()
        .map(|(key, title)| CheckerSummary {
            checker: key.to_string(),
            title: title.to_string(),
            runs: 0,
            not_run: not_run.get(key).cloned(),
            configs: Vec::new(),
            figures: Figures::default(),
        })
        .collect();
    let mut coverage = None;
    let mut mutants: Option<Vec<MutantRow>> = None;
    let mut parity: Option<bool> = None;
    for input in inputs {
        if let Checked::CrossCheck(r) = &input.result {
            // The kill matrix stands beside the properties; it does not run a checker.
            mutants = Some(mutant_rows(r));
            parity = Some(parity.unwrap_or(true) && r.all_agree);
            continue;
        }
        let column = CHECKERS
            .iter()
            .position(|(k, _)| *k == input.kind().checker())
            .unwrap_or(0);
        let summary = &mut checkers[column];
        summary.runs += 1;
        summary.not_run = None;
        summary.configs.push(config_line(input));
        add_figures(&mut summary.figures, input);
        let found = match &input.result {
            Checked::Check(r) => from_check(r),
            Checked::Sim(r) => {
                add_coverage(&mut coverage, &r.coverage);
                from_sim(r)
            }
            Checked::Tla(j) => from_tla(j),
            Checked::CrossCheck(_) => Vec::new(),
        };
        for (name, kind, found) in found {
            let i = row_of(&mut rows, &name, &kind);
            let cell = &mut rows[i].cells[column];
            let first = cell.status == "not_checked" || cell.status == "not_run";
            if first || worse(&found.status, &cell.status) {
                cell.status = found.status;
                cell.detail = found.detail;
                cell.counterexample = found.counterexample;
                cell.replay = found.replay;
            }
        }
    }
    // A property violated anywhere, or a mutant some checker let survive.
    let violated = rows
        .iter()
        .any(|r| r.cells.iter().any(|c| c.status == "violated"))
        || parity == Some(false);
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        command: "report".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        generated_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        profile: profile.into(),
        mutant: mutant.map(str::to_string),
        verdict: if violated { "violated" } else { "holds" }.into(),
        checkers,
        properties: rows,
        coverage,
        mutants,
        parity,
        sources: inputs
            .iter()
            .map(|i| i.path.display().to_string())
            .collect(),
    })
}
