//! Symmetry reduction over node names.
//!
//! stateright 0.31 applies symmetry only in its depth-first checker, so the model applies it
//! itself: after every step the state is renamed into a canonical order, which serves both
//! strategies. The order sorts processes by what does not depend on their names: the
//! `create_rev` of their member key (seniority), then their lease, then whether they are up.
//! Any consistent renaming is sound (the protocol never decides by comparing names); a better
//! order only merges more states.

use crate::config::ModelConfig;
use crate::state::{State, WatchMsg};
use protocol::registry::Key;
use protocol::rename::{RenameNodes, Renaming};

/// Rename `s` into its representative.
pub fn canonicalize(s: &mut State) {
    let n = s.processes.len();
    let mut order: Vec<usize> = (0..n).collect();
    let key = |i: usize| {
        let p = &s.processes[i];
        let seniority = s
            .registry
            .get(&Key::Member(p.node.id().clone()))
            .map_or(u64::MAX, |kv| kv.create_rev);
        let lease = p.node.lease().map_or(u64::MAX, |l| l.0);
        (seniority, lease, !p.up)
    };
    order.sort_by_key(|&i| (key(i), i));
    if order.iter().enumerate().all(|(j, &i)| i == j) {
        return;
    }
    let map: Renaming = order
        .iter()
        .enumerate()
        .map(|(j, &i)| (ModelConfig::node_id(i), ModelConfig::node_id(j)))
        .collect();
    s.registry.rename_nodes(&map);
    for p in s.processes.iter_mut() {
        p.rename_nodes(&map);
    }
    for ch in s.channels.iter_mut() {
        for (_, r, _) in ch.requests.iter_mut() {
            r.rename_nodes(&map);
        }
        for r in ch.replies.iter_mut() {
            r.outcome.rename_nodes(&map);
        }
        for m in ch.watch.iter_mut() {
            match m {
                WatchMsg::Event(e) => e.rename_nodes(&map),
                WatchMsg::Reply(r) => r.outcome.rename_nodes(&map),
                WatchMsg::Broken => {}
            }
        }
        ch.requests.sort();
        ch.replies.sort();
    }
    let mut processes = std::mem::take(&mut s.processes);
    let mut channels = std::mem::take(&mut s.channels);
    let mut slots: Vec<_> = processes
        .drain(..)
        .zip(channels.drain(..))
        .map(Some)
        .collect();
    for &i in &order {
        let (p, ch) = slots[i]
            .take()
            .expect("a permutation visits each process once");
        s.processes.push(p);
        s.channels.push(ch);
    }
}
