//! One subject (the clean protocol, or one catalogued mutant) through each checker's plain
//! command, in process. The cross-check's rows and the report's quick profile are both made
//! of these runs, so the two cannot drift apart (bar the model checker's: see
//! [`model_request`]).

use super::check::{check, CheckRequest};
use super::sim::{sim, Seeds, SimRequest};
use super::Outcome;
use crate::result::sim::SimReport;
use model::check::{CheckOptions, CheckReport};
use protocol::Mutant;
use sim::config::SimConfig;
use sim::sweep::SeedRange;
use std::path::Path;
use tla::{TlaReport, TlcJob};

/// The simulator's seeds for every subject: those `rebalanser sim` runs by default.
pub const SEEDS: std::ops::Range<u64> = 0..1000;

/// The TLC configurations the clean protocol must pass: safety on the model checker's default
/// configuration, and liveness.
pub const CLEAN_TLC_CONFIGS: [&str; 2] = ["ci", "liveness"];

/// `clean` or the mutant's code.
pub fn code(subject: Option<Mutant>) -> &'static str {
    subject.map_or("clean", Mutant::code)
}

/// The model checker's request in the report's quick profile: the clean protocol on the
/// portfolio's `default` row, as `rebalanser check --config default` runs it (so its result
/// names the row, as that command's does); a mutant
/// through the plain portfolio, as `rebalanser check --mutant M` runs it (no configuration
/// tailored to the defect), stopping at the first configuration that kills it. The
/// cross-check runs the clean protocol through the whole portfolio instead (too long for the
/// quick profile), and a mutant on its own configuration.
pub fn model_request(subject: Option<Mutant>) -> CheckRequest {
    match subject {
        None => CheckRequest::Portfolio(
            vec![model::portfolio::find("default").expect("the portfolio has a default row")],
            None,
        ),
        Some(m) => CheckRequest::Portfolio(model::portfolio::entries(), Some(m)),
    }
}

/// The model checker on [`model_request`], liveness included, quietly.
pub fn model(subject: Option<Mutant>, threads: usize) -> Outcome<CheckReport> {
    let options = CheckOptions {
        threads,
        ..CheckOptions::quiet(true)
    };
    check(&model_request(subject), &options)
}

/// The simulator's request: the default scenario over [`SEEDS`] with the subject's defect;
/// with `keep_going` every seed runs, else the sweep stops at the lowest failing seed.
pub fn sim_request(subject: Option<Mutant>, threads: usize, keep_going: bool) -> SimRequest {
    SimRequest {
        config: SimConfig {
            mutant: subject,
            ..SimConfig::default()
        },
        seeds: Seeds::Range(
            SeedRange {
                start: SEEDS.start,
                end: SEEDS.end,
            },
            None,
        ),
        threads,
        keep_going,
        save_failures: None,
        trace: false,
        trace_json: None,
        quiet: true,
    }
}

/// The simulator on [`sim_request`].
pub fn simulate(
    subject: Option<Mutant>,
    threads: usize,
    keep_going: bool,
) -> Result<Outcome<SimReport>, String> {
    sim(&sim_request(subject, threads, keep_going))
}

/// The TLC configurations a subject runs: the clean ones, or the mutant's own (none for a
/// mutant the catalogue marks as outside TLC's abstraction).
pub fn tlc_configs(subject: Option<Mutant>) -> Vec<String> {
    match subject {
        None => CLEAN_TLC_CONFIGS.iter().map(|c| c.to_string()).collect(),
        Some(m) if outside_tlc(m) => Vec::new(),
        Some(m) => vec![format!("mutant-{}", m.code())],
    }
}

/// Whether the catalogue marks `m` as outside TLC's abstraction.
pub fn outside_tlc(m: Mutant) -> bool {
    m.outside()
        .is_some_and(|(checker, _)| checker == protocol::mutant::Checker::Tlc)
}

/// TLC's job for configuration `name` of the spec folder `dir`, with `mutant` set.
pub fn tlc_job(
    dir: &Path,
    name: &str,
    mutant: Option<Mutant>,
    workers: u16,
) -> Result<TlcJob, String> {
    let path = dir.join(format!("{name}.cfg"));
    let cfg = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(TlcJob {
        cfg: match mutant {
            Some(m) => tla::set_mutant(&cfg, m.code()),
            None => cfg,
        },
        label: name.to_string(),
        module: tla::SPEC.to_string(),
        files: Vec::new(),
        workers,
    })
}

/// TLC on one job of [`tlc_job`], with its text.
pub fn tlc_run(
    dir: &Path,
    job: &TlcJob,
    mutant: Option<Mutant>,
) -> Result<Outcome<TlaReport>, String> {
    let about = tla::configs(dir)
        .into_iter()
        .find(|(name, _)| *name == job.label)
        .map_or(String::new(), |(_, about)| about);
    let report = tla::run_tlc(dir, job)?.labelled(&about, mutant);
    Ok(Outcome {
        text: tla::command::render(&report),
        violated: report.violated_property().is_some(),
        result: report,
        error: None,
    })
}

/// The subject's TLC jobs ([`tlc_configs`]), prepared before anything runs so that a missing
/// configuration fails at once.
pub fn tlc_jobs(dir: &Path, subject: Option<Mutant>, workers: u16) -> Result<Vec<TlcJob>, String> {
    tlc_configs(subject)
        .iter()
        .map(|name| tlc_job(dir, name, subject, workers))
        .collect()
}

/// TLC on the subject's jobs, in order, until one is violated.
pub fn tlc(
    dir: &Path,
    subject: Option<Mutant>,
    jobs: &[TlcJob],
) -> Result<Vec<Outcome<TlaReport>>, String> {
    let mut out = Vec::new();
    for job in jobs {
        let run = tlc_run(dir, job, subject)?;
        let violated = run.violated;
        out.push(run);
        if violated {
            break;
        }
    }
    Ok(out)
}
