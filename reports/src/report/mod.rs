//! `rebalanser report`: run the checkers with a profile's settings (or read their results
//! with `--from`), and write one invariant report for CI: `report.json` (schema-versioned),
//! `report.md` (for a pull-request comment, appended to `$GITHUB_STEP_SUMMARY` when that is
//! set), `junit.xml` (one test case per property × checker) and `report.html` (one
//! self-contained page with the matrix, the figures, the coverage heat map and every
//! counterexample as a sequence diagram). Exit 1 if any property is
//! violated anywhere, 0 otherwise, 2 on bad input.
//!
//! The report runs each checker in process through its library ([`profile`]), writes each
//! typed result to `results/` as its command's `--json` would, and assembles the report from
//! the typed results: running and merging (`--from`, e.g. the shards of one sweep run on
//! several machines) meet in one [`inputs::Input`].

pub mod assemble;
pub mod heatmap;
pub mod history;
pub mod html;
pub mod inputs;
pub mod junit;
pub mod markdown;
pub mod markup;
pub mod profile;
pub mod sequence;
pub mod sim_steps;

use crate::files::{check_writable, write_json};
use crate::result::Checked;
use crate::run::Outcome;
use protocol::Mutant;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use profile::Profile;

/// What `rebalanser report` was asked.
pub struct ReportRequest {
    /// The folder to write into.
    pub out: PathBuf,
    /// How much to run.
    pub profile: Profile,
    /// Results to merge instead of running the checkers.
    pub from: Vec<PathBuf>,
    /// Run the checkers with this mutant.
    pub mutant: Option<Mutant>,
    /// Earlier reports, for the trend.
    pub history: Option<PathBuf>,
    /// Threads for each checker.
    pub workers: u16,
}

/// `rebalanser report`.
/// `rebalanser report`: the report files are written into `req.out`; the outcome's text is the
/// summary for the terminal.
pub fn run(req: ReportRequest) -> Result<Outcome<assemble::Report>, String> {
    std::fs::create_dir_all(&req.out).map_err(|e| format!("--out {}: {e}", req.out.display()))?;
    for file in ["report.json", "report.md", "junit.xml", "report.html"] {
        check_writable(&req.out.join(file))?;
    }
    // Read before the checkers run, so that a bad history fails at once.
    let history = match &req.history {
        Some(dir) => history::read(dir)?,
        None => Vec::new(),
    };
    let started = Instant::now();
    let (inputs, not_run, profile, mutant) = if req.from.is_empty() {
        let (inputs, not_run) = run_profile(&req)?;
        let mutant = req.mutant.map(|m| m.code().to_string());
        (inputs, not_run, req.profile.name().to_string(), mutant)
    } else {
        let inputs = req
            .from
            .iter()
            .map(|p| inputs::read(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mutant = inputs.iter().find_map(mutant_of);
        let mut not_run = BTreeMap::new();
        for (key, _) in assemble::CHECKERS {
            if !inputs.iter().any(|i| i.kind().checker() == key) {
                not_run.insert(key, "no result of it among --from".to_string());
            }
        }
        (inputs, not_run, "from".to_string(), mutant)
    };
    let report = assemble::assemble(&inputs, &profile, mutant.as_deref(), &not_run)?;
    let md = markdown::render(&report);
    write_json(&req.out.join("report.json"), &report)?;
    write(&req.out.join("report.md"), &md)?;
    write(&req.out.join("junit.xml"), &junit::render(&report))?;
    write(
        &req.out.join("report.html"),
        &html::render(&report, &history),
    )?;
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        append(Path::new(&summary), &md)?;
    }
    let text = format!(
        "{}\nwrote report.json, report.md, junit.xml and report.html to {} in {:.1} s\n",
        summary(&report),
        req.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(Outcome {
        violated: report.violated(),
        result: report,
        text,
        error: None,
    })
}

/// The mutant a result was checked with, if any, by its code.
fn mutant_of(input: &inputs::Input) -> Option<String> {
    match &input.result {
        Checked::Check(r) => r.config.mutant.map(|m| m.code().to_string()),
        Checked::Sim(r) => r.config.mutant.map(|m| m.code().to_string()),
        // TLC's result holds it as its code.
        Checked::Tla(r) => r.mutant.clone(),
        Checked::CrossCheck(_) => None,
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("GITHUB_STEP_SUMMARY {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("GITHUB_STEP_SUMMARY {}: {e}", path.display()))
}

/// The verdict and matrix on the terminal.
fn summary(r: &assemble::Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<34} {:<16} {:<16} {:<16}",
        "property", "model checker", "simulator", "TLC"
    );
    for p in &r.properties {
        let cells: Vec<String> = p.cells.iter().map(|c| c.status.replace('_', " ")).collect();
        let _ = writeln!(
            out,
            "{:<34} {:<16} {:<16} {:<16}",
            p.name, cells[0], cells[1], cells[2]
        );
    }
    for c in &r.checkers {
        if let Some(why) = &c.not_run {
            let _ = writeln!(out, "{}: not run ({why})", c.title);
        }
    }
    for p in &r.properties {
        for (c, (_, title)) in p.cells.iter().zip(assemble::CHECKERS) {
            if c.status == "violated" {
                let _ = writeln!(
                    out,
                    "\n{} VIOLATED under {}: {}\n  replay: {}",
                    p.name,
                    assemble::in_sentence(title),
                    c.detail.as_deref().unwrap_or(""),
                    c.replay.as_deref().unwrap_or("-")
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\nverdict: {}",
        if r.violated() {
            "VIOLATED"
        } else {
            "every property holds"
        }
    );
    out
}

/// Run the profile's checkers in process, each result written to `results/` and each text to
/// `logs/`; their results, and why a checker has none.
#[allow(clippy::type_complexity)]
fn run_profile(
    req: &ReportRequest,
) -> Result<(Vec<inputs::Input>, BTreeMap<&'static str, String>), String> {
    let results = req.out.join("results");
    let logs = req.out.join("logs");
    for dir in [&results, &logs] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let runs = profile::runs(req.profile, req.mutant, req.workers);
    let mut inputs = Vec::new();
    let mut not_run: BTreeMap<&'static str, String> = BTreeMap::new();
    for (k, run) in runs.iter().enumerate() {
        let json = results.join(format!("{}.json", run.name));
        let log = logs.join(format!("{}.txt", run.name));
        let _ = std::fs::remove_file(&json);
        eprintln!(
            "report [{}/{}]: rebalanser {}",
            k + 1,
            runs.len(),
            run.command
        );
        let started = Instant::now();
        match profile::run(&run.job, req.workers) {
            Ok((result, text)) => {
                eprintln!(
                    "  {} in {:.1} s (output: {})",
                    if result.violated() {
                        "violated"
                    } else {
                        "done"
                    },
                    started.elapsed().as_secs_f64(),
                    log.display()
                );
                write(&log, &text)?;
                write_json(&json, &result)?;
                inputs.push(inputs::Input { path: json, result });
            }
            Err(why) => {
                // The checker could not run (TLC without Java, say); the message says why.
                write(&log, &format!("error: {why}\n"))?;
                eprintln!("  {} not run: {why}", run.checker);
                not_run.entry(run.checker).or_insert(why);
            }
        }
    }
    // A checker with some results counts as run.
    for i in &inputs {
        not_run.remove(i.kind().checker());
    }
    Ok((inputs, not_run))
}
