//! Shrinking real failures: an M8 (owner-only release) failure of the default scenario ends
//! small and replays from its saved file; a script that leaves every fault in is the very same
//! run; shrinking is deterministic.

use protocol::Mutant;
use sim::config::Fault;
use sim::replay::ReplayFile;
use sim::shrink::{shrink, ShrinkOptions};
use sim::{run, FaultKind, RunOptions, RunResult, SimConfig};

fn m8() -> SimConfig {
    SimConfig {
        mutant: Some(Mutant::OwnerOnlyRelease),
        ..SimConfig::default()
    }
}

/// Shrinking within the failing seed's own run.
fn same_seed(max_attempts: u32) -> ShrinkOptions {
    ShrinkOptions {
        max_attempts,
        regrow_seeds: 0,
        regrow_above: 0,
    }
}

/// The first `n` failing seeds of `config` among `0..limit`.
fn failures(config: &SimConfig, limit: u64, n: usize) -> Vec<RunResult> {
    (0..limit)
        .map(|s| run(config, s, RunOptions::default()))
        .filter(|r| !r.violations.is_empty())
        .take(n)
        .collect()
}

#[test]
fn a_shrunk_owner_only_release_failure_is_small_and_replays_from_its_file() {
    let config = m8();
    let failing = failures(&config, 2_000, 2);
    assert_eq!(failing.len(), 2, "M8 fails fewer than twice in 2,000 seeds");
    for original in failing {
        let seed = original.seed;
        let s = shrink(&config, seed, None, same_seed(500)).unwrap();
        assert_eq!(s.property, original.first_violation().unwrap().property);
        assert!(
            s.after.events <= 60 && s.after.faults <= 6,
            "seed {seed}: {:?} -> {:?}",
            s.before,
            s.after
        );
        assert!(s.after.events < s.before.events && s.after.faults < s.before.faults);
        assert!(!s.after.breached, "seed {seed}: a protocol bug stays one");
        assert!(s.attempts <= 500);
        // The saved file replays to the same hash and the same property, and ends there.
        let text = serde_json::to_string_pretty(&ReplayFile::new(&s.config, &s.result)).unwrap();
        let saved = ReplayFile::parse(&text).unwrap();
        let again = run(&saved.config, saved.seed, RunOptions::default());
        assert_eq!(again.hash, saved.hash_value(), "seed {seed}");
        let v = again
            .violation_of(&s.property)
            .expect("the same property fails");
        assert_eq!(v.label(), "protocol");
        assert_eq!(again.events, v.step + 1, "the run ends at the failure");
        assert_eq!(v.step + 1, s.after.events);
        // Shrinking the shrunk file again finds it small already.
        let twice = shrink(&saved.config, saved.seed, Some(&s.property), same_seed(100)).unwrap();
        assert!(twice.after <= s.after);
    }
}

/// Every fault `r` injected, as a script (`reorder` is a switch, never scripted).
fn whole_script(r: &RunResult) -> Vec<Fault> {
    r.injected
        .iter()
        .map(|i| i.fault.clone())
        .filter(|f| {
            !matches!(
                f,
                Fault::Message {
                    kind: FaultKind::Reorder,
                    ..
                }
            )
        })
        .collect()
}

#[test]
fn a_script_of_every_fault_is_the_same_run() {
    let breach = SimConfig {
        breach_assumptions: true,
        ..SimConfig::default()
    };
    let swarm = SimConfig {
        swarm: true,
        ..SimConfig::default()
    };
    for config in [SimConfig::default(), swarm, breach, m8()] {
        for seed in 0..15 {
            let plain = run(&config, seed, RunOptions::default());
            let mut scripted = sim::replay::resolved(&config, &plain);
            scripted.script = Some(whole_script(&plain));
            let again = run(&scripted, seed, RunOptions::default());
            assert_eq!(again.hash, plain.hash, "seed {seed}: scripted");
            assert_eq!(again.coverage, plain.coverage, "seed {seed}");
            // Taking the random choices from the run itself changes nothing either.
            let base = sim::replay::resolved(&config, &plain);
            scripted.draws_from = Some(Box::new(base));
            let taped = run(&scripted, seed, RunOptions::default());
            assert_eq!(taped.hash, plain.hash, "seed {seed}: taped");
        }
    }
}

#[test]
fn suppressing_nothing_changes_nothing_and_old_files_load() {
    // The new fields are left out of a configuration that does not use them, so a replay file
    // of an unshrunk run is what it was, and one without them loads.
    let text = serde_json::to_string(&SimConfig::default()).unwrap();
    for field in ["script", "stop_at", "draws_from", "skip"] {
        assert!(!text.contains(field), "{field} in {text}");
    }
    let back: SimConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(back, SimConfig::default());
    // An empty script suppresses every fault; no script, none: the run of the default.
    let config = SimConfig::default();
    let plain = run(&config, 3, RunOptions::default());
    let none = SimConfig {
        script: Some(Vec::new()),
        ..config.clone()
    };
    let quiet = run(&none, 3, RunOptions::default());
    assert_eq!(quiet.coverage.total(), 0);
    assert!(quiet.injected.is_empty());
    assert_ne!(quiet.hash, plain.hash);
    assert_eq!(run(&config, 3, RunOptions::default()).hash, plain.hash);
}

#[test]
fn shrinking_is_deterministic() {
    let config = SimConfig {
        swarm: true,
        ..m8()
    };
    let r = &failures(&config, 2_000, 1)[0];
    // Regrowing too, whatever the size: its runs go two at a time.
    let options = ShrinkOptions {
        max_attempts: 300,
        regrow_seeds: 2_000,
        regrow_above: 0,
    };
    let a = shrink(&config, r.seed, None, options).unwrap();
    let b = shrink(&config, r.seed, None, options).unwrap();
    assert_eq!((a.after, a.seed), (b.after, b.seed));
    assert_eq!(a.attempts, b.attempts);
    assert_eq!(a.result.hash, b.result.hash);
    assert_eq!(
        serde_json::to_string(&a.config).unwrap(),
        serde_json::to_string(&b.config).unwrap()
    );
}
