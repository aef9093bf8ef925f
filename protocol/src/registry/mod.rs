//! The registry as a pure, etcd-shaped state machine.
//!
//! Linearizable by construction: each call is one atomic step. The model, the simulator and the
//! embedded registry server all drive this same type; the etcd backend is held to its semantics.
//!
//! - a global revision, +1 per mutating transaction (and per lease expiry or revoke that deleted
//!   keys); keep-alives and reads do not move it;
//! - leases with a ttl on the registry's clock; when one expires or is revoked, every key attached
//!   to it is deleted in one revision;
//! - compare-and-swap transactions; a put on a missing lease fails the whole transaction;
//! - one watch per client, delivering every later revision in order; history kept until compacted.

mod key;
mod txn;
mod watch;

pub use key::{Key, KeyValue, Value};
pub use txn::{Compare, Op, Request, Response, Txn, TxnResult};
pub use watch::{Change, WatchEvent};

use crate::ids::{LeaseId, NodeId, Revision, Time};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A granted lease.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Lease {
    /// Its time to live.
    pub ttl: u64,
    /// When it expires on the registry's clock, unless kept alive.
    pub expires_at: Time,
    /// The keys attached to it.
    pub keys: BTreeSet<Key>,
}

/// The registry's state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Registry {
    rev: Revision,
    // As pairs: JSON's object keys are strings, and a key is a record.
    #[serde(with = "pairs")]
    kv: BTreeMap<Key, KeyValue>,
    leases: BTreeMap<LeaseId, Lease>,
    next_lease: u64,
    /// Each watching client and the next revision it has to be sent.
    watchers: BTreeMap<NodeId, Revision>,
    /// Events after `compact_rev`, oldest first.
    history: VecDeque<WatchEvent>,
    compact_rev: Revision,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// The watch events a step produced, per watching client, in order.
pub type Deliveries = Vec<(NodeId, WatchEvent)>;

impl Registry {
    /// An empty registry at revision 1 (etcd starts there too).
    pub fn new() -> Self {
        Registry {
            rev: 1,
            kv: BTreeMap::new(),
            leases: BTreeMap::new(),
            next_lease: 1,
            watchers: BTreeMap::new(),
            history: VecDeque::new(),
            compact_rev: 1,
        }
    }

    /// This registry without its watch history: its keys, leases and revision, as a snapshot
    /// of the state needs them.
    pub fn without_history(&self) -> Registry {
        Registry {
            rev: self.rev,
            kv: self.kv.clone(),
            leases: self.leases.clone(),
            next_lease: self.next_lease,
            watchers: self.watchers.clone(),
            history: VecDeque::new(),
            compact_rev: self.compact_rev,
        }
    }

    /// The current revision.
    pub fn revision(&self) -> Revision {
        self.rev
    }

    /// A key's record.
    pub fn get(&self, key: &Key) -> Option<&KeyValue> {
        self.kv.get(key)
    }

    /// Every key, in order.
    pub fn keys(&self) -> impl Iterator<Item = (&Key, &KeyValue)> {
        self.kv.iter()
    }

    /// A lease, if it is alive.
    pub fn lease(&self, lease: LeaseId) -> Option<&Lease> {
        self.leases.get(&lease)
    }

    /// Every live lease.
    pub fn leases(&self) -> impl Iterator<Item = (LeaseId, &Lease)> {
        self.leases.iter().map(|(id, l)| (*id, l))
    }

    /// The events of revisions after `rev` still in history, oldest first.
    pub fn history_since(&self, rev: Revision) -> impl Iterator<Item = &WatchEvent> {
        self.history.iter().filter(move |e| e.rev > rev)
    }

    /// Whether a client has a watch.
    pub fn is_watching(&self, client: &NodeId) -> bool {
        self.watchers.contains_key(client)
    }

