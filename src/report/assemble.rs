//! The report itself: every property × checker with its status, the figures of each checker,
//! the counterexamples with their replay commands, and the simulator's fault coverage, put
//! together from the checkers' own JSON results. Several results of one checker (TLC's `ci`
//! and `liveness`, the shards of one sweep) combine: a property is violated if any result
//! violates it, and figures add up.

use super::inputs::{Input, Kind};
use model::ModelConfig;
use protocol::Property;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sim::coverage::CoverageReport;
use std::collections::BTreeMap;

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
    /// `holds`, `violated`, `killed`, `survived`, or for the replay `reproduced` /
    /// `not_reproduced`.
    pub verdict: String,
    /// The property it met.
    pub property: Option<String>,
    /// The counterexample's length in the checker's unit.
    pub length: Option<u64>,
}

impl MutantCell {
    /// Whether this is what parity asks for.
    pub fn agrees(&self) -> bool {
        matches!(self.verdict.as_str(), "holds" | "killed" | "reproduced")
    }
}

fn mutant_rows(json: &Json) -> Vec<MutantRow> {
    let mut out = Vec::new();
    for row in json["rows"].as_array().into_iter().flatten() {
        let mut cells = Vec::new();
        for key in ["tlc", "model", "sim"] {
            let c = &row["cells"][key];
            cells.push(MutantCell {
                checker: key.into(),
                verdict: s(&c["verdict"]).unwrap_or_else(|| "unknown".into()),
                property: s(&c["property"]),
                length: u(&c["length"]),
            });
        }
        let r = &row["cells"]["replay"];
        if r.is_object() {
            cells.push(MutantCell {
                checker: "replay".into(),
                verdict: if r["reproduced"] == true {
                    "reproduced"
                } else {
                    "not_reproduced"
                }
                .into(),
                property: s(&r["property"]),
                length: u(&r["core_steps"]),
            });
        }
        out.push(MutantRow {
            subject: s(&row["subject"]).unwrap_or_default(),
            name: s(&row["name"]).unwrap_or_default(),
            cells,
        });
    }
    out
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

fn u(v: &Json) -> Option<u64> {
    v.as_u64()
}

fn f(v: &Json) -> Option<f64> {
    v.as_f64()
}

fn s(v: &Json) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// What one `check` result says of each property.
fn from_check(json: &Json) -> Vec<(String, String, Found)> {
    let replay = serde_json::from_value::<ModelConfig>(json["config"].clone())
        .ok()
        .map(|c| crate::output::check_command(&c));
    let mut out = Vec::new();
    for p in json["properties"].as_array().into_iter().flatten() {
        let status = s(&p["status"]).unwrap_or_else(|| "unknown".into());
        let violated = status == "violated";
        let counterexample = violated.then(|| {
            let steps: Vec<Step> = p["trace"]["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|st| Step {
                    actor: s(&st["actor"]).unwrap_or_default(),
                    action: s(&st["action"]).unwrap_or_default(),
                    fault: st["fault"].as_bool().unwrap_or(false),
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
            s(&p["name"]).unwrap_or_default(),
            s(&p["kind"]).unwrap_or_default(),
            Found {
                status,
                detail: s(&p["reason"]),
                counterexample,
                replay: if violated { replay.clone() } else { None },
            },
        ));
    }
    out
}

/// What one `sim` result says of each property.
fn from_sim(json: &Json) -> Vec<(String, String, Found)> {
    let mut out = Vec::new();
    for p in json["properties"].as_array().into_iter().flatten() {
        let name = s(&p["name"]).unwrap_or_default();
        let status = s(&p["status"]).unwrap_or_default().replace(' ', "_");
        // The lowest failing seed of this property, with its replay command.
        let failure = json["failures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["property"] == name.as_str())
            .min_by_key(|x| u(&x["seed"]).unwrap_or(u64::MAX));
        let (detail, counterexample, replay) = match failure.filter(|_| status == "violated") {
            Some(x) => (
                s(&x["detail"]).map(|d| {
                    format!(
                        "seed {} at {:.3} s: {d}",
                        u(&x["seed"]).unwrap_or(0),
                        f(&x["time_ms"]).unwrap_or(0.0) / 1000.0
                    )
                }),
                Some({
                    let seed = u(&x["seed"]);
                    // The result keeps the seed only: shrink it and run the shrunk run for its
                    // events.
                    match seed.and_then(|s| super::sim_steps::steps(&json["config"], s, &name)) {
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
                            seed,
                            steps: Vec::new(),
                            shrunk_from: None,
                        },
                    }
                }),
                s(&x["replay_command"]),
            ),
            None => (None, None, None),
        };
        out.push((
            name,
            s(&p["kind"]).unwrap_or_default(),
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
fn from_tla(json: &Json) -> Vec<(String, String, Found)> {
    let config = s(&json["config"]).unwrap_or_default();
    let mutant = s(&json["mutant"]);
    let replay = format!(
        "rebalanser tla --config {config}{}",
        mutant.map_or(String::new(), |m| format!(" --mutant {m}"))
    );
    let violated: Vec<String> = json["violation"]["property"]
        .as_str()
        .map(|p| p.split(" or ").map(str::to_string).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for name in json["checked"].as_array().into_iter().flatten() {
        let Some(name) = name.as_str() else { continue };
        let kind = Property::from_name(name).map_or("always", |p| match p.kind() {
            protocol::properties::Kind::Always => "always",
            protocol::properties::Kind::Eventually => "eventually",
        });
        let found = if violated.iter().any(|v| v == name) {
            let steps: Vec<Step> = json["violation"]["counterexample"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|st| Step {
                    actor: "spec".into(),
                    action: s(&st["action"]).unwrap_or_default(),
                    fault: false,
                })
                .collect();
            Found {
                status: "violated".into(),
                detail: Some(format!("TLC on {config}: {name} is violated")),
                counterexample: Some(Counterexample {
                    length: u(&json["violation"]["length"]),
                    unit: "states".into(),
                    seed: None,
                    steps,
                    shrunk_from: None,
                }),
                replay: Some(replay.clone()),
            }
        } else {
            Found {
                status: "holds".into(),
                detail: None,
                counterexample: None,
                replay: None,
            }
        };
        out.push((name.to_string(), kind.to_string(), found));
    }
    out
}

fn config_line(input: &Input) -> String {
    let j = &input.json;
    match input.kind {
        Kind::Check => match j["rows"].as_array() {
            Some(rows) if rows.len() > 1 => {
                let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
                format!("rebalanser check: the portfolio ({})", names.join(", "))
            }
            _ => serde_json::from_value::<ModelConfig>(j["config"].clone())
                .map(|c| crate::output::check_command(&c))
                .unwrap_or_else(|_| "rebalanser check".into()),
        },
        Kind::Sim => format!(
            "seeds {}{} of {} nodes × {} resources, {} simulated s each",
            s(&j["seeds"]).unwrap_or_default(),
            j["shard"]
                .as_object()
                .map(|sh| format!(" (shard {}/{})", sh["index"], sh["count"]))
                .unwrap_or_default(),
            j["config"]["nodes"],
            j["config"]["resources"],
            f(&j["config"]["duration"]).unwrap_or(0.0) / 1000.0
        ),
        Kind::Tla => format!(
            "tla/spec/{}.cfg{}",
            s(&j["config"]).unwrap_or_default(),
            s(&j["mutant"]).map_or(String::new(), |m| format!(" with {m}"))
        ),
        Kind::CrossCheck => "rebalanser tla --cross-check".into(),
    }
}

fn add_figures(into: &mut Figures, input: &Input) {
    let j = &input.json["figures"];
    let add = |a: &mut Option<u64>, b: Option<u64>| {
        if let Some(b) = b {
            *a = Some(a.unwrap_or(0) + b);
        }
    };
    match input.kind {
        Kind::Check => {
            add(&mut into.states, u(&j["unique_states"]));
            into.seconds +=
                f(&j["seconds"]).unwrap_or(0.0) + f(&j["liveness_seconds"]).unwrap_or(0.0);
        }
        Kind::Sim => {
            add(&mut into.seeds, u(&j["seeds"]));
            add(&mut into.events, u(&j["events"]));
            into.simulated_seconds = Some(
                into.simulated_seconds.unwrap_or(0.0) + f(&j["simulated_seconds"]).unwrap_or(0.0),
            );
            into.seconds += f(&j["seconds"]).unwrap_or(0.0);
        }
        Kind::Tla => {
            add(&mut into.states, u(&j["distinct_states"]));
            into.seconds += f(&j["seconds"]).unwrap_or(0.0);
        }
        Kind::CrossCheck => {}
    }
    let per = |n: Option<u64>| n.map(|n| n as f64 / into.seconds.max(1e-9));
    into.states_per_sec = per(into.states);
    into.seeds_per_sec = per(into.seeds);
}

fn add_coverage(into: &mut Option<CoverageReport>, json: &Json) -> Result<(), String> {
    let c: CoverageReport = serde_json::from_value(json["coverage"].clone())
        .map_err(|e| format!("its coverage: {e}"))?;
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
    Ok(())
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
        if input.kind == Kind::CrossCheck {
            // The kill matrix stands beside the properties; it does not run a checker.
            mutants = Some(mutant_rows(&input.json));
            parity = Some(parity.unwrap_or(true) && input.json["all_agree"] == true);
            continue;
        }
        let column = CHECKERS
            .iter()
            .position(|(k, _)| *k == input.kind.checker())
            .unwrap_or(0);
        let summary = &mut checkers[column];
        summary.runs += 1;
        summary.not_run = None;
        summary.configs.push(config_line(input));
        add_figures(&mut summary.figures, input);
        if input.kind == Kind::Sim {
            add_coverage(&mut coverage, &input.json)
                .map_err(|e| format!("--from {}: {e}", input.path.display()))?;
        }
        let found = match input.kind {
            Kind::Check => from_check(&input.json),
            Kind::Sim => from_sim(&input.json),
            Kind::Tla => from_tla(&input.json),
            Kind::CrossCheck => Vec::new(),
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
