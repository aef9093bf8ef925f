//! Joining (grant a lease, register as a member, read and watch the group) and leaving.

use super::{Local, Node, Output, Pending, Phase};
use crate::ids::Revision;
use crate::node::Event;
use crate::registry::{Key, Op, Request, Txn, Value};

impl Node {
    pub(super) fn join(&mut self) {
        if matches!(self.phase, Phase::Idle | Phase::Left) {
            self.phase = Phase::Joining;
        }
    }

    pub(super) fn join_request(&self) -> (Pending, Request) {
        match self.session() {
            None => (
                Pending::Grant,
                Request::Grant {
                    ttl: self.config.ttl,
                },
            ),
            Some(session) => {
                let lease = Some(session.lease);
                let put = Op::Put {
                    key: Key::Member(self.id.clone()),
                    value: Value::Session(session),
                    lease,
                };
                (Pending::Register, Request::Txn(Txn::always(vec![put])))
            }
        }
    }

    pub(super) fn registered(&mut self, rev: Revision, out: &mut Vec<Output>) {
        // A leave that came in while the registration was out wins.
        if self.phase != Phase::Joining {
            return;
        }
        if let Some(session) = self.session() {
            self.phase = Phase::Member;
            self.synced = false;
            self.wait_rev = rev;
            out.push(Output::Log(Event::Joined(session)));
        }
    }

    pub(super) fn leave(&mut self, _out: &mut [Output]) {
        match self.phase {
            Phase::Joining | Phase::Member => self.phase = Phase::Leaving,
            Phase::Idle => self.phase = Phase::Left,
            Phase::Leaving | Phase::Left => {}
        }
    }

    /// Once the application has stopped everything, revoke the lease: that deletes the member
    /// key, every barrier and the leader key (if ours) in one revision.
    pub(super) fn leave_request(&self) -> Option<(Pending, Request)> {
        if self.resources.values().any(Local::may_access) {
            return None;
        }
        let lease = self.lease?;
        Some((Pending::Revoke, Request::Revoke { lease }))
    }

    pub(super) fn left(&mut self, out: &mut Vec<Output>) {
        self.lease = None;
        self.phase = Phase::Left;
        self.term = None;
        self.keepalive = None;
        self.inflight = None;
        self.hold = false;
        self.backoff = false;
        self.resources.retain(|_, l| l.may_access());
        Node::cancel_timers(out);
        out.push(Output::Log(Event::Left));
    }
}
