//! Sticky, balanced allocation of resources to members.
//!
//! Balanced: per-member counts differ by at most one, every resource goes to exactly one member.
//! Sticky: a member keeps as many of its previous resources as balance allows, so a rebalance
//! moves as few resources as possible.
//!
//! Ties are broken by the members' seniority (the order the caller passes, which the leader takes
//! from the members' `create_rev`), never by comparing node names: renaming nodes consistently
//! renames the result. The model checker's symmetry reduction relies on that.

use crate::ids::{NodeId, ResourceId};
use crate::mutant::Mutant;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The leader's assignment: which member accesses which resources.
///
/// Every member the leader saw has an entry (possibly empty), so the assignment also records what
/// it was computed from: its members are the keys, its resources the union of the shares.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Assignment {
    /// The term (leader key `create_rev`) of the leader that wrote it.
    pub term: u64,
    /// +1 per write, across leaders.
    pub epoch: u64,
    /// Each member's resources.
    pub shares: BTreeMap<NodeId, BTreeSet<ResourceId>>,
}

impl Assignment {
    /// The resources of `node` (empty if it has none or is not in the assignment).
    pub fn share(&self, node: &NodeId) -> impl Iterator<Item = &ResourceId> {
        self.shares.get(node).into_iter().flatten()
    }

    /// Who is assigned `resource`.
    pub fn owner(&self, resource: &ResourceId) -> Option<&NodeId> {
        self.shares
            .iter()
            .find(|(_, rs)| rs.contains(resource))
            .map(|(n, _)| n)
    }

    /// The members it was computed for.
    pub fn members(&self) -> impl Iterator<Item = &NodeId> {
        self.shares.keys()
    }

    /// Every resource it covers.
    pub fn resources(&self) -> BTreeSet<ResourceId> {
        self.shares.values().flatten().cloned().collect()
    }

    /// How many resources keep the member `previous` gave them (none without a previous
    /// assignment).
    pub fn kept(&self, previous: Option<&Assignment>) -> usize {
        let Some(previous) = previous else {
            return 0;
        };
        self.shares
            .iter()
            .map(|(n, rs)| rs.iter().filter(|r| previous.owner(r) == Some(n)).count())
            .sum()
    }

    /// Why the assignment is not well formed (a resource twice, or counts differing by more than
    /// one), if it is not.
    pub fn defect(&self) -> Option<String> {
        let mut seen: BTreeMap<&ResourceId, &NodeId> = BTreeMap::new();
        for (node, rs) in &self.shares {
            for r in rs {
                if let Some(other) = seen.insert(r, node) {
                    return Some(format!("{r} is assigned to both {other} and {node}"));
                }
            }
        }
        let min = self.shares.values().map(|s| s.len()).min().unwrap_or(0);
        let max = self.shares.values().map(|s| s.len()).max().unwrap_or(0);
        if max > min + 1 {
            return Some(format!(
                "imbalanced: one member has {max} resources, another {min}"
            ));
        }
        None
    }
}

impl fmt::Display for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{term {} epoch {}:", self.term, self.epoch)?;
        for (n, rs) in &self.shares {
            let rs: Vec<&str> = rs.iter().map(|r| r.0.as_str()).collect();
            write!(f, " {n}=[{}]", rs.join(","))?;
        }
        write!(f, "}}")
    }
}

/// The most resources a balanced allocation of `resources` over `members` can leave with the
/// member `previous` gave them: each member keeps up to the common quota of what it had, and
/// each of the larger quotas (one per resource left over) keeps one more for a member that had
/// more than the common quota. [`allocate`] keeps exactly this many; `sticky_assignment`
/// holds a written assignment to it (the spec's `MostKept` is the same formula).
pub fn most_kept<'a>(
    members: impl IntoIterator<Item = &'a NodeId>,
    resources: &BTreeSet<ResourceId>,
    previous: Option<&Assignment>,
) -> usize {
    let Some(previous) = previous else {
        return 0;
    };
    let had: Vec<usize> = members
        .into_iter()
        .map(|m| previous.share(m).filter(|r| resources.contains(*r)).count())
        .collect();
    if had.is_empty() {
        return 0;
    }
    let base = resources.len() / had.len();
    let extra = resources.len() % had.len();
    let common: usize = had.iter().map(|&k| k.min(base)).sum();
    let over = had.iter().filter(|&&k| k > base).count();
    common + over.min(extra)
}

/// Allocate `resources` over `members` (most senior first), keeping what `previous` gave each
/// member where balance allows.
pub fn allocate(
    members: &[NodeId],
    resources: &BTreeSet<ResourceId>,
    previous: Option<&Assignment>,
    mutant: Option<Mutant>,
) -> BTreeMap<NodeId, BTreeSet<ResourceId>> {
    let previous = if mutant == Some(Mutant::ForgetfulAllocation) {
        None
    } else {
        previous
    };
    let mut shares: Vec<BTreeSet<ResourceId>> = members
        .iter()
        .map(|m| match previous.and_then(|p| p.shares.get(m)) {
            Some(old) => old.intersection(resources).cloned().collect(),
            None => BTreeSet::new(),
        })
        .collect();
    if members.is_empty() {
        return BTreeMap::new();
    }
    let base = resources.len() / members.len();
    let extra = resources.len() % members.len();
    // The members that keep the most get the `extra` larger quotas: fewest moves.
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(shares[i].len()), i));
    let mut quota = vec![base; members.len()];
    for &i in order.iter().take(extra) {
        quota[i] = base + 1;
    }
    if mutant != Some(Mutant::ImbalancedAllocation) {
        for (share, &q) in shares.iter_mut().zip(&quota) {
            while share.len() > q {
                share.pop_last();
            }
        }
    }
    let taken: BTreeSet<&ResourceId> = shares.iter().flatten().collect();
    let mut pool: Vec<ResourceId> = resources
        .iter()
        .filter(|r| !taken.contains(r))
        .cloned()
        .collect();
    pool.reverse();
    for (i, share) in shares.iter_mut().enumerate() {
        while share.len() < quota[i] {
            match pool.pop() {
                Some(r) => {
                    share.insert(r);
                }
                None => break,
            }
        }
    }
    // Only under the mutant can resources remain: they go to the most senior member.
    if let Some(first) = shares.first_mut() {
        first.extend(pool);
    }
    members.iter().cloned().zip(shares).collect()
}
