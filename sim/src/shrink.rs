//! Shrinking a failing run: fewer faults, fewer events, a shorter run, fewer nodes and
//! resources, while the same property still fails.
//!
//! The failing run is first written out as a *script* (`SimConfig::script`): every fault it
//! injected before the failure, explicitly — each scheduled fault with its time and action, each
//! per-message fault (a failed step, a delay, a duplicate) on the request it hit,
//! named by its node, its operation and its number among that node's requests of that operation
//! (the third `txn` of `n1`). A scripted run still makes every random draw the unscripted run
//! makes and only replaces its outcome, so that it is the very same run up to the failure, and
//! it ends right after the failure (`SimConfig::stop_at`): nothing after the violation is kept.
//!
//! Candidates keep the seed and change the configuration:
//! - delta debugging (ddmin) over the script: remove halves, then quarters, ... down to single
//!   faults, keeping every removal after which the property still fails;
//! - fold an admin's change and its later reversal into one change with its undo;
//! - turn off the fault kinds left without a fault;
//! - fewer nodes, fewer resources (faults on what is gone are dropped), and with them the
//!   scheduled faults moved later or earlier (a smaller group gets there at another time);
//! - move scheduled faults earlier (close the gap before each one), so the failure comes after
//!   fewer events;
//! - shorten what faults last (outages, pauses, delays, the wait before an admin's undo);
//! - for a liveness failure, a shorter fault phase.
//!
//! A reduced run that is still long (a failure of several nodes' interplay keeps its group) is
//! then *regrown*: other seeds on smaller groups, until one fails with the same cause (the
//! property, after the same last needed fault), which is reduced in turn (see `regrow`). The
//! result is then another seed's run.
//!
//! A candidate is kept if it fails the same property (with the `protocol` label if the best so
//! far has it) and is smaller ([`Size`]: faults first, then events before the failure, nodes,
//! resources, fault kinds on, the fault phase). Every candidate is the seed and a
//! configuration, so the result replays bit for bit from its replay file.

use crate::config::{Fault, Op, SimConfig};
use crate::fault::{FaultKind, RateUnit};
use crate::replay::resolved;
use crate::run::{run, run_taped, tape, RunOptions, RunResult, Tape};
use crate::schedule::Action;
use protocol::registry::Key;
use protocol::{NodeId, Property, ResourceId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How big a failing run is; smaller is better, in field order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Size {
    /// A fault outside the timing envelope came first (`assumption-breached`): a
    /// `protocol`-labelled failure is preferred.
    pub breached: bool,
    /// Faults injected up to the failure (an admin change and its undo count once, and so does
    /// `reorder`, a switch, however many messages overtook).
    pub faults: u64,
    /// Events up to and including the failing one.
    pub events: u64,
    /// Nodes.
    pub nodes: usize,
    /// Resources.
    pub resources: usize,
    /// Fault kinds on.
    pub kinds: usize,
    /// The fault phase, ms.
    pub duration: u64,
}

/// A shrunk run.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The property that keeps failing.
    pub property: String,
    /// The size before.
    pub before: Size,
    /// The size of the failing seed's own run, reduced.
    pub reduced: Size,
    /// The size after (the regrown run's if it was regrown).
    pub after: Size,
    /// The seed of the shrunk run: the failing seed's, or another's if `regrown`.
    pub seed: u64,
    /// The shrunk run is another seed's on a smaller group, with the same cause.
    pub regrown: bool,
    /// The smaller configuration.
    pub config: SimConfig,
    /// Its run.
    pub result: RunResult,
    /// Candidate runs tried.
    pub attempts: u32,
}

/// Whether a recorded fault is a message overtaking another: `reorder` is a switch, which
/// counts once, however many messages overtook.
fn overtook(f: &Fault) -> bool {
    matches!(
        f,
        Fault::Message {
            kind: FaultKind::Reorder,
            ..
        }
    )
}

fn size(config: &SimConfig, result: &RunResult, property: &str) -> Option<Size> {
    let v = result.violation_of(property)?;
    let before = || result.injected.iter().filter(|f| f.step <= v.step);
    let faults = before().filter(|f| !overtook(&f.fault)).count()
        + usize::from(before().any(|f| overtook(&f.fault)));
    Some(Size {
        breached: v.assumption_breached,
        faults: faults as u64,
        events: v.step + 1,
        nodes: config.nodes,
        resources: config.resources,
        kinds: config.faults.rates.len(),
        duration: config.duration,
    })
}

