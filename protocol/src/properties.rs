//! The properties of DESIGN.md §7, as functions over one [`World`], so that the model checker,
//! the simulator and the TLA+ tooling evaluate the same definitions.

use crate::allocate::Assignment;
use crate::ids::{NodeId, ResourceId, Time};
use crate::node::Phase;
use crate::registry::{Change, Key, Op, Registry, Request, Value, WatchEvent};
use crate::world::{Process, World};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A property's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// Must hold in every reachable state.
    Always,
    /// Must hold eventually once faults stop.
    Eventually,
}

/// The named properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Property {
    /// No resource is accessed by two nodes at once.
    NoDoubleAccess,
    /// A node accessing r owns `Barrier(r)` in the registry.
    AccessHoldsBarrier,
    /// Every written assignment covers each resource once, counts differ by at most one.
    AssignmentWellFormed,
    /// Every assignment was written by the leader of the term it carries.
    FencedWrites,
    /// Every written assignment keeps as many resources on the member the previous assignment
    /// gave them as balance allows: a rebalance moves no more than it must.
    StickyAssignment,
    /// Once faults stop, every resource is accessed by exactly one live member, balanced.
    AllResourcesAccessed,
    /// Once faults stop, every live node applies the latest assignment.
    RebalanceCompletes,
    /// No two assignment writes closer than `min_rebalance_interval` (simulator only).
    MinIntervalRespected,
}

impl Property {
    /// Every property.
    pub const ALL: [Property; 8] = [
        Property::NoDoubleAccess,
        Property::AccessHoldsBarrier,
        Property::AssignmentWellFormed,
        Property::FencedWrites,
        Property::StickyAssignment,
        Property::AllResourcesAccessed,
        Property::RebalanceCompletes,
        Property::MinIntervalRespected,
    ];

    /// The name used everywhere: CLI, JSON, TLA+.
    pub fn name(self) -> &'static str {
        match self {
            Property::NoDoubleAccess => "no_double_access",
            Property::AccessHoldsBarrier => "access_holds_barrier",
            Property::AssignmentWellFormed => "assignment_well_formed",
            Property::StickyAssignment => "sticky_assignment",
            Property::FencedWrites => "fenced_writes",
            Property::AllResourcesAccessed => "all_resources_accessed",
            Property::RebalanceCompletes => "rebalance_completes",
            Property::MinIntervalRespected => "min_interval_respected",
        }
    }

    /// Always or eventually.
    pub fn kind(self) -> Kind {
        match self {
            Property::AllResourcesAccessed | Property::RebalanceCompletes => Kind::Eventually,
            _ => Kind::Always,
        }
    }

    /// The statement, for reports.
    pub fn statement(self) -> &'static str {
        match self {
            Property::NoDoubleAccess => "no resource is accessed by two nodes at once",
            Property::AccessHoldsBarrier => "a node accessing r owns Barrier(r) in the registry",
            Property::AssignmentWellFormed => {
                "every written assignment covers each resource once, counts differ by at most 1"
            }
            Property::StickyAssignment => {
                "every written assignment moves no more resources than balance requires, given \
                 the previous one"
            }
            Property::FencedWrites => {
                "every assignment was written by the leader of the term it carries"
            }
            Property::AllResourcesAccessed => {
                "once faults stop, every resource is accessed by exactly one live member, balanced"
            }
            Property::RebalanceCompletes => {
                "once faults stop, every live node applies the latest assignment"
            }
            Property::MinIntervalRespected => {
                "no two assignment writes closer than min_rebalance_interval"
            }
        }
    }

    /// Looks a property up by name.
    pub fn from_name(name: &str) -> Option<Property> {
        Property::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Live processes: up and registered members.
fn live<'a>(world: &World<'a>) -> impl Iterator<Item = &'a Process> + 'a {
    world
        .processes
        .iter()
        .filter(|p| p.up && p.node.phase() == Phase::Member)
}

/// `no_double_access`: why it fails, if it does.
pub fn no_double_access(world: &World<'_>) -> Result<(), String> {
    let mut by: BTreeMap<&ResourceId, &NodeId> = BTreeMap::new();
    for p in world.processes.iter().filter(|p| p.up) {
        for r in &p.app.accessing {
            if let Some(other) = by.insert(r, p.node.id()) {
                return Err(format!("{r} is accessed by {other} and {}", p.node.id()));
            }
        }
    }
    Ok(())
}

