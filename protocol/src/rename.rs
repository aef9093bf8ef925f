//! Consistent renaming of nodes throughout a value.
//!
//! The protocol never compares node names to decide anything (ties go by seniority), so renaming
//! every node consistently maps a behaviour to a behaviour. Model checkers use this for symmetry
//! reduction: states equal up to a renaming of nodes are explored once.

use crate::allocate::Assignment;
use crate::ids::{NodeId, Session};
use crate::registry::{
    Change, Compare, Key, KeyValue, Op, Request, Response, Txn, TxnResult, Value, WatchEvent,
};
use crate::rpc::Outcome;
use crate::world::Process;
use std::collections::BTreeMap;

/// A renaming of nodes (a permutation of their names).
pub type Renaming = BTreeMap<NodeId, NodeId>;

/// Rename every node a value mentions.
pub trait RenameNodes {
    /// Apply `map` (names it lacks stay as they are).
    fn rename_nodes(&mut self, map: &Renaming);
}

impl RenameNodes for NodeId {
    fn rename_nodes(&mut self, map: &Renaming) {
        if let Some(n) = map.get(self) {
            *self = n.clone();
        }
    }
}

impl RenameNodes for Session {
    fn rename_nodes(&mut self, map: &Renaming) {
        self.node.rename_nodes(map);
    }
}

impl<T: RenameNodes> RenameNodes for Option<T> {
    fn rename_nodes(&mut self, map: &Renaming) {
        if let Some(t) = self {
            t.rename_nodes(map);
        }
    }
}

impl<T: RenameNodes> RenameNodes for Vec<T> {
    fn rename_nodes(&mut self, map: &Renaming) {
        for t in self {
            t.rename_nodes(map);
        }
    }
}

impl RenameNodes for Key {
    fn rename_nodes(&mut self, map: &Renaming) {
        if let Key::Member(n) | Key::Stopped(n) = self {
            n.rename_nodes(map);
        }
    }
}

impl RenameNodes for Value {
    fn rename_nodes(&mut self, map: &Renaming) {
        match self {
            Value::Empty => {}
            Value::Session(s) => s.rename_nodes(map),
            Value::Assignment(a) => a.rename_nodes(map),
        }
    }
}

impl RenameNodes for KeyValue {
    fn rename_nodes(&mut self, map: &Renaming) {
        self.value.rename_nodes(map);
    }
}

impl RenameNodes for Assignment {
    fn rename_nodes(&mut self, map: &Renaming) {
        self.shares = std::mem::take(&mut self.shares)
            .into_iter()
            .map(|(mut n, rs)| {
                n.rename_nodes(map);
                (n, rs)
            })
            .collect();
    }
}

impl RenameNodes for Compare {
    fn rename_nodes(&mut self, map: &Renaming) {
        match self {
            Compare::Exists(k) | Compare::Absent(k) => k.rename_nodes(map),
            Compare::ValueIs(k, v) => {
                k.rename_nodes(map);
                v.rename_nodes(map);
            }
            Compare::CreateRevIs(k, _) | Compare::ModRevIs(k, _) => k.rename_nodes(map),
        }
    }
}

impl RenameNodes for Op {
    fn rename_nodes(&mut self, map: &Renaming) {
        match self {
            Op::Put { key, value, .. } => {
                key.rename_nodes(map);
                value.rename_nodes(map);
            }
            Op::Delete { key } | Op::Get { key } => key.rename_nodes(map),
        }
    }
}

impl RenameNodes for Txn {
    fn rename_nodes(&mut self, map: &Renaming) {
        self.compare.rename_nodes(map);
        self.then.rename_nodes(map);
        self.otherwise.rename_nodes(map);
    }
}

impl RenameNodes for Request {
    fn rename_nodes(&mut self, map: &Renaming) {
        if let Request::Txn(t) = self {
            t.rename_nodes(map);
        }
    }
}

impl RenameNodes for TxnResult {
    fn rename_nodes(&mut self, map: &Renaming) {
        self.gets.rename_nodes(map);
    }
}

impl RenameNodes for (Key, KeyValue) {
    fn rename_nodes(&mut self, map: &Renaming) {
        self.0.rename_nodes(map);
        self.1.rename_nodes(map);
    }
}

impl RenameNodes for Response {
    fn rename_nodes(&mut self, map: &Renaming) {
        match self {
            Response::Txn(t) => t.rename_nodes(map),
            Response::Range { kvs, .. } => {
                kvs.rename_nodes(map);
                kvs.sort(); // a range lists keys in order
            }
            Response::Granted { .. }
            | Response::KeptAlive { .. }
            | Response::Revoked { .. }
            | Response::LeaseNotFound
            | Response::WatchCreated
            | Response::Compacted { .. } => {}
        }
    }
}

impl RenameNodes for Outcome {
    fn rename_nodes(&mut self, map: &Renaming) {
        if let Outcome::Success(r) = self {
            r.rename_nodes(map);
        }
    }
}

impl RenameNodes for Change {
    fn rename_nodes(&mut self, map: &Renaming) {
        match self {
            Change::Put(k, kv) => {
                k.rename_nodes(map);
                kv.rename_nodes(map);
            }
            Change::Delete(k) => k.rename_nodes(map),
        }
    }
}

impl RenameNodes for WatchEvent {
    fn rename_nodes(&mut self, map: &Renaming) {
        self.changes.rename_nodes(map);
        // Changes of one revision touch distinct keys: their order carries no meaning, so keep
        // them sorted, as a registry that lists them by key would.
        self.changes.sort();
    }
}

impl RenameNodes for Process {
    fn rename_nodes(&mut self, map: &Renaming) {
        self.node.rename_nodes(map);
    }
}

impl RenameNodes for crate::registry::Registry {
    fn rename_nodes(&mut self, map: &Renaming) {
        self.rename_all(map);
    }
}

impl RenameNodes for crate::node::Node {
    fn rename_nodes(&mut self, map: &Renaming) {
        self.rename_all(map);
    }
}