/// Whether a property is checked after the fault phase (its violation comes at the deadline).
fn eventually(property: &str) -> bool {
    Property::from_name(property)
        .is_some_and(|p| p.kind() == protocol::properties::Kind::Eventually)
}

/// `config`, with the faults `result` injected up to its violation of `property` written out
/// as its script, a stop right after that violation, and (for a property checked during the
/// fault phase) the fault phase ending just after it: the same run up to the violation.
fn scripted(config: &SimConfig, result: &RunResult, property: &str) -> SimConfig {
    let v = result
        .violation_of(property)
        .expect("only failing runs are scripted");
    let mut c = resolved(config, result);
    c.script = Some(
        result
            .injected
            .iter()
            .filter(|f| f.step <= v.step && !overtook(&f.fault))
            .map(|f| f.fault.clone())
            .collect(),
    );
    c.skip.clear();
    c.stop_at = Some(property.to_string());
    if !eventually(property) && v.time_ms < c.duration {
        c.duration = v.time_ms + 1;
    }
    c
}

/// The search: the best run so far and the attempt budget.
struct Search<'a> {
    seed: u64,
    property: &'a str,
    max_attempts: u32,
    attempts: u32,
    /// The original fault phase.
    phase: u64,
    best: SimConfig,
    size: Size,
    tried: BTreeSet<String>,
    /// The random choices of the run shrunk from (every candidate's `draws_from`).
    tape: Tape,
}

