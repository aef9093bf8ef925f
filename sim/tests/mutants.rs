//! The simulator kills every mutant, labels violations caused by breached timing assumptions,
//! and shrinks failures.

use protocol::Mutant;
use sim::shrink::{shrink, ShrinkOptions};
use sim::{run, FaultPlan, RunOptions, RunResult, SimConfig};

/// The first failing seed of `config` among `0..limit`.
fn first_failure(config: &SimConfig, limit: u64) -> Option<RunResult> {
    (0..limit)
        .map(|s| run(config, s, RunOptions::default()))
        .find(|r| !r.violations.is_empty())
}

#[test]
fn the_clean_protocol_holds_on_300_seeds() {
    let config = SimConfig::default();
    for seed in 0..300 {
        let r = run(&config, seed, RunOptions::default());
        assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
        assert!(r.converged_at.is_some(), "seed {seed} did not converge");
    }
}

#[test]
fn every_mutant_is_killed_within_10000_seeds() {
    for m in Mutant::ALL {
        let config = SimConfig {
            mutant: Some(m),
            ..SimConfig::default()
        };
        let r = first_failure(&config, 10_000)
            .unwrap_or_else(|| panic!("{} survived 10,000 seeds", m.code()));
        let v = r.first_violation().unwrap();
        assert!(!v.assumption_breached, "{}: {v:?}", m.code());
        // Each mutant fails the property it breaks, or, for the barrier mutants, its
        // immediate precursor: access without the barrier comes before any double access.
        let names: Vec<&str> = r.violations.iter().map(|v| v.property.as_str()).collect();
        let expected: &[&str] = match m {
            Mutant::RemoveResourceClearsBarrier | Mutant::NoSelfFence => {
                &["no_double_access", "access_holds_barrier"]
            }
            Mutant::UnfencedAssignmentWrite => &["fenced_writes", "min_interval_respected"],
            _ => &[m.breaks().name()],
        };
        assert!(
            names.iter().any(|n| expected.contains(n)),
            "{} at seed {}: {names:?}",
            m.code(),
            r.seed
        );
    }
}

#[test]
fn the_unfenced_mutant_also_breaks_fenced_writes() {
    let config = SimConfig {
        mutant: Some(Mutant::UnfencedAssignmentWrite),
        ..SimConfig::default()
    };
    let found = (0..2_000).any(|s| {
        run(&config, s, RunOptions::default())
            .violation_of("fenced_writes")
            .is_some()
    });
    assert!(found, "no stale leader's write in 2,000 seeds");
}

#[test]
fn breached_assumptions_give_a_labelled_paused_node_double_access() {
    let config = SimConfig {
        faults: FaultPlan::parse("pause").unwrap(),
        breach_assumptions: true,
        ..SimConfig::default()
    };
    let r = (0..200)
        .map(|s| run(&config, s, RunOptions::default()))
        .find(|r| r.violation_of("no_double_access").is_some())
        .expect("a paused node's double access within 200 seeds");
    let v = r.violation_of("no_double_access").unwrap();
    assert!(v.assumption_breached, "{v:?}");
    assert_eq!(v.label(), "assumption-breached");
    assert!(
        v.breaches.iter().any(|b| b.contains("paused")),
        "{:?}",
        v.breaches
    );
    // The same faults inside the envelope are harmless.
    let inside = SimConfig {
        breach_assumptions: false,
        ..config
    };
    for seed in 0..100 {
        let r = run(&inside, seed, RunOptions::default());
        assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
    }
}

#[test]
fn shrinking_reduces_each_mutants_first_failure() {
    for m in Mutant::ALL {
        let config = SimConfig {
            mutant: Some(m),
            ..SimConfig::default()
        };
        let r = first_failure(&config, 10_000).unwrap();
        let s = shrink(
            &config,
            r.seed,
            None,
            ShrinkOptions {
                max_attempts: 300,
                regrow_seeds: 0,
                regrow_above: 0,
            },
        )
        .unwrap();
        assert!(
            s.after < s.before,
            "{}: {:?} -> {:?}",
            m.code(),
            s.before,
            s.after
        );
        assert!(s.after.faults <= s.before.faults && s.after.events <= s.before.events);
        // The shrunk run still fails the same way, and replays to its own hash.
        let again = run(&s.config, s.seed, RunOptions::default());
        assert!(again.violation_of(&s.property).is_some());
        assert_eq!(again.hash, s.result.hash);
    }
}
