//! Swarm testing: each seed draws its own fault mix, so that over many seeds some runs see few
//! kinds of fault at high rates, which finds bugs that an even mix of everything dilutes.

use crate::fault::{FaultKind, FaultPlan};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator stream swarm draws from (stream 0 drives the run; 1.. the schedule).
pub const STREAM: u64 = 1_000;

/// The fault mix of `seed`: each fault on with probability ½, its rate its default times
/// ¼, ½, 1, 2 or 4. At least one fault is on.
pub fn draw(seed: u64) -> FaultPlan {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(STREAM);
    let mut plan = FaultPlan::none();
    for kind in FaultKind::ALL {
        let on = rng.random_bool(0.5);
        let scale = [0.25, 0.5, 1.0, 2.0, 4.0][rng.random_range(0..5)];
        if on {
            let rate = (kind.default_rate() * scale).min(match kind.unit() {
                crate::fault::RateUnit::PerMessage => 0.5,
                _ => f64::MAX,
            });
            plan.rates.insert(kind, rate);
        }
    }
    if plan.rates.is_empty() {
        let kind = FaultKind::ALL[rng.random_range(0..FaultKind::ALL.len())];
        plan.rates.insert(kind, kind.default_rate());
    }
    plan
}
