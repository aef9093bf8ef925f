//! The properties of DESIGN.md §7, as functions over one [`World`], so that the model checker,
//! the simulator and the TLA+ tooling evaluate the same definitions.

use crate::allocate::Assignment;
use crate::ids::{NodeId, ResourceId, Time};
use crate::node::Phase;
use crate::registry::{Change, Key, Registry, Value, WatchEvent};
use crate::world::{Process, World};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// Once faults stop, every resource is accessed by exactly one live member, balanced.
    AllResourcesAccessed,
    /// Once faults stop, every live node applies the latest assignment.
    RebalanceCompletes,
    /// No two assignment writes closer than `min_rebalance_interval` (simulator only).
    MinIntervalRespected,
}

impl Property {
    /// Every property.
    pub const ALL: [Property; 7] = [
        Property::NoDoubleAccess,
        Property::AccessHoldsBarrier,
        Property::AssignmentWellFormed,
        Property::FencedWrites,
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
/// accessed, and the live members' counts differ by at most one.
pub fn all_resources_accessed(world: &World<'_>) -> bool {
    let resources: Vec<&ResourceId> = world
        .registry
        .keys()
        .filter_map(|(k, _)| match k {
            Key::Resource(r) => Some(r),
            _ => None,
        })
        .collect();
    let mut count = 0;
    let (mut min, mut max) = (usize::MAX, 0);
    for p in live(world) {
        count += p.app.accessing.len();
        min = min.min(p.app.accessing.len());
        max = max.max(p.app.accessing.len());
    }
    if world
        .processes
        .iter()
        .any(|p| !p.up || p.node.phase() != Phase::Member)
    {
        // Accesses by anyone not a live member do not count, and must not exist.
        let stray = world
            .processes
            .iter()
            .filter(|p| p.up && p.node.phase() != Phase::Member)
            .any(|p| !p.app.accessing.is_empty());
        if stray {
            return false;
        }
    }
    let all_once = resources
        .iter()
        .all(|r| live(world).filter(|p| p.app.accessing.contains(*r)).count() == 1);
    all_once && count == resources.len() && (max <= min + 1 || count == 0)
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
}

/// The assignment writes among a step's watch events (the registry after the step).
pub fn assignment_writes(
    registry: &Registry,
    writer: &NodeId,
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
