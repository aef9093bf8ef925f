//! `sim`, `replay` and `shrink`: run the simulator, save what was asked, and return the typed
//! result with its text.

use super::Outcome;
use crate::files::check_writable;
use crate::result::sim::{
    properties, Failure, ShrinkReport, SimFigures, SimReport, SCHEMA_VERSION,
};
use crate::text::sim::{describe, render_failure, render_sweep, sim_command};
use protocol::Property;
use sim::config::SimConfig;
use sim::fault::FaultKind;
use sim::replay::{self, ReplayFile};
use sim::run::{run, RunOptions, RunResult, Violation};
use sim::sweep::{self, SeedRange, Shard, SweepOptions};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Which seeds to run.
#[derive(Clone, Copy, Debug)]
pub enum Seeds {
    /// One seed.
    One(u64),
    /// A range, maybe one shard of it.
    Range(SeedRange, Option<Shard>),
}

/// What `sim` was asked.
pub struct SimRequest {
    /// The configuration.
    pub config: SimConfig,
    /// The seeds.
    pub seeds: Seeds,
    /// Worker threads.
    pub threads: usize,
    /// Go on after a failure.
    pub keep_going: bool,
    /// Save a replay file per failing seed here.
    pub save_failures: Option<PathBuf>,
    /// Print the readable event log (one seed).
    pub trace: bool,
    /// Write NDJSON events (one seed).
    pub trace_json: Option<PathBuf>,
    /// No progress on stderr.
    pub quiet: bool,
}

// ------------------------------------------------------------------------- sim

/// `rebalanser sim`: bad input (an invalid configuration, an unwritable file, an empty shard)
/// is an `Err`.
pub fn sim(req: &SimRequest) -> Result<Outcome<SimReport>, String> {
    req.config.validate()?;
    if let Some(path) = &req.trace_json {
        check_writable(path)?;
    }
    if let Some(dir) = &req.save_failures {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("--save-failures {}: {e}", dir.display()))?;
    }
    if !req.quiet {
        eprintln!("{}", describe(&req.config));
    }
    match req.seeds {
        Seeds::One(seed) => one_seed(req, seed),
        Seeds::Range(range, shard) => many_seeds(req, range, shard),
    }
}

fn one_seed(req: &SimRequest, seed: u64) -> Result<Outcome<SimReport>, String> {
    let config = &req.config;
    let started = std::time::Instant::now();
    let traced = req.trace || req.trace_json.is_some();
    let result = run(config, seed, RunOptions { trace: traced });
    let seconds = started.elapsed().as_secs_f64();
    let mut out = String::new();
    if config.swarm {
        let _ = writeln!(out, "swarm mix of seed {seed}: {}", result.plan);
    }
    if req.trace {
        for s in &result.trace {
            let _ = writeln!(out, "{}", s.line());
        }
    }
    if let Some(path) = &req.trace_json {
        write_ndjson(path, &result)?;
    }
    let f = SimFigures::new(1, result.events, result.sim_ms, seconds);
    let _ = writeln!(
        out,
        "\nseed {seed}: trace hash {}; {} events, {:.1} simulated s in {:.3} s ({:.0}x real time)",
        replay::hex(result.hash),
        result.events,
        f.simulated_seconds,
        seconds,
        f.sim_to_real
    );
    if let Some(t) = result.converged_at {
        let _ = writeln!(
            out,
            "healed at {:.3} s, converged at {:.3} s",
            config.duration as f64 / 1000.0,
            t as f64 / 1000.0
        );
    }
    let failures = report_failures(
        &mut out,
        config,
        std::slice::from_ref(&result),
        req.save_failures.as_deref(),
    )?;
    let failed: Vec<&Violation> = result.violations.iter().collect();
    let report = SimReport {
        schema_version: SCHEMA_VERSION,
        command: "sim".into(),
        config: config.clone(),
        seeds: seed.to_string(),
        shard: None,
        liveness_bound_ms: config.liveness_bound(),
        figures: f,
        combined_hash: replay::hex(result.hash),
        properties: properties(config, &failed),
        failures,
        coverage: result.coverage.report(),
    };
    Ok(Outcome {
        violated: report.violated(),
        result: report,
        text: out,
        error: None,
    })
}

