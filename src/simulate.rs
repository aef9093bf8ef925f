//! `sim`, `replay` and `shrink`: the simulator's commands, what they print and what they write.

use crate::output;
use protocol::Property;
use serde::Serialize;
use sim::config::SimConfig;
use sim::coverage::CoverageReport;
use sim::fault::FaultKind;
use sim::replay::{self, ReplayFile};
use sim::run::{run, RunOptions, RunResult, Violation};
use sim::sweep::{self, SeedRange, Shard, SweepOptions, SweepResult};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The JSON layout of `sim`, `replay` and `shrink` results.
pub const SCHEMA_VERSION: u32 = 1;

/// How many trailing events a violation report shows.
const LAST_EVENTS: usize = 25;

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
    /// Write the result as JSON.
    pub json: Option<PathBuf>,
    /// Print the readable event log (one seed).
    pub trace: bool,
    /// Write NDJSON events (one seed).
    pub trace_json: Option<PathBuf>,
    /// No progress on stderr.
    pub quiet: bool,
}

/// Parse a duration: `120s`, `2m`, `500ms`, `1h`.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration; expected e.g. 120s, 2m, 500ms, 1h"))?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" | "min" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "" => {
            return Err(format!(
                "'{s}' has no unit; add one: ms, s, m or h (e.g. 120s)"
            ))
        }
        other => return Err(format!("'{s}': unknown unit '{other}'; use ms, s, m or h")),
    };
    ms.filter(|ms| *ms > 0)
        .ok_or_else(|| format!("'{s}' must be between 1 ms and 24 h"))
}

/// The `rebalanser sim` command line that reproduces one seed of `config`, if flags can say it
/// all (a shrunk configuration needs its replay file).
pub fn sim_command(config: &SimConfig, seed: u64) -> Option<String> {
    let d = SimConfig::default();
    if !config.skip.is_empty()
        || config.script.is_some()
        || config.stop_at.is_some()
        || config.draws_from.is_some()
        || config.timing != d.timing
        || config.envelope != d.envelope
        || config.network != d.network
    {
        return None;
    }
    let mut cmd = format!(
        "rebalanser sim --seed {seed} --nodes {} --resources {} --duration {}ms",
        config.nodes, config.resources, config.duration
    );
    if config.swarm {
        cmd.push_str(" --swarm");
    } else if config.faults != sim::FaultPlan::all() {
        let kinds: Vec<&str> = config.faults.rates.keys().map(|k| k.name()).collect();
        let list = if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds.join(",")
        };
        let _ = write!(cmd, " --faults {list}");
        for (k, r) in &config.faults.rates {
            if *r != k.default_rate() {
                let _ = write!(cmd, " --rate {k}={r}");
            }
        }
    }
    if let Some(m) = config.mutant {
        let _ = write!(cmd, " --mutant {}", m.name());
    }
    if config.breach_assumptions {
        cmd.push_str(" --breach-assumptions");
    }
    if !config.liveness {
        cmd.push_str(" --no-liveness");
    }
    Some(cmd)
}

/// One line on what is simulated.
pub fn describe(config: &SimConfig) -> String {
    let faults = if config.swarm {
        "swarm (each seed draws its own mix)".to_string()
    } else {
        config.faults.to_string()
    };
    let liveness = if config.liveness {
        format!(
            "then heal and converge within {:.1} s",
            config.liveness_bound() as f64 / 1000.0
        )
    } else {
        "no liveness check".to_string()
    };
    format!(
        "simulating {} node(s) x {} resource(s), {:.1} s of faults, {liveness}; ttl {} ms, \
         drift <= {}‰, pause <= {} ms, stop <= {} ms{}; mutant {}\nfaults: {faults}",
        config.nodes,
        config.resources,
        config.duration as f64 / 1000.0,
        config.timing.ttl,
        config.timing.max_drift_permille,
        config.envelope.max_pause,
        config.envelope.max_stop(&config.timing),
        if config.breach_assumptions {
            "; BREACHING the timing assumptions"
        } else {
            ""
        },
        config.mutant.map_or("none".to_string(), |m| format!(
            "{} ({})",
            m.name(),
            m.code()
        )),
    )
}