impl Search<'_> {
    fn exhausted(&self) -> bool {
        self.attempts >= self.max_attempts
    }

    /// Run `candidate`; keep it if it still fails and is smaller.
    fn attempt(&mut self, mut candidate: SimConfig) -> bool {
        if !eventually(self.property) {
            // The failure may come later than it did: give it the whole fault phase (the run
            // stops at the failure anyway), and cut the phase after it again if it is kept.
            candidate.duration = self.phase;
        }
        if self.exhausted() || candidate.validate().is_err() {
            return false;
        }
        let key = serde_json::to_string(&candidate).unwrap_or_default();
        if !self.tried.insert(key) {
            return false;
        }
        self.attempts += 1;
        let r = run_taped(&candidate, self.seed, RunOptions::default(), &self.tape);
        if r.violation_of(self.property).is_none() {
            return false;
        }
        let c = scripted(&candidate, &r, self.property);
        match size(&c, &r, self.property) {
            Some(s) if s < self.size => {
                self.best = c;
                self.size = s;
                true
            }
            _ => false,
        }
    }

    /// Run `candidate`, and if it does not do, the same with every delay and duplicate as late
    /// as the network allows (a smaller group may take longer to get where the failure needs
    /// the late message), then each of those with the scheduled faults moved in time.
    fn attempt_stretched(&mut self, candidate: SimConfig) -> bool {
        let n = &candidate.network;
        let (max_delay, timeout) = (n.max_delay, n.request_timeout);
        let mut stretched = candidate.clone();
        let mut changed = false;
        for f in stretched.script.iter_mut().flatten() {
            if let Fault::Message {
                kind, ms: Some(ms), ..
            } = f
            {
                let max = match kind {
                    FaultKind::Delay => max_delay,
                    FaultKind::Duplicate => timeout,
                    _ => continue,
                };
                changed |= *ms < max;
                *ms = max;
            }
        }
        if self.attempt(candidate.clone()) || (changed && self.attempt(stretched.clone())) {
            return true;
        }
        // A smaller group gets there at another time: the scheduled faults (an admin change, an
        // outage) may then come too soon or too late for the requests the others are
        // numbered by. Move them all, later and earlier, by growing steps.
        let bases: &[SimConfig] = if changed {
            &[candidate, stretched]
        } else {
            &[candidate]
        };
        for shift in [250i64, -250, 500, -500, 1_000, -1_000, 2_000, -2_000, 4_000] {
            for base in bases {
                let mut moved = base.clone();
                let mut any = false;
                for f in moved.script.iter_mut().flatten() {
                    if let Fault::Scheduled(p) = f {
                        let at = p.at.saturating_add_signed(shift);
                        any |= at != p.at;
                        p.at = at;
                    }
                }
                if any && self.attempt(moved) {
                    return true;
                }
            }
        }
        false
    }

    fn script(&self) -> Vec<Fault> {
        self.best.script.clone().unwrap_or_default()
    }

    fn with_script(&self, script: Vec<Fault>) -> SimConfig {
        SimConfig {
            script: Some(script),
            ..self.best.clone()
        }
    }

    /// Delta debugging over the script: remove chunks of halves, then quarters, ... then single
    /// faults, as long as the property keeps failing.
    fn ddmin(&mut self) -> bool {
        let mut improved = false;
        let mut parts = 2usize;
        loop {
            let script = self.script();
            let len = script.len();
            if len == 0 || self.exhausted() {
                break;
            }
            let parts_now = parts.min(len);
            let chunk = len.div_ceil(parts_now);
            let mut removed = false;
            for start in (0..len).step_by(chunk) {
                let rest: Vec<Fault> = script[..start]
                    .iter()
                    .chain(&script[(start + chunk).min(len)..])
                    .cloned()
                    .collect();
                if self.attempt(self.with_script(rest)) {
                    removed = true;
                    break;
                }
            }
            if removed {
                improved = true;
                parts = parts_now.saturating_sub(1).max(2);
            } else if chunk == 1 {
                break;
            } else {
                parts = (parts_now * 2).min(len);
            }
        }
        improved
    }

    /// Fold an admin's change and the next change of the same resource into one change and its
    /// undo (one fault: the administrator who takes a change back).
    fn fold_admin(&mut self) -> bool {
        let mut improved = false;
        let mut i = 0;
        while i < self.script().len() && !self.exhausted() {
            let script = self.script();
            // A change whose undo comes only after the run ends is a change alone.
            let horizon = self.best.duration;
            let toggle = |f: &Fault| match f {
                Fault::Scheduled(p) => match p.action {
                    Action::Admin {
                        resource,
                        undo_after,
                    } if undo_after.is_none_or(|u| p.at + u >= horizon) => Some((resource, p.at)),
                    _ => None,
                },
                _ => None,
            };
            let next = toggle(&script[i]).and_then(|(r, at)| {
                let (j, later) = script
                    .iter()
                    .enumerate()
                    .filter_map(|(j, f)| Some((j, toggle(f)?)))
                    .filter(|&(j, (q, t))| j != i && q == r && t >= at)
                    .min_by_key(|&(j, (_, t))| (t, j))?;
                Some((j, later.1 - at))
            });
            // The undo comes after whatever else is due at its time: also try it a little
            // later than the change it folds.
            let mut folded_one = false;
            if let Some((j, gap)) = next {
                for after in [gap, gap + 1, gap + 10] {
                    let mut folded = script.clone();
                    if let Fault::Scheduled(p) = &mut folded[i] {
                        if let Action::Admin { undo_after, .. } = &mut p.action {
                            *undo_after = Some(after);
                        }
                    }
                    folded.remove(j);
                    if self.attempt(self.with_script(folded)) {
                        folded_one = true;
                        break;
                    }
                }
            }
            if folded_one {
                improved = true;
                continue;
            }
            i += 1;
        }
        improved
    }

    /// Turn off the fault kinds that have no fault left.
    fn kinds_off(&mut self) -> bool {
        let used: BTreeSet<FaultKind> = self.script().iter().map(Fault::kind).collect();
        let unused: Vec<FaultKind> = self
            .best
            .faults
            .rates
            .keys()
            .filter(|k| !used.contains(k))
            .copied()
            .collect();
        if unused.is_empty() {
            return false;
        }
        let mut all = self.best.clone();
        for k in &unused {
            all.faults.rates.remove(k);
        }
        if self.attempt(all) {
            return true;
        }
        let mut improved = false;
        for k in unused {
            let mut c = self.best.clone();
            c.faults.rates.remove(&k);
            improved |= self.attempt(c);
        }
        improved
    }

    /// Fewer nodes: the fewest with which it still fails. Candidates keep some of the nodes
    /// (the ones with the most faults first; for one node, each in turn), renamed `n1`, `n2`...
    /// in order, with the faults of the others dropped; or keep the first ones and move the
    /// others' faults to the last.
    fn fewer_nodes(&mut self) -> bool {
        let n = self.best.nodes;
        let mut weight = vec![0usize; n];
        for f in self.script() {
            for (i, w) in weight.iter_mut().enumerate() {
                if map_nodes(f.clone(), |j| (j == i).then_some(0)).is_some() {
                    *w += 1;
                }
            }
        }
        for keep in 1..n {
            let mut candidates: Vec<Vec<usize>> = if keep == 1 {
                let mut singles: Vec<usize> = (0..n).collect();
                singles.sort_by_key(|i| std::cmp::Reverse(weight[*i]));
                singles.into_iter().map(|i| vec![i]).collect()
            } else {
                vec![heaviest(&weight, keep)]
            };
            candidates.push((0..keep).collect());
            for (k, kept) in candidates.iter().enumerate() {
                let merge = k + 1 == candidates.len();
                let node = |i: usize| match kept.iter().position(|j| *j == i) {
                    Some(p) => Some(p),
                    None => merge.then_some(keep - 1),
                };
                let mut c = self.best.clone();
                c.nodes = keep;
                c.script = Some(
                    self.script()
                        .into_iter()
                        .filter_map(|f| map_nodes(f, node))
                        .collect(),
                );
                if self.attempt_stretched(c) {
                    return true;
                }
            }
        }
        false
    }

    /// Fewer resources: the fewest with which it still fails. Candidates keep the initial
    /// resources the faults name most, renamed `r1`, `r2`... in order, with the faults of the
    /// others dropped; or keep the first ones and move the others' faults to the last. The
    /// spares stay spares.
    fn fewer_resources(&mut self) -> bool {
        let before = self.best.resources;
        let mut weight = vec![0usize; before];
        for f in self.script() {
            for (i, w) in weight.iter_mut().enumerate() {
                if map_resources(f.clone(), |j| (j == i || j >= before).then_some(j)).is_some()
                    && map_resources(f.clone(), |j| (j != i).then_some(j)).is_none()
                {
                    *w += 1;
                }
            }
        }
        for keep in 0..before {
            let mut candidates = vec![heaviest(&weight, keep)];
            if keep > 0 {
                candidates.push((0..keep).collect());
            }
            candidates.dedup();
            let last = candidates.len() - 1;
            for (k, kept) in candidates.iter().enumerate() {
                let merge = keep > 0 && k == last;
                let resource = |i: usize| {
                    if i >= before {
                        return Some(keep + (i - before));
                    }
                    match kept.iter().position(|j| *j == i) {
                        Some(p) => Some(p),
                        None => merge.then_some(keep - 1),
                    }
                };
                let mut c = self.best.clone();
                c.resources = keep;
                c.script = Some(
                    self.script()
                        .into_iter()
                        .filter_map(|f| map_resources(f, resource))
                        .collect(),
                );
                if self.attempt_stretched(c) {
                    return true;
                }
            }
        }
        false
    }

    /// Move scheduled faults earlier: close the gap before each (and everything after it).
    fn earlier(&mut self) -> bool {
        let mut improved = false;
        let mut j = 0;
        loop {
            let script = self.script();
            let mut times: Vec<u64> = script
                .iter()
                .filter_map(|f| match f {
                    Fault::Scheduled(p) => Some(p.at),
                    _ => None,
                })
                .collect();
            times.sort_unstable();
            times.dedup();
            if j >= times.len() || self.exhausted() {
                break;
            }
            let from = times[j];
            let gap = from - if j == 0 { 0 } else { times[j - 1] };
            let mut shift = gap;
            let mut moved = false;
            while shift >= 20 && !moved {
                let shifted = script
                    .iter()
                    .cloned()
                    .map(|mut f| {
                        if let Fault::Scheduled(p) = &mut f {
                            if p.at >= from {
                                p.at -= shift;
                            }
                        }
                        f
                    })
                    .collect();
                moved = self.attempt(self.with_script(shifted));
                shift /= 2;
            }
            improved |= moved;
            if !moved {
                j += 1;
            }
        }
        improved
    }

    /// Halve how long each fault lasts (outages, pauses, delays, the admin's undo).
    fn shorter(&mut self) -> bool {
        let mut improved = false;
        let mut i = 0;
        while i < self.script().len() && !self.exhausted() {
            let mut shortened = false;
            // The shortest first: an eighth, a quarter, a half, three quarters; and for a
            // scheduled fault, also with the faults after it brought in by as much.
            'fractions: for eighths in [1, 2, 4, 6] {
                let mut script = self.script();
                let cut = scale(&mut script[i], eighths);
                if cut == 0 {
                    continue;
                }
                let mut pulled = script.clone();
                let pull = match &script[i] {
                    Fault::Scheduled(p) => Some(p.at),
                    _ => None,
                };
                for pull_in in [false, true] {
                    let candidate = match (pull_in, pull) {
                        (false, _) => script.clone(),
                        (true, Some(from)) => {
                            for f in &mut pulled {
                                if let Fault::Scheduled(q) = f {
                                    if q.at > from {
                                        q.at = q.at.saturating_sub(cut).max(from);
                                    }
                                }
                            }
                            pulled.clone()
                        }
                        (true, None) => continue,
                    };
                    if self.attempt(self.with_script(candidate)) {
                        shortened = true;
                        break 'fractions;
                    }
                }
            }
            if shortened {
                improved = true;
            } else {
                i += 1;
            }
        }
        improved
    }

    /// Move per-message faults to an earlier request of the same kind (the first, the one
    /// half-way, the one before): the failure may need only one of several.
    fn renumber(&mut self) -> bool {
        let mut improved = false;
        let mut i = 0;
        while i < self.script().len() && !self.exhausted() {
            let now = match &self.script()[i] {
                Fault::Message { n, .. } | Fault::SlowStop { n, .. } => *n,
                _ => 0,
            };
            let mut moved = false;
            let mut tried = BTreeSet::new();
            for to in [0, now / 2, now.saturating_sub(1)] {
                if to >= now || !tried.insert(to) {
                    continue;
                }
                let mut script = self.script();
                if let Fault::Message { n, .. } | Fault::SlowStop { n, .. } = &mut script[i] {
                    *n = to;
                }
                if self.attempt(self.with_script(script)) {
                    moved = true;
                    break;
                }
            }
            if moved {
                improved = true;
            } else {
                i += 1;
            }
        }
        improved
    }

    /// A liveness failure: end the fault phase sooner (just after the last scheduled fault,
    /// then by halves).
    fn shorter_phase(&mut self) -> bool {
        if !eventually(self.property) {
            return false;
        }
        let last = self
            .script()
            .iter()
            .filter_map(|f| match f {
                Fault::Scheduled(p) => Some(p.at),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let mut improved = false;
        let mut candidates = vec![last + 1];
        let mut d = self.best.duration / 2;
        while d > last + 1 {
            candidates.push(d);
            d /= 2;
        }
        candidates.sort_unstable();
        for d in candidates {
            if d < self.best.duration {
                let c = SimConfig {
                    duration: d,
                    ..self.best.clone()
                };
                if self.attempt(c) {
                    improved = true;
                    break;
                }
            }
        }
        improved
    }
}

/// The `k` indexes of the largest weights (the lower index first among equals), in order.
fn heaviest(weight: &[usize], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..weight.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(weight[*i]));
    let mut kept: Vec<usize> = order.into_iter().take(k).collect();
    kept.sort_unstable();
    kept
}

