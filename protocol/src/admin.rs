//! The administrator's changes: adding and removing resources (DESIGN.md §4.6).
//!
//! Removing a resource only deletes `Resource(r)`. Its barrier belongs to its holder until the
//! holder releases it or its lease dies: deleting it here is the double-access defect M1.

use crate::ids::ResourceId;
use crate::mutant::Mutant;
use crate::registry::{Key, Op, Txn, Value};

/// Add a resource to the group.
pub fn add_resource(r: &ResourceId) -> Txn {
    Txn::always(vec![Op::Put {
        key: Key::Resource(r.clone()),
        value: Value::Empty,
        lease: None,
    }])
}

/// Remove a resource from the group.
pub fn remove_resource(r: &ResourceId, mutant: Option<Mutant>) -> Txn {
    let mut ops = vec![Op::Delete {
        key: Key::Resource(r.clone()),
    }];
    if mutant == Some(Mutant::RemoveResourceClearsBarrier) {
        ops.push(Op::Delete {
            key: Key::Barrier(r.clone()),
        });
    }
    Txn::always(ops)
}
