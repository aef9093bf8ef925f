//! Properties of `protocol::allocate`: balanced, complete, disjoint, only current members,
//! deterministic, sticky, and equivariant under a consistent renaming of the nodes.

use proptest::prelude::*;
use proptest::sample::{subsequence, Index};
use protocol::allocate::most_kept;
use protocol::properties::{sticky_write, AssignmentWrite};
use protocol::{allocate, Assignment, Mutant, NodeId, ResourceId};
use std::collections::{BTreeMap, BTreeSet};

type Shares = BTreeMap<NodeId, BTreeSet<ResourceId>>;

const NODES: usize = 6;
const RESOURCES: usize = 12;

fn node(i: usize) -> NodeId {
    NodeId::numbered(i)
}

fn res(i: usize) -> ResourceId {
    ResourceId::new(format!("r{i}"))
}

/// The index of a node named by [`node`].
fn node_index(n: &NodeId) -> usize {
    n.number().expect("node names are n1..n6")
}

/// Distinct members, in a random seniority order.
fn members(min: usize, max: usize) -> impl Strategy<Value = Vec<NodeId>> {
    subsequence((0..NODES).collect::<Vec<_>>(), min..=max)
        .prop_shuffle()
        .prop_map(|v| v.into_iter().map(node).collect())
}

fn resources(min: usize) -> impl Strategy<Value = BTreeSet<ResourceId>> {
    subsequence((0..RESOURCES).collect::<Vec<_>>(), min..=RESOURCES)
        .prop_map(|v| v.into_iter().map(res).collect())
}

/// A well-formed previous assignment (each resource at most once), over any of the node and
/// resource names: it may name members that left and resources that were removed, and its
/// shares need not be balanced any more for the current members and resources.
fn previous() -> impl Strategy<Value = Option<Assignment>> {
    proptest::option::of(
        (
            proptest::collection::vec(proptest::option::of(0..NODES), RESOURCES),
            proptest::collection::btree_set(0..NODES, 0..=NODES),
            1u64..5,
            1u64..10,
        )
            .prop_map(|(owners, empty, term, epoch)| {
                let mut shares = Shares::new();
                for m in empty {
                    shares.entry(node(m)).or_default();
                }
                for (r, owner) in owners.iter().enumerate() {
                    if let Some(o) = owner {
                        shares.entry(node(*o)).or_default().insert(res(r));
                    }
                }
                Assignment {
                    term,
                    epoch,
                    shares,
                }
            }),
    )
}

fn as_assignment(shares: Shares) -> Assignment {
    Assignment {
        term: 1,
        epoch: 1,
        shares,
    }
}

fn owners(shares: &Shares) -> BTreeMap<ResourceId, NodeId> {
    let mut by = BTreeMap::new();
    for (n, rs) in shares {
        for r in rs {
            by.insert(r.clone(), n.clone());
        }
    }
    by
}

fn counts(shares: &Shares) -> Vec<usize> {
    shares.values().map(BTreeSet::len).collect()
}

/// The most resources members can keep under any balanced quota (counts `base` or `base + 1`,
/// summing to `total`), found by trying every choice of who gets the larger quota. `had[i]` is
/// how many of the resources member `i` held before.
fn best_kept(had: &[usize], total: usize) -> usize {
    let n = had.len();
    if n == 0 {
        return 0;
    }
    let (base, extra) = (total / n, total % n);
    (0u32..1 << n)
        .filter(|mask| mask.count_ones() as usize == extra)
        .map(|mask| {
            (0..n)
                .map(|i| had[i].min(base + usize::from(mask & (1 << i) != 0)))
                .sum()
        })
        .max()
        .unwrap_or(0)
}

