//! The properties the model checker checks: the `protocol` crate's definitions, plus
//! `sometimes` properties showing that the model is not vacuous.

use crate::state::State;
use crate::system::RebalanceModel;
use protocol::properties as p;
use protocol::registry::{Key, Value};
use protocol::Property as Named;
use stateright::{Model, Property};
use std::sync::atomic::{AtomicBool, Ordering};

/// The `sometimes` properties: each shows that the model is not vacuous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sometimes {
    /// Every resource accessed by exactly one live member, balanced.
    AllResourcesAccessed,
    /// A new leader took over from the one that wrote the current assignment.
    LeaderChange,
    /// A node waits for a barrier another node holds.
    WaitsOnHeldBarrier,
    /// A request the registry applied is answered UNKNOWN.
    UnknownApplied,
}

impl Sometimes {
    /// Every `sometimes` property, in the order reports list them.
    pub const ALL: [Sometimes; 4] = [
        Sometimes::AllResourcesAccessed,
        Sometimes::LeaderChange,
        Sometimes::WaitsOnHeldBarrier,
        Sometimes::UnknownApplied,
    ];

    /// The name in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Sometimes::AllResourcesAccessed => "sometimes_all_resources_accessed",
            Sometimes::LeaderChange => "sometimes_leader_change",
            Sometimes::WaitsOnHeldBarrier => "sometimes_waits_on_held_barrier",
            Sometimes::UnknownApplied => "sometimes_unknown_applied",
        }
    }

    /// What reaching it shows.
    pub fn shows(self) -> &'static str {
        match self {
            Sometimes::AllResourcesAccessed => {
                "every resource accessed by exactly one live member, balanced"
            }
            Sometimes::LeaderChange => {
                "a new leader took over from the one that wrote the current assignment"
            }
            Sometimes::WaitsOnHeldBarrier => "a node waits for a barrier another node holds",
            Sometimes::UnknownApplied => "a request the registry applied is answered UNKNOWN",
        }
    }

    /// Looks a `sometimes` property up by name.
    pub fn from_name(name: &str) -> Option<Sometimes> {
        Sometimes::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A property the stateright checker judges state by state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Checked {
    /// One of the protocol's always-properties.
    Always(Named),
    /// One of the model's `sometimes` properties.
    Sometimes(Sometimes),
}

impl Checked {
    /// Every checked property, in the order reports list them.
    pub const ALL: [Checked; 10] = [
        Checked::Always(Named::NoDoubleAccess),
        Checked::Always(Named::AccessHoldsBarrier),
        Checked::Always(Named::AssignmentWellFormed),
        Checked::Always(Named::FencedWrites),
        Checked::Always(Named::StickyAssignment),
        Checked::Always(Named::MinIntervalRespected),
        Checked::Sometimes(Sometimes::AllResourcesAccessed),
        Checked::Sometimes(Sometimes::LeaderChange),
        Checked::Sometimes(Sometimes::WaitsOnHeldBarrier),
        Checked::Sometimes(Sometimes::UnknownApplied),
    ];

    /// Its name, as stateright and the reports know it.
    pub fn name(self) -> &'static str {
        match self {
            Checked::Always(p) => p.name(),
            Checked::Sometimes(s) => s.name(),
        }
    }

    /// Looks a checked property up by name.
    pub fn from_name(name: &str) -> Option<Checked> {
        Checked::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Its position in [`Checked::ALL`], which is where its latch is.
    fn index(self) -> usize {
        Checked::ALL
            .iter()
            .position(|c| *c == self)
            .expect("only the properties in Checked::ALL are checked")
    }
}

/// Per checked property: whether its first discovery has been reported (see [`properties`]).
/// Shared by the checker's threads; not part of any state.
#[derive(Debug, Default)]
pub(crate) struct Latches([AtomicBool; Checked::ALL.len()]);

impl Latches {
    /// Set `property`'s latch; returns whether it was already set.
    pub(crate) fn set(&self, property: Checked) -> bool {
        self.0[property.index()].swap(true, Ordering::Relaxed)
    }
}

fn violated(s: &State, property: Named) -> bool {
    s.violations.iter().any(|(p, _)| *p == property)
}

/// stateright 0.31 overwrites a property's discovery each time another violating (or, for
/// `sometimes`, satisfying) state is checked, so the path it reports is the last one found, not
/// the shortest. Each property reports its first discovery only: in breadth-first order that is
/// a shortest path (exactly so with one thread).
fn first(model: &RebalanceModel, property: Checked, discovered: bool) -> bool {
    if discovered {
        !model.latch(property)
    } else {
        false
    }
}

fn always(model: &RebalanceModel, property: Named, holds: bool) -> bool {
    !first(model, Checked::Always(property), !holds)
}

fn sometimes(model: &RebalanceModel, property: Sometimes, reached: bool) -> bool {
    first(model, Checked::Sometimes(property), reached)
}

/// The always- and sometimes-properties, in the order of [`Checked::ALL`].
pub fn properties() -> Vec<Property<RebalanceModel>> {
    // stateright takes plain function pointers, so each condition names its property itself.
    vec![
        Property::always(Named::NoDoubleAccess.name(), |m, s| {
            let holds = p::no_double_access(&RebalanceModel::world(s)).is_ok();
            always(m, Named::NoDoubleAccess, holds)
        }),
        Property::always(Named::AccessHoldsBarrier.name(), |m, s| {
            let holds = p::access_holds_barrier(&RebalanceModel::world(s)).is_ok();
            always(m, Named::AccessHoldsBarrier, holds)
        }),
        Property::always(Named::AssignmentWellFormed.name(), |m, s| {
            let holds = !violated(s, Named::AssignmentWellFormed);
            always(m, Named::AssignmentWellFormed, holds)
        }),
        Property::always(Named::FencedWrites.name(), |m, s| {
            always(m, Named::FencedWrites, !violated(s, Named::FencedWrites))
        }),
        Property::always(Named::StickyAssignment.name(), |m, s| {
            let holds = !violated(s, Named::StickyAssignment);
            always(m, Named::StickyAssignment, holds)
        }),
        Property::always(Named::MinIntervalRespected.name(), |m, s| {
            let holds = !violated(s, Named::MinIntervalRespected);
            always(m, Named::MinIntervalRespected, holds)
        }),
        Property::sometimes(Sometimes::AllResourcesAccessed.name(), |m, s: &State| {
            let all = p::all_resources_accessed(&RebalanceModel::world(s))
                && s.processes.iter().any(|p| !p.app.accessing.is_empty());
            sometimes(m, Sometimes::AllResourcesAccessed, all)
        }),
        Property::sometimes(Sometimes::LeaderChange.name(), |m, s| {
            sometimes(m, Sometimes::LeaderChange, leader_changed(s))
        }),
        Property::sometimes(Sometimes::WaitsOnHeldBarrier.name(), |m, s: &State| {
            let waits = s.processes.iter().any(|p| {
                p.node
                    .waiting_on_others()
                    .any(|(_, holder)| holder.node != *p.node.id())
            });
            sometimes(m, Sometimes::WaitsOnHeldBarrier, waits)
        }),
        Property::sometimes(Sometimes::UnknownApplied.name(), |m, s: &State| {
            let applied = s.channels.iter().any(|ch| {
                ch.replies
                    .iter()
                    .any(|r| r.fault.is_some_and(|f| f.applied()))
            });
            sometimes(m, Sometimes::UnknownApplied, applied)
        }),
    ]
}

fn leader_changed(s: &State) -> bool {
    let term = s.registry.get(&Key::Leader).map(|kv| kv.create_rev);
    let written = match s.registry.get(&Key::Assignment).map(|kv| &kv.value) {
        Some(Value::Assignment(a)) => Some(a.term),
        _ => None,
    };
    matches!((term, written), (Some(t), Some(w)) if t != w)
}

/// Why an always-property fails in `s` (for the trace), if it does.
pub fn explain(s: &State, property: Named) -> Option<String> {
    let world = RebalanceModel::world(s);
    match property {
        Named::NoDoubleAccess => p::no_double_access(&world).err(),
        Named::AccessHoldsBarrier => p::access_holds_barrier(&world).err(),
        Named::AssignmentWellFormed
        | Named::StickyAssignment
        | Named::FencedWrites
        | Named::MinIntervalRespected => s
            .violations
            .iter()
            .find(|(p, _)| *p == property)
            .map(|(_, why)| why.clone()),
        _ => None,
    }
}

impl Model for RebalanceModel {
    type State = State;
    type Action = crate::Action;

    fn init_states(&self) -> Vec<State> {
        self.initial_states()
    }

    fn actions(&self, state: &State, actions: &mut Vec<crate::Action>) {
        self.enabled(state, actions);
    }

    fn next_state(&self, state: &State, action: crate::Action) -> Option<State> {
        Some(self.step(state, &action))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        // Only the timed model has the time to judge the interval by.
        let timed = self.config.timed;
        properties()
            .into_iter()
            .filter(|p| timed || p.name != Named::MinIntervalRespected.name())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checker_gets_the_checked_properties_in_order() {
        let names: Vec<&str> = properties().iter().map(|p| p.name).collect();
        let checked: Vec<&str> = Checked::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, checked);
        for c in Checked::ALL {
            assert_eq!(Checked::from_name(c.name()), Some(c));
        }
    }

    #[test]
    fn each_property_has_its_own_latch() {
        let latches = Latches::default();
        for c in Checked::ALL {
            assert!(!latches.set(c), "{} shares a latch", c.name());
            assert!(latches.set(c));
        }
    }
}
