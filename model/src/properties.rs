//! The properties the model checker checks: the `protocol` crate's definitions, plus
//! `sometimes` properties showing that the model is not vacuous.

use crate::state::State;
use crate::system::RebalanceModel;
use protocol::properties as p;
use protocol::registry::{Key, Value};
use protocol::Property as Named;
use stateright::{Model, Property};

/// Names of the `sometimes` properties, with what each shows.
pub const SOMETIMES: [(&str, &str); 4] = [
    (
        "sometimes_all_resources_accessed",
        "every resource accessed by exactly one live member, balanced",
    ),
    (
        "sometimes_leader_change",
        "a new leader took over from the one that wrote the current assignment",
    ),
    (
        "sometimes_waits_on_held_barrier",
        "a node waits for a barrier another node holds",
    ),
    (
        "sometimes_unknown_applied",
        "a request the registry applied is answered UNKNOWN",
    ),
];

fn violated(s: &State, property: Named) -> bool {
    s.violations.iter().any(|(p, _)| *p == property)
}

/// stateright 0.31 overwrites a property's discovery each time another violating (or, for
/// `sometimes`, satisfying) state is checked, so the path it reports is the last one found, not
/// the shortest. Each property reports its first discovery only: in breadth-first order that is
/// a shortest path (exactly so with one thread).
fn first(model: &RebalanceModel, index: usize, discovered: bool) -> bool {
    if discovered {
        !model.latch(index)
    } else {
        false
    }
}

fn always(model: &RebalanceModel, index: usize, holds: bool) -> bool {
    !first(model, index, !holds)
}

/// The always- and sometimes-properties, in the order reports list them.
pub fn properties() -> Vec<Property<RebalanceModel>> {
    vec![
        Property::always("no_double_access", |m, s| {
            always(m, 0, p::no_double_access(&RebalanceModel::world(s)).is_ok())
        }),
        Property::always("access_holds_barrier", |m, s| {
            always(
                m,
                1,
                p::access_holds_barrier(&RebalanceModel::world(s)).is_ok(),
            )
        }),
        Property::always("assignment_well_formed", |m, s| {
            always(m, 2, !violated(s, Named::AssignmentWellFormed))
        }),
        Property::always("fenced_writes", |m, s| {
            always(m, 3, !violated(s, Named::FencedWrites))
        }),
        Property::sometimes(SOMETIMES[0].0, |m, s: &State| {
            let all = p::all_resources_accessed(&RebalanceModel::world(s))
                && s.processes.iter().any(|p| !p.app.accessing.is_empty());
            first(m, 4, all)
        }),
        Property::sometimes(SOMETIMES[1].0, |m, s| first(m, 5, leader_changed(s))),
        Property::sometimes(SOMETIMES[2].0, |m, s: &State| {
            let waits = s.processes.iter().any(|p| {
                p.node
                    .waiting_on_others()
                    .any(|(_, holder)| holder.node != *p.node.id())
            });
            first(m, 6, waits)
        }),
        Property::sometimes(SOMETIMES[3].0, |m, s: &State| {
            let applied = s.channels.iter().any(|ch| {
                ch.replies
                    .iter()
                    .any(|r| r.fault.is_some_and(|f| f.applied()))
            });
            first(m, 7, applied)
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
pub fn explain(s: &State, name: &str) -> Option<String> {
    let world = RebalanceModel::world(s);
    match Named::from_name(name)? {
        Named::NoDoubleAccess => p::no_double_access(&world).err(),
        Named::AccessHoldsBarrier => p::access_holds_barrier(&world).err(),
        property @ (Named::AssignmentWellFormed | Named::FencedWrites) => s
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
        vec![self.initial()]
    }

    fn actions(&self, state: &State, actions: &mut Vec<crate::Action>) {
        self.enabled(state, actions);
    }

    fn next_state(&self, state: &State, action: crate::Action) -> Option<State> {
        Some(self.step(state, &action))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties()
    }
}