    /// Process one request from `client` at registry time `now`: the reply, and the watch events
    /// it caused (for every watcher, the requester included).
    pub fn handle(
        &mut self,
        now: Time,
        client: &NodeId,
        request: &Request,
    ) -> (Response, Deliveries) {
        match request {
            Request::Grant { ttl } => {
                let lease = LeaseId(self.next_lease);
                self.next_lease += 1;
                self.leases.insert(
                    lease,
                    Lease {
                        ttl: *ttl,
                        expires_at: now.plus(*ttl),
                        keys: BTreeSet::new(),
                    },
                );
                (Response::Granted { lease, ttl: *ttl }, Vec::new())
            }
            Request::KeepAlive { lease } => match self.leases.get_mut(lease) {
                Some(l) => {
                    l.expires_at = now.plus(l.ttl);
                    (Response::KeptAlive { ttl: l.ttl }, Vec::new())
                }
                None => (Response::LeaseNotFound, Vec::new()),
            },
            Request::Revoke { lease } => match self.end_lease(*lease) {
                Some(deliveries) => (Response::Revoked { rev: self.rev }, deliveries),
                None => (Response::LeaseNotFound, Vec::new()),
            },
            Request::Txn(txn) => {
                let (result, deliveries) = self.txn(txn);
                (result, deliveries)
            }
            Request::Range => (
                Response::Range {
                    rev: self.rev,
                    kvs: self
                        .kv
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                },
                Vec::new(),
            ),
            Request::Watch { from_rev } => {
                if *from_rev <= self.compact_rev {
                    return (
                        Response::Compacted {
                            compact_rev: self.compact_rev,
                        },
                        Vec::new(),
                    );
                }
                let replay: Deliveries = self
                    .history
                    .iter()
                    .filter(|e| e.rev >= *from_rev)
                    .map(|e| (client.clone(), e.clone()))
                    .collect();
                self.watchers
                    .insert(client.clone(), (*from_rev).max(self.rev + 1));
                (Response::WatchCreated, replay)
            }
        }
    }

    /// Run a transaction (also the administrator's way in: it watches nothing).
    pub fn txn(&mut self, txn: &Txn) -> (Response, Deliveries) {
        let succeeded = txn.compare.iter().all(|c| self.holds(c));
        let ops = if succeeded { &txn.then } else { &txn.otherwise };
        // A put on a dead lease fails the whole transaction before anything changes.
        for op in ops {
            if let Op::Put {
                lease: Some(lease), ..
            } = op
            {
                if !self.leases.contains_key(lease) {
                    return (Response::LeaseNotFound, Vec::new());
                }
            }
        }
        let mut gets = Vec::new();
        let mut changes = Vec::new();
        let next = self.rev + 1;
        for op in ops {
            match op {
                Op::Get { key } => gets.push(self.kv.get(key).cloned()),
                Op::Put { key, value, lease } => {
                    let kv = match self.kv.get(key) {
                        Some(old) => KeyValue {
                            value: value.clone(),
                            create_rev: old.create_rev,
                            mod_rev: next,
                            version: old.version + 1,
                            lease: *lease,
                        },
                        None => KeyValue {
                            value: value.clone(),
                            create_rev: next,
                            mod_rev: next,
                            version: 1,
                            lease: *lease,
                        },
                    };
                    if let Some(old) = self.kv.insert(key.clone(), kv.clone()) {
                        self.detach(key, old.lease);
                    }
                    if let Some(lease) = lease {
                        if let Some(l) = self.leases.get_mut(lease) {
                            l.keys.insert(key.clone());
                        }
                    }
                    changes.push(Change::Put(key.clone(), kv));
                }
                Op::Delete { key } => {
                    if let Some(old) = self.kv.remove(key) {
                        self.detach(key, old.lease);
                        changes.push(Change::Delete(key.clone()));
                    }
                }
            }
        }
        let deliveries = self.commit(changes);
        (
            Response::Txn(TxnResult {
                succeeded,
                rev: self.rev,
                gets,
            }),
            deliveries,
        )
    }

    /// Expire every lease whose time has come on the registry clock.
    pub fn expire_due(&mut self, now: Time) -> Deliveries {
        let due: Vec<LeaseId> = self
            .leases
            .iter()
            .filter(|(_, l)| l.expires_at <= now)
            .map(|(id, _)| *id)
            .collect();
        due.into_iter()
            .flat_map(|l| self.end_lease(l).unwrap_or_default())
            .collect()
    }

    /// Move the registry's clock back by `by` (every lease's expiry with it). A model checker
    /// that keeps time as a bounded counter shifts every clock down together, so that states
    /// which differ only by when they happen compare equal.
    pub fn shift_clock(&mut self, by: u64) {
        for l in self.leases.values_mut() {
            l.expires_at = Time(l.expires_at.0.saturating_sub(by));
        }
    }

