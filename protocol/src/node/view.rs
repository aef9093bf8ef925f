//! A node's mirror of its group in the registry, built from a `Range` and kept up by the watch.

use crate::allocate::Assignment;
use crate::ids::{NodeId, ResourceId, Revision, Session};
use crate::registry::{Change, Key, KeyValue, Value, WatchEvent};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The group as the node last saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct View {
    /// The revision this view reflects (0: never read).
    pub rev: Revision,
    /// Members: their session and `create_rev` (seniority).
    pub members: BTreeMap<NodeId, (Session, Revision)>,
    /// The leader's session and term.
    pub leader: Option<(Session, u64)>,
    /// The resources.
    pub resources: BTreeSet<ResourceId>,
    /// The latest assignment.
    pub assignment: Option<Assignment>,
    /// The assignment key's `mod_rev` (0: none): a leader's write compares it, so that a
    /// delayed or duplicated write of an older view can never land after a newer one.
    pub assignment_rev: Revision,
    /// Who holds each barrier, and the barrier's `create_rev`: a release compares it, so that
    /// a release delayed in the network cannot delete a later barrier of the same session.
    pub barriers: BTreeMap<ResourceId, (Session, Revision)>,
}

impl View {
    /// A view from a `Range` snapshot.
    pub fn from_range(rev: Revision, kvs: &[(Key, KeyValue)]) -> View {
        let mut v = View {
            rev,
            ..View::default()
        };
        for (k, kv) in kvs {
            v.put(k, kv);
        }
        v
    }

    /// Apply a watch event, if it is newer than the view.
    pub fn apply(&mut self, event: &WatchEvent) {
        if event.rev <= self.rev {
            return;
        }
        for change in &event.changes {
            match change {
                Change::Put(k, kv) => self.put(k, kv),
                Change::Delete(k) => self.delete(k),
            }
        }
        self.rev = event.rev;
    }

    /// Members, most senior first.
    pub fn members_by_seniority(&self) -> Vec<NodeId> {
        let mut m: Vec<(&Revision, &NodeId)> =
            self.members.iter().map(|(n, (_, c))| (c, n)).collect();
        m.sort();
        m.into_iter().map(|(_, n)| n.clone()).collect()
    }

    fn put(&mut self, key: &Key, kv: &KeyValue) {
        match (key, &kv.value) {
            (Key::Member(n), Value::Session(s)) => {
                self.members.insert(n.clone(), (s.clone(), kv.create_rev));
            }
            (Key::Leader, Value::Session(s)) => self.leader = Some((s.clone(), kv.create_rev)),
            (Key::Resource(r), _) => {
                self.resources.insert(r.clone());
            }
            (Key::Assignment, Value::Assignment(a)) => {
                self.assignment = Some(a.clone());
                self.assignment_rev = kv.mod_rev;
            }
            (Key::Barrier(r), Value::Session(s)) => {
                self.barriers.insert(r.clone(), (s.clone(), kv.create_rev));
            }
            // Keys of the global-barrier protocol, or a value of the wrong shape: not ours.
            _ => {}
        }
    }

    fn delete(&mut self, key: &Key) {
        match key {
            Key::Member(n) => {
                self.members.remove(n);
            }
            Key::Leader => self.leader = None,
            Key::Resource(r) => {
                self.resources.remove(r);
            }
            Key::Assignment => {
                self.assignment = None;
                self.assignment_rev = 0;
            }
            Key::Barrier(r) => {
                self.barriers.remove(r);
            }
            Key::Status | Key::Stopped(_) => {}
        }
    }
}
