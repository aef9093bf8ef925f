//! The same seed and configuration give the same run, bit for bit, on any number of threads.

use protocol::FailureStep;
use sim::sweep::{self, SeedRange, SweepOptions};
use sim::{run, FaultKind, RunOptions, SimConfig};

fn hashes(config: &SimConfig, seeds: std::ops::Range<u64>) -> Vec<u64> {
    seeds
        .map(|s| run(config, s, RunOptions::default()).hash)
        .collect()
}

#[test]
fn two_hundred_seeds_run_twice_give_identical_hashes() {
    let config = SimConfig::default();
    let a = hashes(&config, 0..200);
    let b = hashes(&config, 0..200);
    assert_eq!(a, b);
    // The hash does depend on the run: different seeds, different traces.
    let mut distinct = a.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        a.len(),
        "two seeds gave the same trace hash"
    );
}

#[test]
fn tracing_does_not_change_the_run() {
    let config = SimConfig::default();
    for seed in [0, 17, 123] {
        let plain = run(&config, seed, RunOptions::default());
        let traced = run(&config, seed, RunOptions { trace: true });
        assert_eq!(plain.hash, traced.hash);
        assert_eq!(traced.trace.len() as u64, traced.events);
    }
}

#[test]
fn two_threads_equal_one_thread() {
    for config in [
        SimConfig::default(),
        SimConfig {
            swarm: true,
            ..SimConfig::default()
        },
        SimConfig {
            mutant: Some(protocol::Mutant::UnfencedAssignmentWrite),
            ..SimConfig::default()
        },
    ] {
        let seeds: Vec<u64> = sweep::seeds(SeedRange { start: 0, end: 120 }, None).collect();
        let sweep_with = |threads| {
            let options = SweepOptions {
                threads,
                keep_going: false,
            };
            sweep::sweep(&config, &seeds, options, None)
        };
        let (one, two) = (sweep_with(1), sweep_with(2));
        let key = |r: &sweep::SweepResult| -> Vec<(u64, u64, usize)> {
            r.outcomes
                .iter()
                .map(|o| (o.seed, o.hash, o.violations.len()))
                .collect()
        };
        assert_eq!(key(&one), key(&two));
        assert_eq!(one.combined_hash, two.combined_hash);
        assert_eq!(one.coverage, two.coverage);
    }
}

#[test]
fn shards_partition_the_range() {
    let range: SeedRange = "10..35".parse().unwrap();
    let mut all: Vec<u64> = (1..=4)
        .flat_map(|i| sweep::seeds(range, Some(format!("{i}/4").parse().unwrap())))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (10..35).collect::<Vec<_>>());
}

#[test]
fn a_swarm_run_replays_from_its_resolved_mix() {
    let swarm = SimConfig {
        swarm: true,
        ..SimConfig::default()
    };
    for seed in 0..20 {
        let r = run(&swarm, seed, RunOptions::default());
        let resolved = sim::replay::resolved(&swarm, &r);
        assert!(!resolved.swarm);
        assert_eq!(run(&resolved, seed, RunOptions::default()).hash, r.hash);
    }
}

#[test]
fn the_default_scenario_injects_every_failure_step_and_holds() {
    let config = SimConfig::default();
    let seeds: Vec<u64> = (0..200).collect();
    let options = SweepOptions {
        threads: 2,
        keep_going: true,
    };
    let r = sweep::sweep(&config, &seeds, options, None);
    assert_eq!(r.failures().count(), 0, "{:?}", r.failures().next());
    assert!(
        r.coverage.missing_steps().is_empty(),
        "never injected: {:?}",
        r.coverage.missing_steps()
    );
    for kind in FaultKind::ALL {
        assert!(
            r.coverage.faults[kind.index()] > 0,
            "{kind} never injected in 200 seeds"
        );
    }
    // Every step hit the transactions, where the protocol's decisions are.
    for step in FailureStep::ALL {
        assert!(
            r.coverage.rpc[step as usize][3] > 0,
            "{step:?} never hit a txn"
        );
    }
}

#[test]
fn a_trace_shows_what_happened_not_the_timers_a_runtime_cancels() {
    let config = SimConfig::default();
    let r = run(&config, 17, RunOptions { trace: true });
    let cancelled = |s: &&sim::trace::TraceStep| {
        matches!(s.event, "timer" | "timeout" | "watch-broken") && s.detail.ends_with("(no effect)")
    };
    assert_eq!(r.trace.iter().filter(cancelled).count(), 0);
    // A lease check in the trace is one that expired a lease (with its deletes, if it had keys).
    assert!(r.trace.iter().any(|s| s.event == "lease-check"));
    // Steps are numbered without gaps, so a failure's event number is its place in the trace.
    assert!(r.trace.iter().enumerate().all(|(i, s)| s.step == i as u64));
}