// ------------------------------------------------------------------------- JSON

#[derive(Serialize)]
struct Figures {
    seeds: usize,
    seconds: f64,
    seeds_per_sec: f64,
    events: u64,
    events_per_sec: f64,
    simulated_seconds: f64,
    sim_to_real: f64,
}

#[derive(Serialize)]
struct PropertyEntry {
    name: &'static str,
    kind: &'static str,
    status: &'static str,
    failing_seeds: usize,
}

#[derive(Serialize)]
struct Failure {
    seed: u64,
    hash: String,
    property: String,
    time_ms: u64,
    label: &'static str,
    detail: String,
    violations: Vec<Violation>,
    breaches: Vec<String>,
    replay_command: Option<String>,
    replay_file: Option<String>,
}

#[derive(Serialize)]
struct SimReport<'a> {
    schema_version: u32,
    command: &'static str,
    config: &'a SimConfig,
    seeds: String,
    shard: Option<Shard>,
    liveness_bound_ms: u64,
    figures: Figures,
    combined_hash: String,
    properties: Vec<PropertyEntry>,
    failures: Vec<Failure>,
    coverage: CoverageReport,
}

fn figures(seeds: usize, events: u64, sim_ms: u64, seconds: f64) -> Figures {
    let s = seconds.max(1e-9);
    Figures {
        seeds,
        seconds,
        seeds_per_sec: seeds as f64 / s,
        events,
        events_per_sec: events as f64 / s,
        simulated_seconds: sim_ms as f64 / 1000.0,
        sim_to_real: sim_ms as f64 / 1000.0 / s,
    }
}

fn properties(config: &SimConfig, failed: &[&Violation]) -> Vec<PropertyEntry> {
    Property::ALL
        .into_iter()
        .map(|p| {
            let n = failed.iter().filter(|v| v.property == p.name()).count();
            let checked = config.liveness || p.kind() == protocol::properties::Kind::Always;
            PropertyEntry {
                name: p.name(),
                kind: match p.kind() {
                    protocol::properties::Kind::Always => "always",
                    protocol::properties::Kind::Eventually => "eventually",
                },
                status: if n > 0 {
                    "violated"
                } else if checked {
                    "holds"
                } else {
                    "not checked"
                },
                failing_seeds: n,
            }
        })
        .collect()
}

// ------------------------------------------------------------------------- sim

/// `rebalanser sim`.
pub fn sim_command_run(req: SimRequest) -> Result<ExitCode, String> {
    req.config.validate()?;
    for path in req.json.iter().chain(&req.trace_json) {
        output::check_writable(path)?;
    }
    if let Some(dir) = &req.save_failures {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("--save-failures {}: {e}", dir.display()))?;
    }
    if !req.quiet {
        eprintln!("{}", describe(&req.config));
    }
    match req.seeds {
        Seeds::One(seed) => one_seed(&req, seed),
        Seeds::Range(range, shard) => many_seeds(&req, range, shard),
    }
}

fn one_seed(req: &SimRequest, seed: u64) -> Result<ExitCode, String> {
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
    let f = figures(1, result.events, result.sim_ms, seconds);
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
    print!("{out}");
    if let Some(path) = &req.json {
        let failed: Vec<&Violation> = result.violations.iter().collect();
        let report = SimReport {
            schema_version: SCHEMA_VERSION,
            command: "sim",
            config,
            seeds: seed.to_string(),
            shard: None,
            liveness_bound_ms: config.liveness_bound(),
            figures: f,
            combined_hash: replay::hex(result.hash),
            properties: properties(config, &failed),
            failures,
            coverage: result.coverage.report(),
        };
        output::write_json(path, &report)?;
    }
    Ok(exit(!result.violations.is_empty()))
}