fn many_seeds(
    req: &SimRequest,
    range: SeedRange,
    shard: Option<Shard>,
) -> Result<Outcome<SimReport>, String> {
    if req.trace || req.trace_json.is_some() {
        return Err("--trace and --trace-json need a single --seed".into());
    }
    let config = &req.config;
    let seeds: Vec<u64> = sweep::seeds(range, shard).collect();
    if seeds.is_empty() {
        return Err(format!(
            "--shard {}/{}: no seed of {}..{} falls in this shard",
            shard.map_or(1, |s| s.index),
            shard.map_or(1, |s| s.count),
            range.start,
            range.end
        ));
    }
    if !req.quiet {
        eprintln!(
            "seeds {}..{}{}: {} seed(s) on {} thread(s){}",
            range.start,
            range.end,
            shard.map_or(String::new(), |s| format!(" shard {}/{}", s.index, s.count)),
            seeds.len(),
            req.threads,
            if req.keep_going {
                ""
            } else {
                ", stopping at the first failure"
            }
        );
    }
    let progress = |done: usize, total: usize, failed: usize| {
        eprintln!("  {done}/{total} seeds, {failed} failing");
    };
    let options = SweepOptions {
        threads: req.threads,
        keep_going: req.keep_going,
    };
    let result = sweep::sweep(
        config,
        &seeds,
        options,
        (!req.quiet).then_some(&progress as sweep::Progress<'_>),
    );
    let mut out = String::new();
    render_sweep(&mut out, config, &result);
    // Re-run the failing seeds (deterministically) to show their last events.
    let failing: Vec<RunResult> = result
        .failures()
        .take(if req.keep_going { 5 } else { 1 })
        .map(|o| run(config, o.seed, RunOptions::default()))
        .collect();
    let failures = report_failures(&mut out, config, &failing, req.save_failures.as_deref())?;
    let more = result.failures().count().saturating_sub(failing.len());
    if more > 0 {
        let _ = writeln!(out, "... and {more} more failing seed(s) (see --json)");
    }
    let failed: Vec<&Violation> = result.failures().flat_map(|o| &o.violations).collect();
    let all_failures = result
        .failures()
        .map(|o| failure_entry(config, o.seed, o.hash, &o.violations, None))
        .collect();
    let report = SimReport {
        schema_version: SCHEMA_VERSION,
        command: "sim".into(),
        config: config.clone(),
        seeds: format!("{}..{}", range.start, range.end),
        shard,
        liveness_bound_ms: config.liveness_bound(),
        figures: SimFigures::new(
            result.outcomes.len(),
            result.events(),
            result.sim_ms(),
            result.seconds,
        ),
        combined_hash: replay::hex(result.combined_hash),
        properties: properties(config, &failed),
        failures: if failures.is_empty() {
            all_failures
        } else {
            merge_failures(failures, all_failures)
        },
        coverage: result.coverage.report(),
    };
    let violated = result.failures().next().is_some();
    Ok(Outcome {
        violated,
        result: report,
        text: out,
        error: None,
    })
}

/// The detailed entries first, then the rest of the failing seeds.
fn merge_failures(detailed: Vec<Failure>, all: Vec<Failure>) -> Vec<Failure> {
    let seen: Vec<u64> = detailed.iter().map(|f| f.seed).collect();
    detailed
        .into_iter()
        .chain(all.into_iter().filter(|f| !seen.contains(&f.seed)))
        .collect()
}

fn failure_entry(
    config: &SimConfig,
    seed: u64,
    hash: u64,
    violations: &[Violation],
    file: Option<&Path>,
) -> Failure {
    let first = &violations[0];
    Failure {
        seed,
        hash: replay::hex(hash),
        property: first.property.clone(),
        time_ms: first.time_ms,
        label: first.label().to_string(),
        detail: first.detail.clone(),
        violations: violations.to_vec(),
        breaches: first.breaches.clone(),
        replay_command: sim_command(config, seed),
        replay_file: file.map(|p| p.display().to_string()),
    }
}

/// Print each failing run: its violations, its last events, how to replay it; save replay files.
fn report_failures(
    out: &mut String,
    config: &SimConfig,
    results: &[RunResult],
    save_to: Option<&Path>,
) -> Result<Vec<Failure>, String> {
    let mut entries = Vec::new();
    for r in results.iter().filter(|r| !r.violations.is_empty()) {
        let resolved = replay::resolved(config, r);
        let file = match save_to {
            Some(dir) => {
                let path = dir.join(format!("seed-{}.json", r.seed));
                ReplayFile::new(config, r).save(&path)?;
                Some(path)
            }
            None => None,
        };
        if config.swarm {
            let _ = writeln!(out, "\nswarm mix of seed {}: {}", r.seed, r.plan);
        }
        render_failure(out, &resolved, r, file.as_deref());
        entries.push(failure_entry(
            config,
            r.seed,
            r.hash,
            &r.violations,
            file.as_deref(),
        ));
    }
    Ok(entries)
}

fn write_ndjson(path: &Path, result: &RunResult) -> Result<(), String> {
    let err = |e: std::io::Error| format!("--trace-json {}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(err)?;
    let mut w = std::io::BufWriter::new(file);
    for s in &result.trace {
        serde_json::to_writer(&mut w, s).map_err(|e| e.to_string())?;
        w.write_all(b"\n").map_err(err)?;
    }
    w.flush().map_err(err)
}

// ------------------------------------------------------------------------- replay

/// `rebalanser replay FILE`: the saved run again, with its trace if asked; a replay whose trace
/// hash differs from the saved one sets [`Outcome::error`].
pub fn replay(
    file: &Path,
    trace: bool,
    trace_json: Option<&Path>,
) -> Result<Outcome<SimReport>, String> {
    let saved = ReplayFile::load(file)?;
    if let Some(path) = trace_json {
        check_writable(path)?;
    }
    if saved.crate_version != env!("CARGO_PKG_VERSION") {
        eprintln!(
            "warning: {} was written by version {}, this is {}: the hash may differ",
            file.display(),
            saved.crate_version,
            env!("CARGO_PKG_VERSION")
        );
    }
    let started = std::time::Instant::now();
    let result = run(
        &saved.config,
        saved.seed,
        RunOptions {
            trace: trace || trace_json.is_some(),
        },
    );
    let seconds = started.elapsed().as_secs_f64();
    let mut out = String::new();
    if trace {
        for s in &result.trace {
            let _ = writeln!(out, "{}", s.line());
        }
    }
    if let Some(path) = trace_json {
        write_ndjson(path, &result)?;
    }
    let same = result.hash == saved.hash_value();
    let _ = writeln!(
        out,
        "\nreplayed seed {}: trace hash {} ({}); {} events in {:.3} s",
        saved.seed,
        replay::hex(result.hash),
        if same {
            "identical to the saved run".to_string()
        } else {
            format!("DIFFERS from the saved {}", saved.hash)
        },
        result.events,
        seconds
    );
    let failures = report_failures(&mut out, &saved.config, std::slice::from_ref(&result), None)?;
    if result.violations.is_empty() {
        let _ = writeln!(out, "no violation");
    }
    let failed: Vec<&Violation> = result.violations.iter().collect();
    let report = SimReport {
        schema_version: SCHEMA_VERSION,
        command: "replay".into(),
        config: saved.config.clone(),
        seeds: saved.seed.to_string(),
        shard: None,
        liveness_bound_ms: saved.config.liveness_bound(),
        figures: SimFigures::new(1, result.events, result.sim_ms, seconds),
        combined_hash: replay::hex(result.hash),
        properties: properties(&saved.config, &failed),
        failures,
        coverage: result.coverage.report(),
    };
    let error = (!same).then(|| {
        format!(
            "replay of {} diverged: trace hash {} instead of {} (a different build, or a \
             nondeterminism bug)",
            file.display(),
            replay::hex(result.hash),
            saved.hash
        )
    });
    Ok(Outcome {
        violated: report.violated(),
        result: report,
        text: out,
        error,
    })
}

// ------------------------------------------------------------------------- shrink

/// `rebalanser shrink FILE`: the smallest run found that fails the same way, saved as a replay
/// file at `out_path` (default: beside `file`, `.shrunk.json`).
pub fn shrink(
    file: &Path,
    out_path: Option<&Path>,
    property: Option<&str>,
    options: sim::shrink::ShrinkOptions,
) -> Result<Outcome<ShrinkReport>, String> {
    let saved = ReplayFile::load(file)?;
    if let Some(p) = property {
        if Property::from_name(p).is_none() && p != "event_budget" {
            return Err(format!("--property '{p}': no such property"));
        }
    }
    let target = out_path.map(Path::to_path_buf).unwrap_or_else(|| {
        let stem = file
            .file_stem()
            .map_or("replay".into(), |s| s.to_string_lossy().into_owned());
        file.with_file_name(format!("{stem}.shrunk.json"))
    });
    let started = std::time::Instant::now();
    let shrunk = sim::shrink::shrink(&saved.config, saved.seed, property, options)?;
    let seconds = started.elapsed().as_secs_f64();
    ReplayFile::new(&shrunk.config, &shrunk.result).save(&target)?;
    let (b, a) = (&shrunk.before, &shrunk.after);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "shrunk seed {} for {} in {} attempt(s), {:.2} s:",
        saved.seed, shrunk.property, shrunk.attempts, seconds
    );
    let r = &shrunk.reduced;
    let label = |s: &sim::shrink::Size| {
        if s.breached {
            "breached"
        } else {
            "protocol"
        }
    };
    let rows = [
        ("faults before the failure", b.faults, r.faults, a.faults),
        ("events before the failure", b.events, r.events, a.events),
        ("fault phase (ms)", b.duration, r.duration, a.duration),
        ("nodes", b.nodes as u64, r.nodes as u64, a.nodes as u64),
        (
            "resources",
            b.resources as u64,
            r.resources as u64,
            a.resources as u64,
        ),
        (
            "fault kinds on",
            b.kinds as u64,
            r.kinds as u64,
            a.kinds as u64,
        ),
    ];
    if shrunk.regrown {
        let _ = writeln!(
            out,
            "  {:<28} {:>10} {:>10} {:>10}",
            "", "before", "reduced", "regrown"
        );
        let _ = writeln!(
            out,
            "  {:<28} {:>10} {:>10} {:>10}",
            "label",
            label(b),
            label(r),
            label(a)
        );
        for (name, x, y, z) in rows {
            let _ = writeln!(out, "  {name:<28} {x:>10} {y:>10} {z:>10}");
        }
        let _ = writeln!(
            out,
            "regrown: seed {} fails the same way (the same property, after the same last fault) \
             in a smaller group; the reduced run of seed {} is the middle column",
            shrunk.seed, saved.seed
        );
    } else {
        let _ = writeln!(out, "  {:<28} {:>10} {:>10}", "", "before", "after");
        let _ = writeln!(out, "  {:<28} {:>10} {:>10}", "label", label(b), label(a));
        for (name, x, _, z) in rows {
            let _ = writeln!(out, "  {name:<28} {x:>10} {z:>10}");
        }
    }
    let script: Vec<String> = shrunk
        .config
        .script
        .iter()
        .flatten()
        .map(|f| f.describe())
        .collect();
    let _ = writeln!(out, "fault kinds on: {}", shrunk.config.faults);
    if script.is_empty() {
        let _ = writeln!(out, "faults injected: none");
    } else {
        let _ = writeln!(out, "faults injected:");
        for f in &script {
            let _ = writeln!(out, "  {f}");
        }
    }
    if shrunk.config.faults.has(FaultKind::Reorder) {
        let _ = writeln!(
            out,
            "  (and reorder: messages may overtake each other; counted as one fault)"
        );
    }
    let _ = writeln!(
        out,
        "the run ends at the failure (event {}); a replay takes its other random choices from \
         the {} run",
        a.events - 1,
        if shrunk.regrown {
            "regrown seed's own"
        } else {
            "original"
        }
    );
    let _ = writeln!(out, "saved {}", target.display());
    let _ = writeln!(
        out,
        "replay: rebalanser replay {} --trace",
        target.display()
    );
    let report = ShrinkReport {
        schema_version: SCHEMA_VERSION,
        command: "shrink".into(),
        property: shrunk.property.clone(),
        before: shrunk.before,
        reduced: shrunk.reduced,
        after: shrunk.after,
        seed: shrunk.seed,
        regrown: shrunk.regrown,
        attempts: shrunk.attempts,
        seconds,
        faults: script,
        saved: target.display().to_string(),
    };
    Ok(Outcome {
        result: report,
        text: out,
        violated: false,
        error: None,
    })
}

/// Apply `--rate KIND=RATE` settings.
pub fn apply_rates(config: &mut SimConfig, rates: &[String]) -> Result<(), String> {
    for spec in rates {
        config.faults.set_rate(spec)?;
    }
    Ok(())
}
