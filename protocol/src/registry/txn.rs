//! Requests, transactions and replies: etcd v3's shape, with typed keys.

use super::key::{Key, KeyValue, Value};
use crate::ids::{LeaseId, Revision};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A condition of a transaction on one key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Compare {
    /// The key exists.
    Exists(Key),
    /// The key does not exist.
    Absent(Key),
    /// The key exists with this value.
    ValueIs(Key, Value),
    /// The key exists and was created at this revision.
    CreateRevIs(Key, Revision),
    /// The key exists and was last modified at this revision.
    ModRevIs(Key, Revision),
}

/// An operation inside a transaction.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Op {
    /// Create or overwrite a key, attached to a lease (or none). Fails the whole transaction if
    /// the lease does not exist.
    Put {
        /// The key.
        key: Key,
        /// The new value.
        value: Value,
        /// The lease to attach it to.
        lease: Option<LeaseId>,
    },
    /// Delete a key (no error if absent).
    Delete {
        /// The key.
        key: Key,
    },
    /// Read one key.
    Get {
        /// The key.
        key: Key,
    },
}

/// `if all(compare) then ops else otherwise`, atomically; one revision if anything changed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Txn {
    /// Conditions, all of which must hold.
    pub compare: Vec<Compare>,
    /// Applied when the conditions hold.
    pub then: Vec<Op>,
    /// Applied otherwise.
    pub otherwise: Vec<Op>,
}

impl Txn {
    /// An unconditional transaction.
    pub fn always(then: Vec<Op>) -> Txn {
        Txn {
            compare: Vec::new(),
            then,
            otherwise: Vec::new(),
        }
    }
}

/// A request from a client to the registry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Request {
    /// Grant a new lease of `ttl` milliseconds.
    Grant {
        /// Time to live, in the registry's milliseconds.
        ttl: u64,
    },
    /// Renew a lease.
    KeepAlive {
        /// The lease.
        lease: LeaseId,
    },
    /// Revoke a lease, deleting every key attached to it.
    Revoke {
        /// The lease.
        lease: LeaseId,
    },
    /// A transaction.
    Txn(Txn),
    /// Read every key of the group.
    Range,
    /// Watch every key of the group from a revision on. A client has one watch; a new one
    /// replaces it.
    Watch {
        /// First revision to report.
        from_rev: Revision,
    },
}

/// What the registry answers, when the request reached it and was processed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Response {
    /// A lease was granted.
    Granted {
        /// The new lease.
        lease: LeaseId,
        /// Its ttl.
        ttl: u64,
    },
    /// A lease was renewed.
    KeptAlive {
        /// Remaining time to live.
        ttl: u64,
    },
    /// A lease was revoked.
    Revoked {
        /// The revision after the deletions.
        rev: Revision,
    },
    /// The lease does not exist (expired or revoked).
    LeaseNotFound,
    /// A transaction ran.
    Txn(TxnResult),
    /// The group's keys.
    Range {
        /// The revision the snapshot was taken at.
        rev: Revision,
        /// Every key and its record, in key order.
        kvs: Vec<(Key, KeyValue)>,
    },
    /// The watch was created; events from `from_rev` follow on the watch stream.
    WatchCreated,
    /// The watch could not start: `from_rev` is older than the compacted history.
    Compacted {
        /// The oldest revision still available.
        compact_rev: Revision,
    },
}

/// The outcome of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxnResult {
    /// Whether the compares held (and `then` ran).
    pub succeeded: bool,
    /// The registry's revision after the transaction.
    pub rev: Revision,
    /// One result per `Get`, in order.
    pub gets: Vec<Option<KeyValue>>,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Grant { ttl } => write!(f, "Grant(ttl={ttl})"),
            Request::KeepAlive { lease } => write!(f, "KeepAlive({lease})"),
            Request::Revoke { lease } => write!(f, "Revoke({lease})"),
            Request::Range => write!(f, "Range"),
            Request::Watch { from_rev } => write!(f, "Watch(from={from_rev})"),
            Request::Txn(t) => {
                write!(f, "Txn(")?;
                if !t.compare.is_empty() {
                    let c: Vec<String> = t.compare.iter().map(|c| c.to_string()).collect();
                    write!(f, "if {} then ", c.join(" && "))?;
                }
                let ops: Vec<String> = t.then.iter().map(|o| o.to_string()).collect();
                write!(f, "{})", ops.join("; "))
            }
        }
    }
}

impl fmt::Display for Compare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compare::Exists(k) => write!(f, "{k} exists"),
            Compare::Absent(k) => write!(f, "{k} absent"),
            Compare::ValueIs(k, v) => write!(f, "{k}=={v}"),
            Compare::CreateRevIs(k, r) => write!(f, "{k}.create_rev=={r}"),
            Compare::ModRevIs(k, r) => write!(f, "{k}.mod_rev=={r}"),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put { key, value, lease } => match lease {
                Some(l) => write!(f, "put {key}={value} on {l}"),
                None => write!(f, "put {key}={value}"),
            },
            Op::Delete { key } => write!(f, "delete {key}"),
            Op::Get { key } => write!(f, "get {key}"),
        }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Response::Granted { lease, .. } => write!(f, "granted {lease}"),
            Response::KeptAlive { .. } => write!(f, "kept alive"),
            Response::Revoked { rev } => write!(f, "revoked @{rev}"),
            Response::LeaseNotFound => write!(f, "lease not found"),
            Response::Txn(t) if t.succeeded => write!(f, "txn succeeded @{}", t.rev),
            Response::Txn(t) => write!(f, "txn compare failed @{}", t.rev),
            Response::Range { rev, kvs } => write!(f, "range @{rev} ({} keys)", kvs.len()),
            Response::WatchCreated => write!(f, "watch created"),
            Response::Compacted { compact_rev } => write!(f, "compacted (oldest {compact_rev})"),
        }
    }
}