fn many_seeds(
    req: &SimRequest,
    range: SeedRange,
    shard: Option<Shard>,
) -> Result<ExitCode, String> {
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
    print!("{out}");
    if let Some(path) = &req.json {
        let failed: Vec<&Violation> = result.failures().flat_map(|o| &o.violations).collect();
        let all_failures = result
            .failures()
            .map(|o| failure_entry(config, o.seed, o.hash, &o.violations, None))
            .collect();
        let report = SimReport {
            schema_version: SCHEMA_VERSION,
            command: "sim",
            config,
            seeds: format!("{}..{}", range.start, range.end),
            shard,
            liveness_bound_ms: config.liveness_bound(),
            figures: figures(
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
        output::write_json(path, &report)?;
    }
    let violated = result.failures().next().is_some();
    Ok(exit(violated))
}

/// The detailed entries first, then the rest of the failing seeds.
fn merge_failures(detailed: Vec<Failure>, all: Vec<Failure>) -> Vec<Failure> {
    let seen: Vec<u64> = detailed.iter().map(|f| f.seed).collect();
    detailed
        .into_iter()
        .chain(all.into_iter().filter(|f| !seen.contains(&f.seed)))
        .collect()
}

fn render_sweep(out: &mut String, config: &SimConfig, r: &SweepResult) {
    let f = figures(r.outcomes.len(), r.events(), r.sim_ms(), r.seconds);
    let _ = writeln!(
        out,
        "\nseeds run: {} in {:.2} s ({:.0} seeds/s); {} events ({:.0} events/s); {:.0} simulated \
         s ({:.0}x real time)",
        f.seeds,
        f.seconds,
        f.seeds_per_sec,
        f.events,
        f.events_per_sec,
        f.simulated_seconds,
        f.sim_to_real
    );
    let _ = writeln!(out, "combined trace hash: {}", replay::hex(r.combined_hash));
    let cov = r.coverage.report();
    let _ = writeln!(
        out,
        "\nrequest/reply failures injected, by registry operation:"
    );
    let _ = writeln!(
        out,
        "  {:<20} {}",
        "",
        sim::coverage::OPS
            .iter()
            .map(|o| format!("{o:>12}"))
            .collect::<String>()
    );
    for (step, by_op) in &cov.rpc {
        let cells: String = sim::coverage::OPS
            .iter()
            .map(|o| format!("{:>12}", by_op[*o]))
            .collect();
        let _ = writeln!(out, "  {step:<20} {cells}");
    }
    let env: Vec<String> = cov
        .environment
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(out, "environment faults: {}", env.join(", "));
    if cov.assumption_breaches > 0 {
        let _ = writeln!(
            out,
            "faults outside the timing envelope: {}",
            cov.assumption_breaches
        );
    }
    let missing = r.coverage.missing_steps();
    let wanted: Vec<_> = missing
        .iter()
        .filter(|s| config.swarm || config.faults.has(FaultKind::Rpc(**s)))
        .map(|s| s.name())
        .collect();
    if !wanted.is_empty() {
        let _ = writeln!(out, "note: never injected: {}", wanted.join(", "));
    }
    if config.swarm {
        let on: Vec<String> = FaultKind::ALL
            .iter()
            .map(|k| {
                let n = r.outcomes.iter().filter(|o| o.plan.has(*k)).count();
                format!("{k} {n}")
            })
            .collect();
        let _ = writeln!(out, "swarm: seeds with each fault on: {}", on.join(", "));
    }
    let failing = r.failures().count();
    let _ = writeln!(out, "\nproperties:");
    let failed: Vec<&Violation> = r.failures().flat_map(|o| &o.violations).collect();
    for p in properties(config, &failed) {
        let _ = writeln!(
            out,
            "  {:<10} {:<24} {}{}",
            p.kind,
            p.name,
            p.status,
            if p.failing_seeds > 0 {
                format!(" (in {} seed(s))", p.failing_seeds)
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(
        out,
        "\nverdict: {}",
        if failing == 0 {
            "no violation".to_string()
        } else {
            format!("VIOLATED in {failing} seed(s)")
        }
    );
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
        label: first.label(),
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

fn render_failure(out: &mut String, config: &SimConfig, r: &RunResult, file: Option<&Path>) {
    let first = &r.violations[0];
    let _ = writeln!(
        out,
        "\nseed {} VIOLATED {} at {:.3} s (event {}) [{}]",
        r.seed,
        first.property,
        first.time_ms as f64 / 1000.0,
        first.step,
        first.label()
    );
    for v in &r.violations {
        let _ = writeln!(
            out,
            "  {} at {:.3} s: {}",
            v.property,
            v.time_ms as f64 / 1000.0,
            v.detail.replace('\n', "\n    ")
        );
    }
    if !first.breaches.is_empty() {
        let _ = writeln!(out, "  faults outside the timing envelope before it:");
        for b in &first.breaches {
            let _ = writeln!(out, "    {b}");
        }
    }
    // The run is deterministic: run it again with the trace on to show how it got there.
    let traced = run(config, r.seed, RunOptions { trace: true });
    let end = (first.step as usize).min(traced.trace.len().saturating_sub(1));
    let start = end.saturating_sub(LAST_EVENTS - 1);
    let _ = writeln!(out, "  the last {} events:", end + 1 - start);
    for s in &traced.trace[start..=end] {
        let _ = writeln!(out, "  {}", s.line().replace('\n', "\n  "));
    }
    if let Some(cmd) = sim_command(config, r.seed) {
        let _ = writeln!(out, "  replay: {cmd} --trace");
    }
    if let Some(path) = file {
        let _ = writeln!(
            out,
            "  replay: rebalanser replay {} --trace",
            path.display()
        );
        let _ = writeln!(out, "  shrink: rebalanser shrink {}", path.display());
    }
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

fn exit(violated: bool) -> ExitCode {
    if violated {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

// ------------------------------------------------------------------------- replay

/// `rebalanser replay FILE`.
pub fn replay_run(
    file: &Path,
    trace: bool,
    trace_json: Option<&Path>,
    json: Option<&Path>,
) -> Result<ExitCode, String> {
    let saved = ReplayFile::load(file)?;
    for path in json.iter().chain(&trace_json) {
        output::check_writable(path)?;
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
    print!("{out}");
    if let Some(path) = json {
        let failed: Vec<&Violation> = result.violations.iter().collect();
        let report = SimReport {
            schema_version: SCHEMA_VERSION,
            command: "replay",
            config: &saved.config,
            seeds: saved.seed.to_string(),
            shard: None,
            liveness_bound_ms: saved.config.liveness_bound(),
            figures: figures(1, result.events, result.sim_ms, seconds),
            combined_hash: replay::hex(result.hash),
            properties: properties(&saved.config, &failed),
            failures,
            coverage: result.coverage.report(),
        };
        output::write_json(path, &report)?;
    }
    if !same {
        return Err(format!(
            "replay of {} diverged: trace hash {} instead of {} (a different build, or a \
             nondeterminism bug)",
            file.display(),
            replay::hex(result.hash),
            saved.hash
        ));
    }
    Ok(exit(!result.violations.is_empty()))
}

// ------------------------------------------------------------------------- shrink

#[derive(Serialize)]
struct ShrinkReport {
    schema_version: u32,
    command: &'static str,
    property: String,
    before: sim::shrink::Size,
    /// The failing seed's own run, reduced.
    reduced: sim::shrink::Size,
    after: sim::shrink::Size,
    /// The shrunk run's seed (another than the failing one's if regrown).
    seed: u64,
    regrown: bool,
    attempts: u32,
    seconds: f64,
    /// The faults the shrunk run injects, readably, in order.
    faults: Vec<String>,
    saved: String,
}

/// `rebalanser shrink FILE`.
pub fn shrink_run(
    file: &Path,
    out_path: Option<&Path>,
    property: Option<&str>,
    options: sim::shrink::ShrinkOptions,
    json: Option<&Path>,
) -> Result<ExitCode, String> {
    let saved = ReplayFile::load(file)?;
    if let Some(p) = property {
        if Property::from_name(p).is_none() && p != "event_budget" {
            return Err(format!("--property '{p}': no such property"));
        }
    }
    if let Some(path) = json {
        output::check_writable(path)?;
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
    print!("{out}");
    if let Some(path) = json {
        let report = ShrinkReport {
            schema_version: SCHEMA_VERSION,
            command: "shrink",
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
        output::write_json(path, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Apply `--rate KIND=RATE` settings.
pub fn apply_rates(config: &mut SimConfig, rates: &[String]) -> Result<(), String> {
    for spec in rates {
        config.faults.set_rate(spec)?;
    }
    Ok(())
}
