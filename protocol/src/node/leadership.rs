//! Election with term fencing, and the leader's assignment writes (DESIGN.md §4.3–4.4).
//!
//! The leader's term is the `create_rev` of its leader key: unique and increasing, it is the
//! fencing token every assignment write compares. A failed compare means a newer leader exists.

use super::{Node, Output, Pending, Phase, TimerKind};
use crate::allocate::{allocate, Assignment};
use crate::ids::{Revision, Time};
use crate::mutant::Mutant;
use crate::node::Event;
use crate::registry::{Compare, Key, Op, Request, Txn, Value};

impl Node {
    /// With no leader in the view: try to become it.
    pub(super) fn election_request(&self) -> Option<(Pending, Request)> {
        if self.view.leader.is_some() {
            return None;
        }
        let session = self.session()?;
        let lease = Some(session.lease);
        let txn = Txn {
            compare: vec![Compare::Absent(Key::Leader)],
            then: vec![Op::Put {
                key: Key::Leader,
                value: Value::Session(session),
                lease,
            }],
            otherwise: vec![],
        };
        Some((Pending::Elect, Request::Txn(txn)))
    }

    /// Notice gaining or losing leadership from the view.
    pub(super) fn track_leadership(&mut self, now: Time, out: &mut Vec<Output>) {
        let me = self.session();
        let leads = match &self.view.leader {
            Some((s, term)) if self.phase == Phase::Member && Some(s) == me.as_ref() => Some(*term),
            _ => None,
        };
        if leads == self.term {
            return;
        }
        self.term = leads;
        match leads {
            Some(term) => {
                out.push(Output::Log(Event::Leader { term }));
                // The previous leader may have written just before it lost its key: wait one
                // interval so that writes stay `min_rebalance_interval` apart across leaders.
                if self.view.assignment.is_some() && self.mutant != Some(Mutant::HoldOwnWritesOnly)
                {
                    self.held_rev = self.view.assignment_rev;
                    self.hold_rebalance(now, out);
                }
            }
            None => {
                self.hold = false;
                out.push(Output::CancelTimer(TimerKind::RebalanceHold));
            }
        }
    }

    /// As leader, hold from the moment we learn of any assignment write we have not held for:
    /// the outcome of our own write may have been UNKNOWN, and learning of a write always comes
    /// after it was applied, so the interval between applied writes is kept.
    pub(super) fn hold_after_writes(&mut self, now: Time, out: &mut Vec<Output>) {
        if self.mutant == Some(Mutant::HoldOwnWritesOnly) {
            return;
        }
        if self.term.is_some() && self.view.assignment_rev > self.held_rev {
            self.held_rev = self.view.assignment_rev;
            self.hold_rebalance(now, out);
        }
    }

    fn hold_rebalance(&mut self, now: Time, out: &mut Vec<Output>) {
        self.hold = true;
        out.push(Output::SetTimer {
            kind: TimerKind::RebalanceHold,
            at: now.plus(self.config.min_rebalance_interval),
        });
    }

    /// As leader, out of the hold interval, when members or resources differ from what the
    /// current assignment was computed from: write a new one, fenced by our term.
    pub(super) fn assignment_request(&self) -> Option<(Pending, Request)> {
        let term = self.term?;
        if self.hold {
            return None;
        }
        let members = self.view.members_by_seniority();
        let previous = self.view.assignment.as_ref();
        if let Some(a) = previous {
            let same_members = a.members().eq(self.view.members.keys());
            let same_resources = if self.mutant == Some(Mutant::IgnoreRemovals) {
                self.view.resources.is_subset(&a.resources())
            } else {
                a.resources() == self.view.resources
            };
            if same_members && same_resources {
                return None;
            }
        }
        let epoch = previous.map_or(1, |a| a.epoch + 1);
        let assignment = Assignment {
            term,
            epoch,
            shares: allocate(&members, &self.view.resources, previous, self.mutant),
        };
        // Fenced by our term, and compare-and-swap on the assignment we computed from: a retry
        // of an older write that the network delayed or duplicated cannot land after a newer one
        // (the simulator found such a late write breaking the minimum rebalance interval).
        let seen = match self.view.assignment_rev {
            0 => Compare::Absent(Key::Assignment),
            rev => Compare::ModRevIs(Key::Assignment, rev),
        };
        let compare = if self.mutant == Some(Mutant::UnfencedAssignmentWrite) {
            vec![]
        } else {
            vec![Compare::CreateRevIs(Key::Leader, term), seen]
        };
        let txn = Txn {
            compare,
            then: vec![Op::Put {
                key: Key::Assignment,
                value: Value::Assignment(assignment),
                lease: None,
            }],
            otherwise: vec![],
        };
        Some((Pending::Assign { epoch }, Request::Txn(txn)))
    }

    pub(super) fn assigned(
        &mut self,
        epoch: u64,
        succeeded: bool,
        rev: Revision,
        now: Time,
        out: &mut Vec<Output>,
    ) {
        self.wait_rev = rev;
        if succeeded {
            out.push(Output::Log(Event::Assigned { epoch }));
            self.held_rev = rev;
            self.hold_rebalance(now, out);
        }
    }
}
