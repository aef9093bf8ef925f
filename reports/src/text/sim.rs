//! The simulator's results as `sim`, `replay` and `shrink` print them, and the command line
//! that reproduces a seed.

use crate::result::sim::{properties, SimFigures};
use sim::config::SimConfig;
use sim::fault::FaultKind;
use sim::replay;
use sim::run::{run, RunOptions, RunResult, Violation};
use sim::sweep::SweepResult;
use std::fmt::Write as _;
use std::path::Path;

/// How many trailing events a violation report shows.
const LAST_EVENTS: usize = 25;

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

/// A sweep's figures, coverage and verdict.
pub fn render_sweep(out: &mut String, config: &SimConfig, r: &SweepResult) {
    let f = SimFigures::new(r.outcomes.len(), r.events(), r.sim_ms(), r.seconds);
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

/// A failing run: its violations, its last events (it is run again with the trace on), how to
/// replay it.
pub fn render_failure(out: &mut String, config: &SimConfig, r: &RunResult, file: Option<&Path>) {
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
