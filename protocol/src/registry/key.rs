//! The typed keys of one group and the values stored under them.
//!
//! The etcd backend maps them to `/{group}/members/{node}`, `/{group}/leader`, and so on; the core
//! never sees bytes.

use crate::allocate::Assignment;
use crate::ids::{LeaseId, NodeId, ResourceId, Revision, Session};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A key of the group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Key {
    /// A live member; on its lease; its `create_rev` orders the members by seniority.
    Member(NodeId),
    /// The leader; on its lease; its `create_rev` is the leader's term (the fencing token).
    Leader,
    /// A resource of the group, put and deleted by the administrator.
    Resource(ResourceId),
    /// The assignment the leader wrote last.
    Assignment,
    /// Whoever holds this key may access the resource; on the holder's lease.
    Barrier(ResourceId),
    /// Global-barrier protocol: the leader's status.
    Status,
    /// Global-barrier protocol: a node has stopped everything.
    Stopped(NodeId),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Member(n) => write!(f, "members/{n}"),
            Key::Leader => write!(f, "leader"),
            Key::Resource(r) => write!(f, "resources/{r}"),
            Key::Assignment => write!(f, "assignment"),
            Key::Barrier(r) => write!(f, "barriers/{r}"),
            Key::Status => write!(f, "status"),
            Key::Stopped(n) => write!(f, "stopped/{n}"),
        }
    }
}

/// A value stored under a key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Value {
    /// No payload (resource keys).
    Empty,
    /// The session that owns the key (members, leader, barriers).
    Session(Session),
    /// The leader's assignment.
    Assignment(Assignment),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Empty => write!(f, "-"),
            Value::Session(s) => write!(f, "{s}"),
            Value::Assignment(a) => write!(f, "{a}"),
        }
    }
}

/// A key's record: its value and etcd's metadata.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeyValue {
    /// The value.
    pub value: Value,
    /// Revision of the put that created the key (since its last deletion).
    pub create_rev: Revision,
    /// Revision of the last put.
    pub mod_rev: Revision,
    /// Number of puts since creation.
    pub version: u64,
    /// The lease the key is attached to: the key dies with it.
    pub lease: Option<LeaseId>,
}