/// `f` with node indexes renamed by `node` (`None`: the node is gone, and so is the fault).
fn map_nodes(mut f: Fault, node: impl Fn(usize) -> Option<usize>) -> Option<Fault> {
    let id = |n: &mut NodeId| -> Option<()> {
        *n = SimConfig::node_id(node(n.number()?)?);
        Some(())
    };
    match &mut f {
        Fault::Scheduled(p) => match &mut p.action {
            Action::Cut { nodes, .. } => {
                *nodes = nodes.iter().filter_map(|i| node(*i)).collect();
                nodes.sort_unstable();
                nodes.dedup();
                if nodes.is_empty() {
                    return None;
                }
            }
            Action::Flap { node: i, .. }
            | Action::Crash { node: i, .. }
            | Action::Pause { node: i, .. }
            | Action::WatchBreak { node: i }
            | Action::Membership { node: i } => *i = node(*i)?,
            Action::RegistryRestart { .. } | Action::Compaction { .. } | Action::Admin { .. } => {}
        },
        Fault::Message { node: i, key, .. } => {
            *i = node(*i)?;
            if let Some(Key::Member(n) | Key::Stopped(n)) = key {
                id(n)?;
            }
        }
        Fault::Drift { node: i, .. } | Fault::SlowStop { node: i, .. } => *i = node(*i)?,
    }
    Some(f)
}

