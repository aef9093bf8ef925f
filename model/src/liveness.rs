//! The eventually-properties, checked soundly on the bounded model.
//!
//! "Once faults stop, P holds" is checked as: from every reachable state, some path of
//! fault-free steps reaches a state where P holds. Faults are budgeted, so every run has a last
//! fault; from there only fault-free steps happen. On a finite graph, if P is reachable from
//! every state, every run that keeps giving each enabled step its chance (strong fairness over
//! steps) reaches P; if P is unreachable from some reachable state, no continuation at all
//! reaches it, and that state is a counterexample. So the check is exact under strong fairness.
//!
//! (stateright's own `eventually` looks only at terminal states and misses cycles; a protocol
//! stuck in a retry loop would pass it. Hence this pass, which builds the fault-free graph
//! explicitly and searches backwards from the states where P holds.)

use crate::action::Action;
use crate::check::{PropertyResult, Status};
use crate::state::State;
use crate::system::RebalanceModel;
use crate::trace;
use protocol::properties::{all_resources_accessed, rebalance_completes};
use protocol::Property;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

/// The result of the pass.
pub struct Liveness {
    /// States explored.
    pub states: usize,
    /// Seconds taken.
    pub seconds: f64,
    /// One result per eventually-property.
    pub results: Vec<PropertyResult>,
}

type Good = fn(&State) -> bool;

/// The eventually-properties and their "good" states.
pub const EVENTUALLY: [(Property, Good); 2] = [
    (Property::AllResourcesAccessed, |s| {
        all_resources_accessed(&RebalanceModel::world(s))
    }),
    (Property::RebalanceCompletes, |s| {
        rebalance_completes(&RebalanceModel::world(s))
    }),
];

fn fingerprint(s: &State) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Explore the whole model, keeping the fault-free edges, then search backwards.
pub fn run(model: &RebalanceModel, timeout: Option<Duration>, progress: bool) -> Liveness {
    let start = Instant::now();
    let mut index: HashMap<u64, u32> = HashMap::new();
    // For each state: its parent and the index of the action (among the parent's enabled
    // actions) that led to it, to rebuild a path.
    let mut parent: Vec<(u32, u32)> = Vec::new();
    let mut good: Vec<u8> = Vec::new();
    let mut edges: Vec<(u32, u32)> = Vec::new();
    let mut queue: VecDeque<(u32, State)> = VecDeque::new();
    let init = model.initial();
    index.insert(fingerprint(&init), 0);
    parent.push((u32::MAX, 0));
    good.push(goodness(&init));
    queue.push_back((0, init.clone()));
    let mut actions = Vec::new();
    let mut complete = true;
    let mut last = 0;
    while let Some((id, s)) = queue.pop_front() {
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            complete = false;
            break;
        }
        actions.clear();
        model.enabled(&s, &mut actions);
        for (k, a) in actions.iter().enumerate() {
            let next = model.step(&s, a);
            let fp = fingerprint(&next);
            let next_id = match index.get(&fp) {
                Some(&n) => n,
                None => {
                    let n = parent.len() as u32;
                    index.insert(fp, n);
                    parent.push((id, k as u32));
                    good.push(goodness(&next));
                    queue.push_back((n, next));
                    n
                }
            };
            if !a.is_fault() {
                edges.push((id, next_id));
            }
        }
        let secs = start.elapsed().as_secs();
        if progress && secs >= last + 2 {
            last = secs;
            eprintln!(
                "  liveness: {} states, {} fault-free edges, {}s",
                parent.len(),
                edges.len(),
                secs
            );
        }
    }
    let n = parent.len();
    // Predecessors over fault-free edges, as a compressed sparse row.
    let mut start_of = vec![0u32; n + 1];
    for &(_, to) in &edges {
        start_of[to as usize + 1] += 1;
    }
    for i in 0..n {
        start_of[i + 1] += start_of[i];
    }
    let mut fill = start_of.clone();
    let mut preds = vec![0u32; edges.len()];
    for &(from, to) in &edges {
        preds[fill[to as usize] as usize] = from;
        fill[to as usize] += 1;
    }
    drop(edges);

    let mut results = Vec::new();
    for (bit, (property, _)) in EVENTUALLY.iter().enumerate() {
        let name = property.name();
        if !complete {
            results.push(PropertyResult {
                name: name.to_string(),
                kind: "eventually".into(),
                status: Status::Unknown,
                reason: Some("the liveness pass ran out of time".into()),
                trace: None,
            });
            continue;
        }
        let mut reaches = vec![false; n];
        let mut work: Vec<u32> = Vec::new();
        for (i, g) in good.iter().enumerate() {
            if g & (1 << bit) != 0 {
                reaches[i] = true;
                work.push(i as u32);
            }
        }
        while let Some(v) = work.pop() {
            let (a, b) = (start_of[v as usize], start_of[v as usize + 1]);
            for &u in &preds[a as usize..b as usize] {
                if !reaches[u as usize] {
                    reaches[u as usize] = true;
                    work.push(u);
                }
            }
        }
        // States are numbered in breadth-first order: the first stuck one is the nearest.
        let stuck = reaches.iter().position(|r| !r);
        results.push(match stuck {
            None => PropertyResult {
                name: name.to_string(),
                kind: "eventually".into(),
                status: Status::Holds,
                reason: None,
                trace: None,
            },
            Some(i) => {
                let (states, actions) = path_to(model, &parent, i as u32);
                let mut t = trace::render(model, &states, &actions);
                t.last_state.insert(
                    0,
                    format!("from this state no fault-free continuation ever satisfies {name}"),
                );
                PropertyResult {
                    name: name.to_string(),
                    kind: "eventually".into(),
                    status: Status::Violated,
                    reason: Some(format!(
                        "after step {}, no fault-free continuation reaches a state where it holds",
                        actions.len()
                    )),
                    trace: Some(t),
                }
            }
        });
    }
    Liveness {
        states: n,
        seconds: start.elapsed().as_secs_f64(),
        results,
    }
}

fn goodness(s: &State) -> u8 {
    let mut g = 0;
    for (bit, (_, f)) in EVENTUALLY.iter().enumerate() {
        if f(s) {
            g |= 1 << bit;
        }
    }
    g
}

fn path_to(
    model: &RebalanceModel,
    parent: &[(u32, u32)],
    target: u32,
) -> (Vec<State>, Vec<Action>) {
    let mut picks = Vec::new();
    let mut at = target;
    while parent[at as usize].0 != u32::MAX {
        picks.push(parent[at as usize].1);
        at = parent[at as usize].0;
    }
    picks.reverse();
    let mut s = model.initial();
    let mut states = vec![s.clone()];
    let mut actions = Vec::new();
    let mut enabled = Vec::new();
    for k in picks {
        enabled.clear();
        model.enabled(&s, &mut enabled);
        let a = enabled[k as usize].clone();
        s = model.step(&s, &a);
        states.push(s.clone());
        actions.push(a);
    }
    (states, actions)
}
