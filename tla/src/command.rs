//! The `rebalanser tla` command: a [`TlaRequest`] (or trace files) in, the report printed and
//! written as JSON, an exit code out (0: as expected; 1: a violation, or a replay that did not
//! reproduce it, or a rejected trace). `Err` is bad input or tools that cannot run (the CLI
//! exits 2).

use crate::tlc::{configs, run_tlc, set_mutant, spec_dir, tools_ready, TlaReport, TlcJob, SPEC};
use crate::{replay, trace};
use protocol::Mutant;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `rebalanser tla` was asked.
pub struct TlaRequest {
    /// The configuration's name.
    pub config: Option<String>,
    /// A mutant to set.
    pub mutant: Option<Mutant>,
    /// TLC workers.
    pub workers: u16,
    /// Write JSON here.
    pub json: Option<PathBuf>,
    /// List the configurations.
    pub list: bool,
    /// Replay the counterexample through the Rust core.
    pub replay: bool,
}

/// `rebalanser tla`.
pub fn run(req: TlaRequest) -> Result<ExitCode, String> {
    let dir = spec_dir()?;
    let all = configs(&dir);
    if req.list {
        for (name, about) in &all {
            println!("{name:<16} {about}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some((protocol::mutant::Checker::Tlc, why)) = req.mutant.and_then(|m| m.outside()) {
        let m = req.mutant.expect("just matched");
        return Err(format!(
            "--mutant {}: the catalogue marks it as outside TLC's abstraction: {why}; \
             `rebalanser check --mutant {}` and `rebalanser sim --mutant {}` find it",
            m.code(),
            m.code(),
            m.code()
        ));
    }
    let name = match (&req.config, req.mutant) {
        (Some(c), _) => c.clone(),
        (None, Some(m)) => format!("mutant-{}", m.code()),
        (None, None) => "ci".to_string(),
    };
    let Some((_, about)) = all.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        return Err(format!(
            "--config '{name}': no such configuration; expected one of: {}",
            names.join(", ")
        ));
    };
    if let Some(path) = &req.json {
        check_writable(path)?;
    }
    // Checked here as well as in run_tlc so that missing tools fail before the banner.
    tools_ready()?;
    let mut cfg = std::fs::read_to_string(dir.join(format!("{name}.cfg")))
        .map_err(|e| format!("--config {name}: {e}"))?;
    if let Some(m) = req.mutant {
        cfg = set_mutant(&cfg, m.code());
    }
    let job = if req.replay {
        replay::job(&dir, &name, &cfg, req.mutant, req.workers)
            .map_err(|e| format!("--replay on {name}: {e}"))?
    } else {
        TlcJob {
            label: name.clone(),
            module: SPEC.to_string(),
            files: Vec::new(),
            cfg: cfg.clone(),
            workers: req.workers,
        }
    };
    eprintln!(
        "TLC on {name}{}{}: {about}",
        req.mutant.map_or(String::new(), |m| format!(
            " with {} ({})",
            m.name(),
            m.code()
        )),
        if req.replay {
            ", watch streams stepwise and Hold = TRUE, for the replay"
        } else {
            ""
        }
    );
    let report = run_tlc(&dir, &job)?;
    let mut report = report.labelled(about, req.mutant);
    print!("{}", render(&report));
    if req.replay {
        if let Some(v) = &report.violation {
            let replayed = replay::replay(&job.cfg, req.mutant, &v.property, &v.counterexample)?;
            print!("{}", replay::render(&replayed));
            report.replay = Some(replayed);
        } else {
            println!("\nreplay: nothing to replay (TLC found no violation)");
        }
    }
    if let Some(path) = &req.json {
        write_json(path, &report)?;
    }
    let failed = match &report.replay {
        Some(r) => !r.reproduced,
        None => report.violation.is_some() && !req.replay,
    };
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `rebalanser tla --validate-trace FILES`.
pub fn validate_traces(
    files: &[PathBuf],
    workers: u16,
    json: Option<&Path>,
) -> Result<ExitCode, String> {
    let traces = files
        .iter()
        .map(|f| trace::load(f))
        .collect::<Result<Vec<_>, _>>()?;
    // Fail on traces of different configurations before any TLC run.
    trace::same_configuration(&traces)?;
    if let Some(path) = json {
        check_writable(path)?;
    }
    let dir = spec_dir()?;
    let result = trace::validate(&dir, &traces, workers)?;
    print!("{}", trace::render(&result));
    if let Some(path) = json {
        write_json(path, &result)?;
    }
    Ok(if result.accepted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One TLC run's report in words: figures, verdict, the counterexample's actions and its last
/// state.
pub fn render(r: &TlaReport) -> String {
    let f = &r.figures;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nTLC, {}: {} distinct states ({} generated); depth {}; {:.1} s",
        r.config, f.distinct_states, f.states_generated, f.depth, f.seconds
    );
    match &r.violation {
        None => {
            let _ = writeln!(out, "verdict: every invariant and property holds");
        }
        Some(v) => {
            let _ = writeln!(
                out,
                "\n{} VIOLATED; counterexample of {} states:",
                v.property, v.length
            );
            for (k, s) in v.counterexample.iter().enumerate() {
                let _ = writeln!(out, "  {:>3}. {}", k + 1, s.action);
            }
            if let Some(last) = v.counterexample.iter().rev().find(|s| !s.state.is_empty()) {
                let _ = writeln!(out, "  last state:");
                for l in last.state.lines() {
                    let _ = writeln!(out, "    {l}");
                }
            }
            let _ = writeln!(out, "\nverdict: VIOLATED");
        }
    }
    out
}

/// Fail before the work if `--json PATH` could not be written (as the CLI's other commands do).
fn check_writable(path: &Path) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "--json {}: folder {} does not exist",
            path.display(),
            dir.display()
        ));
    }
    if path.is_dir() {
        return Err(format!("--json {}: is a folder", path.display()));
    }
    Ok(())
}

/// Write a result as pretty JSON (as the CLI's other commands do).
fn write_json(path: &Path, value: &impl Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("--json {}: {e}", path.display()))
}