/// `f` with resource indexes renamed by `resource` (`None`: gone, and so is the fault).
fn map_resources(mut f: Fault, resource: impl Fn(usize) -> Option<usize>) -> Option<Fault> {
    let id = |r: &mut ResourceId| -> Option<()> {
        let i =
            r.0.strip_prefix('r')?
                .parse::<usize>()
                .ok()?
                .checked_sub(1)?;
        *r = SimConfig::resource_id(resource(i)?);
        Some(())
    };
    match &mut f {
        Fault::Scheduled(p) => {
            if let Action::Admin { resource: i, .. } = &mut p.action {
                *i = resource(*i)?;
            }
        }
        Fault::Message {
            key: Some(Key::Barrier(r) | Key::Resource(r)),
            ..
        } => id(r)?,
        _ => {}
    }
    Some(f)
}

/// How long `f` lasts, ms, if it lasts: an outage, a pause, a delay, the wait for an admin's
/// undo, a slow stop.
fn lasting(f: &mut Fault) -> Option<&mut u64> {
    match f {
        Fault::Scheduled(p) => match &mut p.action {
            Action::Cut { length, .. } | Action::Flap { length, .. } => Some(length),
            Action::Crash { down, .. } | Action::RegistryRestart { down } => Some(down),
            Action::Pause { length, .. } => Some(length),
            Action::Admin {
                undo_after: Some(after),
                ..
            } => Some(after),
            _ => None,
        },
        Fault::Message { ms: Some(ms), .. } | Fault::SlowStop { ms, .. } => Some(ms),
        _ => None,
    }
}