/// `access_holds_barrier`: why it fails, if it does.
pub fn access_holds_barrier(world: &World<'_>) -> Result<(), String> {
    for p in world.processes.iter().filter(|p| p.up) {
        for r in &p.app.accessing {
            match world
                .registry
                .get(&Key::Barrier(r.clone()))
                .map(|kv| &kv.value)
            {
                Some(Value::Session(s)) if s.node == *p.node.id() => {}
                Some(Value::Session(s)) => {
                    return Err(format!(
                        "{} accesses {r} but {s} holds its barrier",
                        p.node.id()
                    ))
                }
                _ => {
                    return Err(format!(
                        "{} accesses {r} but nobody holds its barrier",
                        p.node.id()
                    ))
                }
            }
        }
    }
    Ok(())
}

/// `all_resources_accessed`: every resource accessed by exactly one live member, nothing else
/// accessed, and the live members' counts differ by at most one (see [`settled`]).
pub fn all_resources_accessed(world: &World<'_>) -> bool {
    let resources: BTreeSet<&ResourceId> = world
        .registry
        .keys()
        .filter_map(|(k, _)| match k {
            Key::Resource(r) => Some(r),
            _ => None,
        })
        .collect();
    let members: BTreeSet<&NodeId> = live(world).map(|p| p.node.id()).collect();
    // A crashed process's access ended with it; anyone else up counts, member or not.
    let accessing = world
        .processes
        .iter()
        .filter(|p| p.up)
        .map(|p| (p.node.id(), &p.app.accessing));
    settled(accessing, &members, &resources)
}

/// Whether a group has settled: each of `resources` is accessed by exactly one of the `live`
/// members, nothing else is accessed (no other resource, and nothing by a node that is not a
/// live member), and the live members' counts differ by at most one (a live member absent from
/// `accessing` counts zero).
///
/// This is the one statement of "settled" that every checker asks: the model checker and the
/// simulator through [`all_resources_accessed`], and the real-process tests, the demo and the
/// benchmarks with what their nodes or the access monitor report. Judged from the outside, it
/// takes plain sets: `accessing` lists what each node accesses now (each node at most once);
/// `live` and `resources` may hold owned or borrowed ids.
pub fn settled<'a, N, R>(
    accessing: impl IntoIterator<Item = (&'a NodeId, &'a BTreeSet<ResourceId>)>,
    live: &BTreeSet<N>,
    resources: &BTreeSet<R>,
) -> bool
where
    N: Borrow<NodeId> + Ord,
    R: Borrow<ResourceId> + Ord,
{
    let mut counts: BTreeMap<&NodeId, usize> = live.iter().map(|n| (n.borrow(), 0)).collect();
    let mut accessed: BTreeSet<&ResourceId> = BTreeSet::new();
    for (node, rs) in accessing {
        if rs.is_empty() {
            continue;
        }
        let Some(count) = counts.get_mut(node) else {
            return false; // accessed by a node that is not a live member
        };
        *count += rs.len();
        for r in rs {
            if !resources.contains(r) || !accessed.insert(r) {
                return false; // not a resource of the group, or accessed twice
            }
        }
    }
    let max = counts.values().max().copied().unwrap_or(0);
    let min = counts.values().min().copied().unwrap_or(0);
    accessed.len() == resources.len() && max - min <= 1
}