fn rename_shares(shares: &Shares, perm: &[usize]) -> Shares {
    shares
        .iter()
        .map(|(n, rs)| (node(perm[node_index(n)]), rs.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Balanced, complete, disjoint, and exactly the current members as keys.
    #[test]
    fn well_formed(members in members(1, NODES), resources in resources(0), prev in previous()) {
        let shares = allocate(&members, &resources, prev.as_ref(), None);

        let keys: BTreeSet<&NodeId> = shares.keys().collect();
        let expected: BTreeSet<&NodeId> = members.iter().collect();
        prop_assert_eq!(keys, expected, "every member has an entry, and only members");

        let c = counts(&shares);
        let (min, max) = (c.iter().min().copied(), c.iter().max().copied());
        prop_assert!(max.unwrap() <= min.unwrap() + 1, "imbalanced: {:?}", shares);

        let total: usize = c.iter().sum();
        let union: BTreeSet<ResourceId> = shares.values().flatten().cloned().collect();
        prop_assert_eq!(&union, &resources, "complete: the union of the shares is the resources");
        prop_assert_eq!(total, resources.len(), "disjoint: no resource is given twice");

        prop_assert_eq!(as_assignment(shares).defect(), None);
    }

    /// Nobody gets anything if there is nobody.
    #[test]
    fn no_members_no_shares(resources in resources(0), prev in previous()) {
        prop_assert!(allocate(&[], &resources, prev.as_ref(), None).is_empty());
    }

    #[test]
    fn deterministic(members in members(0, NODES), resources in resources(0), prev in previous()) {
        let a = allocate(&members, &resources, prev.as_ref(), None);
        let b = allocate(&members, &resources, prev.as_ref(), None);
        prop_assert_eq!(a, b);
    }

    /// Every member keeps `min(what it held, its new quota)`, and the quotas are handed out so
    /// that the total kept is the most any balanced allocation could keep.
    #[test]
    fn sticky_keeps_as_much_as_balance_allows(
        members in members(1, NODES),
        resources in resources(0),
        prev in previous(),
    ) {
        let shares = allocate(&members, &resources, prev.as_ref(), None);
        let empty = BTreeSet::new();
        let mut had = Vec::new();
        let mut kept_total = 0;
        for m in &members {
            let before: BTreeSet<&ResourceId> = prev
                .as_ref()
                .and_then(|p| p.shares.get(m))
                .unwrap_or(&empty)
                .iter()
                .filter(|r| resources.contains(*r))
                .collect();
            let now = &shares[m];
            let kept = now.iter().filter(|r| before.contains(r)).count();
            prop_assert_eq!(kept, before.len().min(now.len()), "{} gave up more than balance requires", m);
            had.push(before.len());
            kept_total += kept;
        }
        prop_assert_eq!(kept_total, best_kept(&had, resources.len()));
        // The formula `sticky_assignment` judges writes by agrees with the search.
        prop_assert_eq!(most_kept(&members, &resources, prev.as_ref()), kept_total);
        prop_assert_eq!(as_assignment(shares).kept(prev.as_ref()), kept_total);
    }

    /// M11 allocates from scratch: still balanced, but it keeps no more than a fresh allocation
    /// would, and whenever that is less than balance allows, `sticky_assignment` says so.
    #[test]
    fn forgetful_allocation_mutant_is_balanced_and_judged_not_sticky(
        members in members(1, NODES),
        resources in resources(0),
        prev in previous(),
    ) {
        let mutated = allocate(&members, &resources, prev.as_ref(), Some(Mutant::ForgetfulAllocation));
        prop_assert_eq!(&mutated, &allocate(&members, &resources, None, None));
        let written = Assignment { term: 1, epoch: 2, ..as_assignment(mutated) };
        prop_assert_eq!(written.defect(), None);
        let most = most_kept(&members, &resources, prev.as_ref());
        let w = AssignmentWrite {
            writer: members[0].clone(),
            assignment: written.clone(),
            leader: Some((members[0].clone(), 1)),
            previous: prev.clone(),
        };
        prop_assert_eq!(sticky_write(&w).is_err(), written.kept(prev.as_ref()) < most);
    }

    /// (a) From a balanced allocation, one member joins: only what balance requires moves, and
    /// all of it goes to the newcomer.
    #[test]
    fn join_moves_only_what_balance_requires(
        members in members(1, NODES - 1),
        resources in resources(0),
        seed in previous(),
        pick in any::<Index>(),
        at in any::<Index>(),
    ) {
        let start = allocate(&members, &resources, seed.as_ref(), None);
        prop_assert_eq!(as_assignment(start.clone()).defect(), None);
        let outsiders: Vec<NodeId> = (0..NODES).map(node).filter(|n| !members.contains(n)).collect();
        let newcomer = pick.get(&outsiders).clone();
        let mut grown = members.clone();
        grown.insert(at.index(members.len() + 1), newcomer.clone());

        let next = allocate(&grown, &resources, Some(&as_assignment(start.clone())), None);

        let mut kept = 0;
        for m in &members {
            let k = next[m].intersection(&start[m]).count();
            prop_assert_eq!(k, start[m].len().min(next[m].len()), "{} lost more than balance requires", m);
            kept += k;
        }
        let r = resources.len();
        let moved = r - kept;
        let n1 = grown.len();
        prop_assert!(moved <= r.div_ceil(n1), "{} moved, more than ceil({}/{})", moved, r, n1);
        let had: Vec<usize> = grown.iter().map(|m| start.get(m).map_or(0, BTreeSet::len)).collect();
        prop_assert_eq!(moved, r - best_kept(&had, r), "not the fewest moves");

        let (before, after) = (owners(&start), owners(&next));
        for (res, owner) in &after {
            if before.get(res) != Some(owner) {
                prop_assert_eq!(owner, &newcomer, "{} moved between old members", res);
            }
        }
        prop_assert_eq!(moved, next[&newcomer].len());
    }

    /// (b) From a balanced allocation, one member leaves: exactly the leaver's resources move.
    #[test]
    fn leave_moves_only_the_leavers_resources(
        members in members(2, NODES),
        resources in resources(0),
        seed in previous(),
        pick in any::<Index>(),
    ) {
        let start = allocate(&members, &resources, seed.as_ref(), None);
        let leaver = pick.get(&members).clone();
        let rest: Vec<NodeId> = members.iter().filter(|m| **m != leaver).cloned().collect();

        let next = allocate(&rest, &resources, Some(&as_assignment(start.clone())), None);

        for m in &rest {
            prop_assert!(start[m].is_subset(&next[m]), "{} lost resources: {:?} -> {:?}", m, start[m], next[m]);
        }
        let (before, after) = (owners(&start), owners(&next));
        let moved: BTreeSet<ResourceId> = after
            .iter()
            .filter(|(r, o)| before.get(*r) != Some(*o))
            .map(|(r, _)| r.clone())
            .collect();
        prop_assert_eq!(&moved, &start[&leaver]);
    }

    /// Renaming the nodes consistently (same seniority order) renames the result: ties are
    /// broken by seniority, never by names.
    #[test]
    fn equivariant_under_renaming(
        members in members(0, NODES),
        resources in resources(0),
        prev in previous(),
        perm in Just((0..NODES).collect::<Vec<usize>>()).prop_shuffle(),
    ) {
        let renamed_members: Vec<NodeId> = members.iter().map(|m| node(perm[node_index(m)])).collect();
        let renamed_prev = prev.as_ref().map(|p| Assignment {
            shares: rename_shares(&p.shares, &perm),
            ..p.clone()
        });
        let original = allocate(&members, &resources, prev.as_ref(), None);
        let renamed = allocate(&renamed_members, &resources, renamed_prev.as_ref(), None);
        prop_assert_eq!(renamed, rename_shares(&original, &perm));
    }

    /// M7: when the previous assignment gave everything to one member, the others get nothing,
    /// and `Assignment::defect` reports the imbalance. The unmutated allocation is well formed.
    #[test]
    fn imbalanced_allocation_mutant_starves_newcomers(
        members in members(2, NODES),
        resources in resources(2),
        pick in any::<Index>(),
    ) {
        let holder = pick.get(&members).clone();
        let prev = as_assignment([(holder.clone(), resources.clone())].into_iter().collect());

        let mutated = allocate(&members, &resources, Some(&prev), Some(Mutant::ImbalancedAllocation));
        prop_assert_eq!(&mutated[&holder], &resources);
        for m in members.iter().filter(|m| **m != holder) {
            prop_assert!(mutated[m].is_empty(), "{} got {:?}", m, mutated[m]);
        }
        let defect = as_assignment(mutated).defect();
        prop_assert!(defect.as_deref().is_some_and(|d| d.contains("imbalanced")), "{:?}", defect);

        let fixed = allocate(&members, &resources, Some(&prev), None);
        prop_assert_eq!(as_assignment(fixed).defect(), None);
    }

    /// M7 only refuses to take resources away: from scratch it allocates like the real thing.
    #[test]
    fn imbalanced_allocation_mutant_is_harmless_from_scratch(
        members in members(0, NODES),
        resources in resources(0),
    ) {
        let mutated = allocate(&members, &resources, None, Some(Mutant::ImbalancedAllocation));
        prop_assert_eq!(mutated, allocate(&members, &resources, None, None));
    }
}

#[test]
fn defect_reports_a_resource_given_twice() {
    let r = res(0);
    let shares: Shares = [
        (node(0), [r.clone()].into_iter().collect()),
        (node(1), [r.clone()].into_iter().collect()),
    ]
    .into_iter()
    .collect();
    let defect = as_assignment(shares)
        .defect()
        .expect("a duplicate is a defect");
    assert!(defect.contains("r0"), "{defect}");
}

#[test]
fn assignment_accessors_agree_with_allocate() {
    let members: Vec<NodeId> = (0..3).map(node).collect();
    let resources: BTreeSet<ResourceId> = (0..7).map(res).collect();
    let a = as_assignment(allocate(&members, &resources, None, None));
    assert_eq!(a.resources(), resources);
    assert!(a.members().eq(members.iter()));
    for r in &resources {
        let owner = a.owner(r).expect("every resource has an owner");
        assert!(a.share(owner).any(|x| x == r));
    }
    assert_eq!(a.share(&node(5)).count(), 0);
}

/// The removal M11's catalogue configuration makes: n1's resource goes, and from scratch the
/// senior n1 takes n2's, which did not have to move. The clean allocation leaves it with n2.
#[test]
fn forgetful_allocation_moves_what_a_removal_did_not_require() {
    let members = [node(0), node(1)];
    let prev = as_assignment(
        [
            (node(0), BTreeSet::from([res(1)])),
            (node(1), BTreeSet::from([res(2)])),
        ]
        .into_iter()
        .collect(),
    );
    let resources = BTreeSet::from([res(2)]);
    let write = |mutant| AssignmentWrite {
        writer: node(0),
        assignment: Assignment {
            term: 1,
            epoch: 2,
            shares: allocate(&members, &resources, Some(&prev), mutant),
        },
        leader: Some((node(0), 1)),
        previous: Some(prev.clone()),
    };
    let forgetful = write(Some(Mutant::ForgetfulAllocation));
    assert_eq!(forgetful.assignment.owner(&res(2)), Some(&node(0)));
    let why = sticky_write(&forgetful).unwrap_err();
    assert!(
        why.contains("leaves 0") && why.contains("allowed 1"),
        "{why}"
    );
    let clean = write(None);
    assert_eq!(clean.assignment.owner(&res(2)), Some(&node(1)));
    sticky_write(&clean).unwrap();
}