/// Scale what `f` lasts to `eighths`/8 of it; by how much it got shorter (0: it did not).
fn scale(f: &mut Fault, eighths: u64) -> u64 {
    match lasting(f) {
        Some(x) => {
            let shorter = (*x * eighths / 8).max(1);
            let cut = x.saturating_sub(shorter);
            *x = shorter.min(*x);
            cut
        }
        None => 0,
    }
}

/// What a failure comes down to, to tell it from another failure of the same property: the
/// property, its label, and the last fault the reduced run still needs (its kind and, for a
/// message, what the request did and the kind of key it was about), e.g. `access_holds_barrier`
/// after a duplicated barrier release.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cause {
    breached: bool,
    kind: Option<FaultKind>,
    op: Option<Op>,
    key: Option<std::mem::Discriminant<Key>>,
}

impl Cause {
    /// The cause of a reduced run (its script is its faults, in the order they came).
    fn of(reduced: &Reduced) -> Cause {
        let script = reduced.config.script.as_deref().unwrap_or_default();
        let message = script.iter().rev().find_map(|f| match f {
            Fault::Message { kind, op, key, .. } => Some((*kind, *op, key.as_ref())),
            _ => None,
        });
        let (kind, op, key) = match message {
            Some((kind, op, key)) => (Some(kind), Some(op), key.map(std::mem::discriminant)),
            None => (script.last().map(Fault::kind), None, None),
        };
        Cause {
            breached: reduced.size.breached,
            kind,
            op,
            key,
        }
    }
}

/// A run reduced as far as the search got.
struct Reduced {
    seed: u64,
    config: SimConfig,
    size: Size,
    attempts: u32,
}

/// The run a shrink starts from, written out: a shrunk run's `draws_from` (shrinking again
/// starts from the same original), else `original` itself.
fn shrunk_from(config: &SimConfig, original: &RunResult) -> SimConfig {
    match &config.draws_from {
        Some(base) => (**base).clone(),
        None => resolved(config, original),
    }
}

/// The search over the failing run `original` of `config` under `seed`, from its script.
fn search<'a>(
    config: &SimConfig,
    seed: u64,
    original: &RunResult,
    property: &'a str,
    max_attempts: u32,
) -> Result<Search<'a>, String> {
    // The same run, scripted, taking its random choices from the original by what they are
    // for, and ending at the failure.
    let base = shrunk_from(config, original);
    let tape = tape(&base, seed);
    let mut start = scripted(config, original, property);
    start.draws_from = Some(Box::new(base));
    let again = run_taped(&start, seed, RunOptions::default(), &tape);
    let same = again.violation_of(property).map(|v| v.step)
        == original.violation_of(property).map(|v| v.step);
    let Some(start_size) = size(&start, &again, property).filter(|_| same) else {
        return Err(format!(
            "seed {seed}: the scripted run does not fail like the original (a simulator bug)"
        ));
    };
    Ok(Search {
        seed,
        property,
        max_attempts,
        attempts: 1,
        phase: resolved(config, original).duration,
        best: start,
        size: start_size,
        tried: BTreeSet::new(),
        tape,
    })
}

impl Search<'_> {
    /// Every way of making the run smaller, over and over, until none helps.
    fn reduce(mut self) -> Reduced {
        loop {
            let mut improved = self.ddmin();
            improved |= self.fold_admin();
            improved |= self.kinds_off();
            improved |= self.fewer_nodes();
            improved |= self.fewer_resources();
            improved |= self.earlier();
            improved |= self.shorter();
            improved |= self.renumber();
            improved |= self.shorter_phase();
            if !improved || self.exhausted() {
                break;
            }
        }
        self.reduced()
    }

    fn reduced(self) -> Reduced {
        Reduced {
            seed: self.seed,
            size: self.size,
            attempts: self.attempts,
            config: self.best,
        }
    }
}

