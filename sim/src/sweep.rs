//! Many seeds: ranges, shards, threads. Results do not depend on the number of threads: seeds
//! are reported in order, and a sweep that stops at its first failure reports exactly the seeds
//! up to the lowest failing one.

use crate::config::SimConfig;
use crate::coverage::Coverage;
use crate::fault::FaultPlan;
use crate::run::{run, RunOptions, Violation};
use crate::trace::TraceHash;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A half-open range of seeds, `A..B`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRange {
    /// First seed.
    pub start: u64,
    /// One past the last seed.
    pub end: u64,
}

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| format!("--seeds '{s}': expected a range A..B, e.g. 0..10000"))?;
        let parse = |x: &str| {
            x.trim()
                .parse::<u64>()
                .map_err(|_| format!("--seeds '{s}': '{x}' is not a seed (0 to 2^64-1)"))
        };
        let (start, end) = (parse(a)?, parse(b)?);
        if end <= start {
            return Err(format!(
                "--seeds '{s}': the range is empty or reversed ({end} is not above {start}); \
                 the end is exclusive, e.g. 0..10000"
            ));
        }
        Ok(SeedRange { start, end })
    }
}

/// Part `index` (from 1) of `count`: every `count`-th seed of the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which part, 1..=count.
    pub index: u64,
    /// How many parts.
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("--shard '{s}': expected I/N with 1 <= I <= N, e.g. 2/8");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The seeds of `range` in `shard`, in order.
pub fn seeds(range: SeedRange, shard: Option<Shard>) -> impl Iterator<Item = u64> {
    let (i, n) = shard.map_or((0, 1), |s| (s.index - 1, s.count));
    (range.start..range.end).filter(move |s| (s - range.start) % n == i)
}

/// One seed's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// Its trace hash.
    pub hash: u64,
    /// Events processed.
    pub events: u64,
    /// Simulated ms.
    pub sim_ms: u64,
    /// Each property's first violation.
    pub violations: Vec<Violation>,
    /// Its fault mix (drawn from the seed under swarm).
    #[serde(skip)]
    pub plan: FaultPlan,
    #[serde(skip)]
    coverage: Coverage,
}

/// How to sweep.
#[derive(Clone, Copy, Debug)]
pub struct SweepOptions {
    /// Worker threads.
    pub threads: usize,
    /// Run every seed even after a failure (else stop at the lowest failing seed).
    pub keep_going: bool,
}

/// A sweep's outcome.
#[derive(Clone, Debug)]
pub struct SweepResult {
    /// The seeds reported, in order: all of them, or those up to the lowest failing one.
    pub outcomes: Vec<SeedOutcome>,
    /// Faults injected over the reported seeds.
    pub coverage: Coverage,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// A hash over every reported seed and its trace hash: equal sweeps have equal hashes.
    pub combined_hash: u64,
}

impl SweepResult {
    /// The failing seeds.
    pub fn failures(&self) -> impl Iterator<Item = &SeedOutcome> {
        self.outcomes.iter().filter(|o| !o.violations.is_empty())
    }

    /// Events over the reported seeds.
    pub fn events(&self) -> u64 {
        self.outcomes.iter().map(|o| o.events).sum()
    }

    /// Simulated ms over the reported seeds.
    pub fn sim_ms(&self) -> u64 {
        self.outcomes.iter().map(|o| o.sim_ms).sum()
    }
}

/// Progress so far: seeds done, seeds in all, failures.
pub type Progress<'a> = &'a (dyn Fn(usize, usize, usize) + Sync);

/// Run `config` for every seed of `seeds`, calling `progress` about once a second.
pub fn sweep(
    config: &SimConfig,
    seeds: &[u64],
    options: SweepOptions,
    progress: Option<Progress<'_>>,
) -> SweepResult {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    // The index of the lowest failing seed so far.
    let first_failure = AtomicUsize::new(usize::MAX);
    let slots: Mutex<Vec<Option<SeedOutcome>>> = Mutex::new(vec![None; seeds.len()]);
    let threads = options.threads.clamp(1, seeds.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= seeds.len() {
                    break;
                }
                if !options.keep_going && k > first_failure.load(Ordering::Relaxed) {
                    break;
                }
                let r = run(config, seeds[k], RunOptions::default());
                if !r.violations.is_empty() {
                    failed.fetch_add(1, Ordering::Relaxed);
                    first_failure.fetch_min(k, Ordering::Relaxed);
                }
                let outcome = SeedOutcome {
                    seed: r.seed,
                    hash: r.hash,
                    events: r.events,
                    sim_ms: r.sim_ms,
                    violations: r.violations,
                    plan: r.plan,
                    coverage: r.coverage,
                };
                slots.lock().expect("no worker panics")[k] = Some(outcome);
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        if let Some(report) = progress {
            let mut last = Instant::now();
            let stopped =
                || !options.keep_going && first_failure.load(Ordering::Relaxed) != usize::MAX;
            while done.load(Ordering::Relaxed) < seeds.len() && !stopped() {
                std::thread::sleep(Duration::from_millis(50));
                if last.elapsed() >= Duration::from_secs(1) {
                    last = Instant::now();
                    report(
                        done.load(Ordering::Relaxed),
                        seeds.len(),
                        failed.load(Ordering::Relaxed),
                    );
                }
            }
        }
    });
    let cut = first_failure.into_inner();
    let outcomes: Vec<SeedOutcome> = slots
        .into_inner()
        .expect("no worker panics")
        .into_iter()
        .enumerate()
        .filter(|(k, _)| options.keep_going || *k <= cut)
        .map(|(_, o)| o.expect("every seed up to the first failure ran"))
        .collect();
    let mut coverage = Coverage::default();
    let mut hash = TraceHash::default();
    for o in &outcomes {
        coverage.add(&o.coverage);
        hash.record(&(o.seed, o.hash));
    }
    SweepResult {
        outcomes,
        coverage,
        seconds: started.elapsed().as_secs_f64(),
        combined_hash: hash.value(),
    }
}