    /// Expire one lease now (the model checker decides when time has run out).
    pub fn expire(&mut self, lease: LeaseId) -> Deliveries {
        self.end_lease(lease).unwrap_or_default()
    }

    /// Break one client's watch (a dropped stream). Returns whether it had one.
    pub fn break_watch(&mut self, client: &NodeId) -> bool {
        self.watchers.remove(client).is_some()
    }

    /// Restart: durable state is kept (etcd persists it), every watch breaks, and leases get a
    /// fresh ttl (etcd renews leases on restart). Returns the clients whose watches broke.
    pub fn restart(&mut self, now: Time) -> Vec<NodeId> {
        for l in self.leases.values_mut() {
            l.expires_at = now.plus(l.ttl);
        }
        std::mem::take(&mut self.watchers).into_keys().collect()
    }

    /// Forget history up to and including `rev`: watches from there on answer `Compacted`.
    pub fn compact(&mut self, rev: Revision) {
        let rev = rev.min(self.rev);
        while self.history.front().is_some_and(|e| e.rev <= rev) {
            self.history.pop_front();
        }
        self.compact_rev = self.compact_rev.max(rev);
    }

    /// Rename nodes throughout (symmetry reduction); see [`crate::rename`].
    pub(crate) fn rename_all(&mut self, map: &crate::rename::Renaming) {
        use crate::rename::RenameNodes;
        self.kv = std::mem::take(&mut self.kv)
            .into_iter()
            .map(|(mut k, mut kv)| {
                k.rename_nodes(map);
                kv.rename_nodes(map);
                (k, kv)
            })
            .collect();
        for l in self.leases.values_mut() {
            l.keys = std::mem::take(&mut l.keys)
                .into_iter()
                .map(|mut k| {
                    k.rename_nodes(map);
                    k
                })
                .collect();
        }
        self.watchers = std::mem::take(&mut self.watchers)
            .into_iter()
            .map(|(mut n, r)| {
                n.rename_nodes(map);
                (n, r)
            })
            .collect();
        for e in self.history.iter_mut() {
            e.rename_nodes(map);
        }
    }

    fn end_lease(&mut self, lease: LeaseId) -> Option<Deliveries> {
        let l = self.leases.remove(&lease)?;
        let mut changes = Vec::new();
        // Deletions by lease are listed in key order.
        for key in l.keys {
            if self.kv.get(&key).is_some_and(|kv| kv.lease == Some(lease)) {
                self.kv.remove(&key);
                changes.push(Change::Delete(key));
            }
        }
        Some(self.commit(changes))
    }

    fn detach(&mut self, key: &Key, lease: Option<LeaseId>) {
        if let Some(l) = lease.and_then(|l| self.leases.get_mut(&l)) {
            l.keys.remove(key);
        }
    }

    fn holds(&self, c: &Compare) -> bool {
        match c {
            Compare::Exists(k) => self.kv.contains_key(k),
            Compare::Absent(k) => !self.kv.contains_key(k),
            Compare::ValueIs(k, v) => self.kv.get(k).is_some_and(|kv| &kv.value == v),
            Compare::CreateRevIs(k, r) => self.kv.get(k).is_some_and(|kv| kv.create_rev == *r),
            Compare::ModRevIs(k, r) => self.kv.get(k).is_some_and(|kv| kv.mod_rev == *r),
        }
    }

    /// One revision for a non-empty change set, recorded in history and sent to every watcher.
    fn commit(&mut self, mut changes: Vec<Change>) -> Deliveries {
        if changes.is_empty() {
            return Vec::new();
        }
        // One revision changes each key once; list them by key, as etcd's event order carries
        // no meaning within a revision.
        changes.sort();
        self.rev += 1;
        let event = WatchEvent {
            rev: self.rev,
            changes,
        };
        let mut out = Vec::with_capacity(self.watchers.len());
        for (client, next) in self.watchers.iter_mut() {
            if *next <= event.rev {
                out.push((client.clone(), event.clone()));
                *next = event.rev + 1;
            }
        }
        self.history.push_back(event);
        out
    }
}

/// A map as a list of `[key, value]` pairs, for keys that are not strings.
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