/// Reduce the failing run `original` of `config` under `seed` (see the module docs).
fn reduce(
    config: &SimConfig,
    seed: u64,
    original: &RunResult,
    property: &str,
    max_attempts: u32,
) -> Result<Reduced, String> {
    Ok(search(config, seed, original, property, max_attempts)?.reduce())
}

/// The generator stream regrowing draws from (apart from the runs' own streams).
const REGROW_STREAM: u64 = 2_000;

/// The fault phases regrowing tries, ms: a small group fails early or not at all.
const REGROW_PHASES: [u64; 3] = [5_000, 10_000, 20_000];

/// Candidates drawn, then run side by side, at a time (the first failing one in draw order
/// is taken, so the result does not depend on the threads).
const REGROW_CHUNK: usize = 512;

/// Regrow the failure in a smaller group: a reduced run keeps the group it failed in, and a
/// failure of three nodes' interplay may take hundreds of events however few its faults. Other
/// seeds, on smaller groups (the smallest first), over shorter fault phases, with the original
/// run's fault kinds (each on or off, the cause's always on) at up to 16 times their rates,
/// until one fails with the same [`Cause`]; that run is reduced in turn and taken if smaller.
/// `seeds` bounds the runs tried; everything follows from `seed`, so the result is
/// deterministic.
fn regrow(
    plan_of: &SimConfig,
    seed: u64,
    property: &str,
    best: &Reduced,
    seeds: u32,
    max_attempts: u32,
) -> Option<Reduced> {
    let cause = Cause::of(best);
    let (n, r) = (best.config.nodes, best.config.resources);
    let mut groups: Vec<(usize, usize)> = (1..=n)
        .flat_map(|a| (1..=r).map(move |b| (a, b)))
        .filter(|&g| g != (n, r))
        .collect();
    groups.sort_by_key(|&(a, b)| (a * b, a));
    if groups.is_empty() {
        return None;
    }
    let kinds: Vec<(FaultKind, f64)> = plan_of.faults.rates.iter().map(|(k, r)| (*k, *r)).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(REGROW_STREAM);
    let mut draw = |k: usize| {
        let (nodes, resources) = groups[k % groups.len()];
        let boost = [1.0, 4.0, 16.0][rng.random_range(0..3)];
        let mut plan = crate::fault::FaultPlan::none();
        for &(kind, rate) in &kinds {
            if rng.random_bool(0.5) || Some(kind) == cause.kind {
                let rate = match kind.unit() {
                    RateUnit::PerMessage => (rate * boost).min(0.5),
                    RateUnit::PerMinute => rate * boost,
                    RateUnit::Switch => rate,
                };
                plan.rates.insert(kind, rate);
            }
        }
        let phase = REGROW_PHASES[rng.random_range(0..REGROW_PHASES.len())];
        let candidate = SimConfig {
            nodes,
            resources,
            duration: phase.min(plan_of.duration),
            faults: plan,
            swarm: false,
            // A property of the fault phase fails there or not at all.
            liveness: plan_of.liveness && eventually(property),
            skip: Vec::new(),
            script: None,
            stop_at: Some(property.to_string()),
            draws_from: None,
            ..plan_of.clone()
        };
        (candidate, rng.random::<u64>())
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let seeds = seeds as usize;
    let mut k = 0;
    while k < seeds {
        let chunk: Vec<(SimConfig, u64)> =
            (k..seeds.min(k + REGROW_CHUNK)).map(&mut draw).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failing: std::sync::Mutex<Vec<(usize, RunResult)>> = Default::default();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((c, s)) = chunk.get(i) else { break };
                    let r = run(c, *s, RunOptions::default());
                    if size(c, &r, property).is_some_and(|z| z.breached == cause.breached) {
                        failing.lock().expect("no worker panics").push((i, r));
                    }
                });
            }
        });
        let mut failing = failing.into_inner().expect("no worker panics");
        failing.sort_by_key(|(i, _)| *i);
        for (i, r) in failing {
            let (c, s) = &chunk[i];
            let Ok(found) = reduce(c, *s, &r, property, max_attempts) else {
                continue;
            };
            if found.size < best.size && Cause::of(&found) == cause {
                return Some(Reduced {
                    attempts: found.attempts + (k + i) as u32 + 1,
                    ..found
                });
            }
        }
        k += chunk.len();
    }
    None
}

