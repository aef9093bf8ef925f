//! Shrinking a failing run: fewer faults, fewer events, a shorter run, fewer nodes and
//! resources, while the same property still fails.
//!
//! Candidates keep the seed and change the configuration: cut the fault phase just after the
//! failure, turn fault kinds off, drop single scheduled faults, lower per-message rates, remove
//! nodes and resources. Because each scheduled kind draws from its own generator stream, dropping
//! one leaves the others in place, so most candidates stay close to the original run.

use crate::config::{SimConfig, Skip};
use crate::fault::{FaultKind, RateUnit};
use crate::replay::resolved;
use crate::run::{run, RunOptions, RunResult};
use crate::schedule;
use serde::Serialize;

/// How big a failing run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Size {
    /// Faults injected before the failure.
    pub faults: u64,
    /// Nodes.
    pub nodes: usize,
    /// Resources.
    pub resources: usize,
    /// Events before the failure.
    pub events: u64,
    /// The fault phase, ms.
    pub duration: u64,
    /// Fault kinds on.
    pub kinds: usize,
}

/// A shrunk run.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The property that keeps failing.
    pub property: String,
    /// The size before.
    pub before: Size,
    /// The size after.
    pub after: Size,
    /// The smaller configuration (same seed).
    pub config: SimConfig,
    /// Its run.
    pub result: RunResult,
    /// Candidate runs tried.
    pub attempts: u32,
}

fn size(config: &SimConfig, result: &RunResult, property: &str) -> Option<Size> {
    let v = result.violation_of(property)?;
    Some(Size {
        faults: v.faults,
        nodes: config.nodes,
        resources: config.resources,
        events: v.step + 1,
        duration: config.duration,
        kinds: config.faults.rates.len(),
    })
}

/// Shrink the run of `config` under `seed` with respect to `property` (by default its first
/// failing property), trying at most `max_attempts` candidates.
pub fn shrink(
    config: &SimConfig,
    seed: u64,
    property: Option<&str>,
    max_attempts: u32,
) -> Result<Shrunk, String> {
    let original = run(config, seed, RunOptions::default());
    let property = match property {
        Some(p) => p.to_string(),
        None => original
            .first_violation()
            .map(|v| v.property.clone())
            .ok_or_else(|| format!("seed {seed} does not fail: nothing to shrink"))?,
    };
    let mut best_config = resolved(config, &original);
    let before = size(&best_config, &original, &property)
        .ok_or_else(|| format!("seed {seed} does not violate {property}: nothing to shrink"))?;
    let mut best = (before, original);
    let attempts = std::cell::Cell::new(0u32);
    let try_candidate =
        |candidate: SimConfig, best_config: &mut SimConfig, best: &mut (Size, RunResult)| -> bool {
            if attempts.get() >= max_attempts || candidate.validate().is_err() {
                return false;
            }
            attempts.set(attempts.get() + 1);
            let r = run(&candidate, seed, RunOptions::default());
            match size(&candidate, &r, &property) {
                Some(s) if s < best.0 => {
                    *best_config = candidate;
                    *best = (s, r);
                    true
                }
                _ => false,
            }
        };
    loop {
        let mut improved = false;
        // A shorter fault phase: end it just after the failure.
        if let Some(v) = best.1.violation_of(&property) {
            let mut c = best_config.clone();
            c.duration = if v.time_ms < c.duration {
                v.time_ms + 1
            } else {
                c.duration / 2
            };
            if c.duration > 0 && c.duration < best_config.duration {
                improved |= try_candidate(c, &mut best_config, &mut best);
            }
        }
        // Whole fault kinds off.
        let kinds: Vec<FaultKind> = best_config.faults.rates.keys().copied().collect();
        for kind in kinds {
            let mut c = best_config.clone();
            c.faults.rates.remove(&kind);
            improved |= try_candidate(c, &mut best_config, &mut best);
        }
        // Single scheduled faults off, latest first (they are most often irrelevant).
        let planned = schedule::draw(&best_config, &best_config.faults, seed);
        for p in planned.iter().rev() {
            let mut c = best_config.clone();
            c.skip.push(Skip {
                kind: p.kind,
                ordinal: p.ordinal,
            });
            c.skip.sort();
            improved |= try_candidate(c, &mut best_config, &mut best);
        }
        // Lower per-message rates.
        let rates: Vec<(FaultKind, f64)> = best_config
            .faults
            .rates
            .iter()
            .filter(|(k, _)| k.unit() == RateUnit::PerMessage)
            .map(|(k, r)| (*k, *r))
            .collect();
        for (kind, rate) in rates {
            let mut c = best_config.clone();
            c.faults.rates.insert(kind, rate / 2.0);
            improved |= try_candidate(c, &mut best_config, &mut best);
        }
        // Fewer nodes and resources.
        if best_config.nodes > 1 {
            let mut c = best_config.clone();
            c.nodes -= 1;
            c.skip.clear();
            improved |= try_candidate(c, &mut best_config, &mut best);
        }
        if best_config.resources > 0 {
            let mut c = best_config.clone();
            c.resources -= 1;
            improved |= try_candidate(c, &mut best_config, &mut best);
        }
        if !improved || attempts.get() >= max_attempts {
            break;
        }
    }
    let (after, result) = best;
    Ok(Shrunk {
        property,
        before,
        after,
        config: best_config,
        result,
        attempts: attempts.get(),
    })
}