/// `rebalance_completes`: the latest assignment was computed for the current members and
/// resources, and every process that is up (and has not left) is a member that applied it.
pub fn rebalance_completes(world: &World<'_>) -> bool {
    let Some(Value::Assignment(a)) = world.registry.get(&Key::Assignment).map(|kv| &kv.value)
    else {
        return !world.processes.iter().any(|p| p.up && is_active(p));
    };
    let members: Vec<&NodeId> = world
        .registry
        .keys()
        .filter_map(|(k, _)| match k {
            Key::Member(n) => Some(n),
            _ => None,
        })
        .collect();
    let resources = world
        .registry
        .keys()
        .filter_map(|(k, _)| match k {
            Key::Resource(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    a.members().eq(members)
        && a.resources() == resources
        && world
            .processes
            .iter()
            .filter(|p| p.up && is_active(p))
            .all(|p| p.node.applied() == Some((a.term, a.epoch)))
}

fn is_active(p: &Process) -> bool {
    !matches!(p.node.phase(), Phase::Idle | Phase::Left)
}

/// An assignment as it was written, with the registry's leader key at that moment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AssignmentWrite {
    /// The client that wrote it.
    pub writer: NodeId,
    /// What was written.
    pub assignment: Assignment,
    /// The leader key's holder and `create_rev` (term) when it was written.
    pub leader: Option<(NodeId, u64)>,
    /// The assignment it replaced in the registry, if any.
    pub previous: Option<Assignment>,
}

/// The assignment `request` would replace if it wrote one: the registry's current assignment
/// when the request is a transaction that may put the assignment key, else `None` (nothing to
/// copy). Checkers ask before the request reaches the registry and pass the answer to
/// [`assignment_writes`].
pub fn replaced_assignment(registry: &Registry, request: &Request) -> Option<Assignment> {
    let Request::Txn(txn) = request else {
        return None;
    };
    let writes = txn.then.iter().chain(&txn.otherwise).any(|op| {
        matches!(
            op,
            Op::Put {
                key: Key::Assignment,
                ..
            }
        )
    });
    match registry.get(&Key::Assignment).map(|kv| &kv.value) {
        Some(Value::Assignment(a)) if writes => Some(a.clone()),
        _ => None,
    }
}

/// The assignment writes among a step's watch events (the registry after the step;
/// `previous`: its assignment before the step, [`replaced_assignment`]).
pub fn assignment_writes(
    registry: &Registry,
    writer: &NodeId,
    mut previous: Option<Assignment>,
    events: &[WatchEvent],
) -> Vec<AssignmentWrite> {
    let leader = registry.get(&Key::Leader).and_then(|kv| match &kv.value {
        Value::Session(s) => Some((s.node.clone(), kv.create_rev)),
        _ => None,
    });
    let mut writes = Vec::new();
    for e in events {
        for c in &e.changes {
            if let Change::Put(Key::Assignment, kv) = c {
                if let Value::Assignment(a) = &kv.value {
                    writes.push(AssignmentWrite {
                        writer: writer.clone(),
                        assignment: a.clone(),
                        leader: leader.clone(),
                        previous: previous.replace(a.clone()),
                    });
                }
            }
        }
    }
    writes
}

/// `fenced_writes` for one write.
pub fn fenced_write(w: &AssignmentWrite) -> Result<(), String> {
    match &w.leader {
        Some((holder, term)) if *holder == w.writer && *term == w.assignment.term => Ok(()),
        Some((holder, term)) => Err(format!(
            "{} wrote epoch {} for term {} while {holder} led in term {term}",
            w.writer, w.assignment.epoch, w.assignment.term
        )),
        None => Err(format!(
            "{} wrote epoch {} for term {} while nobody led",
            w.writer, w.assignment.epoch, w.assignment.term
        )),
    }
}

/// `assignment_well_formed` for one write.
pub fn well_formed_write(w: &AssignmentWrite) -> Result<(), String> {
    match w.assignment.defect() {
        None => Ok(()),
        Some(d) => Err(format!("epoch {} by {}: {d}", w.assignment.epoch, w.writer)),
    }
}

/// `sticky_assignment` for one write: it keeps as many resources where the previous assignment
/// put them as a balanced allocation over its members and resources can
/// ([`crate::allocate::most_kept`]).
pub fn sticky_write(w: &AssignmentWrite) -> Result<(), String> {
    let a = &w.assignment;
    let previous = w.previous.as_ref();
    let kept = a.kept(previous);
    let most = crate::allocate::most_kept(a.members(), &a.resources(), previous);
    if kept >= most {
        return Ok(());
    }
    Err(format!(
        "epoch {} by {} leaves {kept} resource(s) where epoch {} had them; balance allowed {most}",
        a.epoch,
        w.writer,
        previous.map_or(0, |p| p.epoch)
    ))
}

/// `min_interval_respected` for two consecutive writes (true-time instants).
pub fn min_interval(previous: Option<Time>, this: Time, interval: u64) -> Result<(), String> {
    match previous {
        Some(p) if this.0 < p.0 + interval => Err(format!(
            "assignment writes at {} ms and {} ms are closer than {interval} ms",
            p.0, this.0
        )),
        _ => Ok(()),
    }
}

/// When a write was made, for `min_interval_respected`: the previous write's true time, this
/// one's, and the shortest interval allowed between them. A checker without time (the model)
/// passes none, and the interval is not judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteTiming {
    /// The previous assignment write, if any.
    pub previous: Option<Time>,
    /// This write.
    pub now: Time,
    /// The least true time between two writes (see [`crate::NodeConfig::drift_floor`]).
    pub interval: u64,
}

/// Every property judged at the moment of an assignment write: the violations of
/// `fenced_writes`, `assignment_well_formed`, `sticky_assignment` and (with `timing`)
/// `min_interval_respected`. Checkers call this for each write [`assignment_writes`] finds.
pub fn judge_write(w: &AssignmentWrite, timing: Option<WriteTiming>) -> Vec<(Property, String)> {
    let mut violated = Vec::new();
    if let Err(why) = fenced_write(w) {
        violated.push((Property::FencedWrites, why));
    }
    if let Err(why) = well_formed_write(w) {
        violated.push((Property::AssignmentWellFormed, why));
    }
    if let Err(why) = sticky_write(w) {
        violated.push((Property::StickyAssignment, why));
    }
    if let Some(t) = timing {
        if let Err(why) = min_interval(t.previous, t.now, t.interval) {
            violated.push((Property::MinIntervalRespected, why));
        }
    }
    violated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(names: &[&str]) -> BTreeSet<NodeId> {
        names.iter().map(NodeId::new).collect()
    }

    fn resources(names: &[&str]) -> BTreeSet<ResourceId> {
        names.iter().map(ResourceId::new).collect()
    }

    fn judge(accessing: &[(&str, &[&str])], live: &[&str], all: &[&str]) -> bool {
        let accessing: Vec<(NodeId, BTreeSet<ResourceId>)> = accessing
            .iter()
            .map(|(n, rs)| (NodeId::new(n), resources(rs)))
            .collect();
        settled(
            accessing.iter().map(|(n, rs)| (n, rs)),
            &nodes(live),
            &resources(all),
        )
    }

    #[test]
    fn settled_needs_each_resource_once_on_a_live_member_balanced() {
        let rs = ["r0", "r1", "r2"];
        assert!(judge(
            &[("a", &["r0", "r1"]), ("b", &["r2"])],
            &["a", "b"],
            &rs
        ));
        // One resource not accessed, or accessed twice.
        assert!(!judge(&[("a", &["r0"]), ("b", &["r2"])], &["a", "b"], &rs));
        assert!(!judge(
            &[("a", &["r0", "r1"]), ("b", &["r1", "r2"])],
            &["a", "b"],
            &rs
        ));
        // Unbalanced: a live member with nothing counts zero.
        assert!(!judge(&[("a", &["r0", "r1", "r2"])], &["a", "b"], &rs));
        assert!(judge(&[("a", &["r0", "r1", "r2"])], &["a"], &rs));
        // Accessed by a node that is not live, or a resource outside the group.
        assert!(!judge(
            &[("a", &["r0", "r1"]), ("c", &["r2"])],
            &["a", "b"],
            &rs
        ));
        assert!(!judge(
            &[("a", &["r0", "r1"]), ("b", &["r2", "r9"])],
            &["a", "b"],
            &rs
        ));
        // A node that is not live but accesses nothing does not matter.
        assert!(judge(
            &[("a", &["r0", "r1"]), ("b", &["r2"]), ("c", &[])],
            &["a", "b"],
            &rs
        ));
        // Nothing to access: settled, whoever is live.
        assert!(judge(&[], &[], &[]));
        assert!(judge(&[], &["a", "b"], &[]));
        assert!(!judge(&[], &[], &rs));
    }
}