/// How a shrink searches.
#[derive(Clone, Copy, Debug)]
pub struct ShrinkOptions {
    /// Candidate runs of the failing seed to try at most.
    pub max_attempts: u32,
    /// Runs of other seeds on smaller groups to try at most, when the reduced run is still
    /// long (0: never look beyond the failing seed).
    pub regrow_seeds: u32,
    /// A reduced run of more events than this is regrown (one of fewer reads at a glance).
    pub regrow_above: u64,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions {
            max_attempts: 5_000,
            regrow_seeds: 100_000,
            regrow_above: 100,
        }
    }
}

/// Shrink the run of `config` under `seed` with respect to `property` (by default its first
/// failing property): reduce it, then regrow it in a smaller group if that is smaller still.
/// The result may be of another seed (`Shrunk::seed`, `Shrunk::regrown`).
pub fn shrink(
    config: &SimConfig,
    seed: u64,
    property: Option<&str>,
    options: ShrinkOptions,
) -> Result<Shrunk, String> {
    let original = run(config, seed, RunOptions::default());
    let property = match property {
        Some(p) => p.to_string(),
        None => original
            .first_violation()
            .map(|v| v.property.clone())
            .ok_or_else(|| format!("seed {seed} does not fail: nothing to shrink"))?,
    };
    let before = size(&resolved(config, &original), &original, &property)
        .ok_or_else(|| format!("seed {seed} does not violate {property}: nothing to shrink"))?;
    let reduced = reduce(config, seed, &original, &property, options.max_attempts)?;
    let plan_of = shrunk_from(config, &original);
    let regrown = (options.regrow_seeds > 0 && reduced.size.events > options.regrow_above)
        .then(|| {
            regrow(
                &plan_of,
                seed,
                &property,
                &reduced,
                options.regrow_seeds,
                options.max_attempts,
            )
        })
        .flatten();
    let reduced_size = reduced.size;
    let (best, regrew) = match regrown {
        Some(r) => (
            Reduced {
                attempts: r.attempts + reduced.attempts,
                ..r
            },
            true,
        ),
        None => (reduced, false),
    };
    let result = run(&best.config, best.seed, RunOptions::default());
    let after = size(&best.config, &result, &property)
        .ok_or_else(|| format!("seed {seed}: the shrunk run no longer fails (a simulator bug)"))?;
    Ok(Shrunk {
        property,
        before,
        reduced: reduced_size,
        after,
        seed: best.seed,
        regrown: regrew,
        config: best.config,
        result,
        attempts: best.attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure whose faults are cut down but whose group is not (only delta debugging ran)
    /// regrows in a smaller group with the same cause, and the regrown run fails from its seed.
    #[test]
    fn a_failure_regrows_in_a_smaller_group_with_the_same_cause() {
        let config = SimConfig {
            mutant: Some(protocol::Mutant::OwnerOnlyRelease),
            ..SimConfig::default()
        };
        let original = (0..2_000)
            .map(|s| run(&config, s, RunOptions::default()))
            .find(|r| r.violation_of("access_holds_barrier").is_some())
            .expect("M8 fails within 2,000 seeds");
        let property = "access_holds_barrier";
        let mut s = search(&config, original.seed, &original, property, 5_000).unwrap();
        s.ddmin();
        let kept = s.reduced();
        assert_eq!((kept.config.nodes, kept.config.resources), (3, 6));
        let plan_of = resolved(&config, &original);
        let regrown = regrow(&plan_of, original.seed, property, &kept, 50_000, 1_000)
            .expect("a smaller group fails the same way");
        assert!(
            regrown.size < kept.size,
            "{:?} -> {:?}",
            kept.size,
            regrown.size
        );
        assert!(regrown.config.nodes * regrown.config.resources < 18);
        assert_eq!(Cause::of(&regrown), Cause::of(&kept));
        assert_ne!(regrown.seed, original.seed);
        let again = run(&regrown.config, regrown.seed, RunOptions::default());
        let v = again.violation_of(property).expect("the regrown run fails");
        assert_eq!(v.step + 1, regrown.size.events);
        // The same search again finds the same run.
        let twice = regrow(&plan_of, original.seed, property, &kept, 50_000, 1_000).unwrap();
        assert_eq!((twice.seed, twice.size), (regrown.seed, regrown.size));
    }
}
