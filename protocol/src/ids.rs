//! Identifiers and the units the core counts in.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A node's name, unique within its group (`/{group}/members/{node}` in etcd).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub CompactString);

/// A resource's name (a queue, a bucket, a shard...), unique within its group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceId(pub CompactString);

impl NodeId {
    /// A node id from any string.
    pub fn new(name: impl AsRef<str>) -> Self {
        NodeId(CompactString::new(name.as_ref()))
    }

    /// The `i`-th node (0-based) of a group whose nodes are numbered, named `n{i+1}`: `n1` for
    /// 0. The model checker, the simulator and the tests name their nodes so.
    pub fn numbered(i: usize) -> NodeId {
        NodeId(compact_str::format_compact!("n{}", i + 1))
    }

    /// The inverse of [`NodeId::numbered`]: `Some(i)` if this is the `i`-th numbered node (`n3`
    /// gives 2), `None` for any other name (`n0`, `n01`, `node-1`).
    pub fn number(&self) -> Option<usize> {
        let digits = self.0.strip_prefix('n')?;
        // Only the canonical spelling: parse would also take `+1` and `01`.
        if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<usize>().ok()?.checked_sub(1)
    }
}

impl ResourceId {
    /// A resource id from any string.
    pub fn new(name: impl AsRef<str>) -> Self {
        ResourceId(CompactString::new(name.as_ref()))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The registry's global revision: +1 per successful mutating transaction.
pub type Revision = u64;

/// A lease granted by the registry. Ids are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LeaseId(pub u64);

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}", self.0)
    }
}

/// One incarnation of a node: the node and the lease it joined with.
///
/// Keys that a node owns (its member key, the leader key, barriers) carry its session, not just
/// its id, so that a node that crashed and rejoined with a fresh lease never mistakes a key left
/// by its previous incarnation (which dies with the old lease) for its own.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Session {
    /// The node.
    pub node: NodeId,
    /// The lease of this incarnation.
    pub lease: LeaseId,
}

impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.node, self.lease)
    }
}

/// A reading of a clock, in milliseconds. Nodes pass their *local* clock; the registry its own.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Time(pub u64);

impl Time {
    /// `self + ms`, saturating.
    pub fn plus(self, ms: u64) -> Time {
        Time(self.0.saturating_add(ms))
    }
}

/// Identifies one request of one node, so that its reply can be matched (and a stale reply ignored).
pub type ReqId = u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_nodes_start_at_n1_and_number_inverts_numbered() {
        assert_eq!(NodeId::numbered(0), NodeId::new("n1"));
        assert_eq!(NodeId::numbered(11), NodeId::new("n12"));
        for i in [0, 1, 9, 10, 99, usize::MAX - 1] {
            assert_eq!(NodeId::numbered(i).number(), Some(i));
        }
        for other in ["n0", "n01", "n+1", "n", "n1x", "m1", "node-1", "", "n-1"] {
            assert_eq!(NodeId::new(other).number(), None, "{other}");
        }
    }
}
