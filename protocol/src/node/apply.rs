//! Applying the assignment: start a resource only behind its barrier, release a barrier only
//! after the application has stopped the resource (DESIGN.md §4.5).

use super::{Local, Node, Output, Pending, Phase};
use crate::ids::Session;
use crate::ids::{ResourceId, Revision};
use crate::mutant::Mutant;
use crate::node::Event;
use crate::registry::{Compare, Key, Op, Request, Txn, Value};
use std::collections::BTreeSet;

/// The release of one barrier: delete `Barrier(r)` only if it is the very barrier we created,
/// the one whose value is our session **and** whose `create_rev` the view shows.
///
/// A release can land late (the network delays or duplicates it, or the node gave up on it) and
/// by then the same session may hold a newer barrier of `r`: the owner alone does not tell the
/// two apart, the `create_rev` does. So a node releases only a barrier its view shows it
/// holding, with that barrier's `create_rev`; when the view does not show one (the release
/// landed, or the lease died), there is nothing to release and no request is sent.
pub(crate) fn release_txn(
    r: &ResourceId,
    session: &Session,
    create_rev: Revision,
    mutant: Option<Mutant>,
) -> Txn {
    let key = Key::Barrier(r.clone());
    let mut compare = vec![Compare::ValueIs(
        key.clone(),
        Value::Session(session.clone()),
    )];
    if mutant != Some(Mutant::OwnerOnlyRelease) {
        compare.push(Compare::CreateRevIs(key.clone(), create_rev));
    }
    Txn {
        compare,
        then: vec![Op::Delete { key }],
        otherwise: vec![],
    }
}

impl Node {
    /// Bring what the node runs in line with what its view says it should run.
    pub(super) fn reconcile(&mut self, out: &mut Vec<Output>) {
        match self.phase {
            Phase::Member => self.reconcile_member(out),
            Phase::Leaving => {
                for (r, local) in self.resources.iter_mut() {
                    if let Local::Starting(l) | Local::Running(l) = *local {
                        out.push(Output::Stop(r.clone()));
                        *local = Local::Stopping(l);
                    }
                }
                // The revoke deletes every barrier at once.
                self.resources.retain(|_, l| l.may_access());
                if self.lease.is_none() && self.inflight.is_none() && self.resources.is_empty() {
                    self.left(out);
                }
            }
            Phase::Idle | Phase::Joining | Phase::Left => {}
        }
    }

    fn reconcile_member(&mut self, out: &mut Vec<Output>) {
        let Some(session) = self.session() else {
            return;
        };
        if !self.synced || self.view.rev < self.wait_rev {
            return; // decide only on a view that includes our own last write
        }
        // Our member key is gone or not ours: our lease died under us (it can only expire).
        if self.view.members.get(&self.id).map(|(s, _)| s) != Some(&session) {
            return self.fence(super::FenceReason::LeaseLost, out);
        }
        let lease = session.lease;
        let desired: BTreeSet<ResourceId> = match &self.view.assignment {
            Some(a) => a
                .share(&self.id)
                .filter(|r| self.view.resources.contains(*r))
                .cloned()
                .collect(),
            None => BTreeSet::new(),
        };
        // "A barrier whose value is me is mine" -- unless the node forgets to re-read.
        let recognises_own = self.mutant != Some(Mutant::UnknownAsFailure);
        let mine = |r: &ResourceId| {
            recognises_own && self.view.barriers.get(r).map(|(s, _)| s) == Some(&session)
        };
        let early_release = self.mutant == Some(Mutant::ReleaseBarrierBeforeStopAck);

        let mut changes: Vec<(ResourceId, Option<Local>)> = Vec::new();
        for (r, local) in &self.resources {
            if desired.contains(r) {
                // Only a barrier seen as ours starts. A stopped resource whose barrier is being
                // released is not restarted in place: the release may already have landed and
                // another node taken the barrier. It is released, then acquired again.
                if *local == Local::Acquiring && mine(r) {
                    out.push(Output::Start(r.clone()));
                    changes.push((r.clone(), Some(Local::Starting(lease))));
                }
                // The release landed (its outcome was UNKNOWN, say): the synced view shows the
                // barrier gone or another's. Nothing is left to release; acquire it anew.
                if *local == Local::Releasing(lease) && !mine(r) {
                    changes.push((r.clone(), Some(Local::Acquiring)));
                }
                continue;
            }
            match local {
                Local::Acquiring => changes.push((r.clone(), None)),
                Local::Starting(l) | Local::Running(l) => {
                    out.push(Output::Stop(r.clone()));
                    let next = if early_release && *l == lease {
                        Local::Releasing(*l)
                    } else {
                        Local::Stopping(*l)
                    };
                    changes.push((r.clone(), Some(next)));
                }
                Local::Stopping(_) => {}
                // Our barrier is gone already (its release landed after an UNKNOWN): done.
                // Should a delayed acquire bring it back, the loop below releases it again.
                Local::Releasing(l) if *l == lease && !mine(r) => changes.push((r.clone(), None)),
                Local::Releasing(_) => {}
            }
        }
        for r in &desired {
            if self.resources.contains_key(r) {
                continue;
            }
            if self.mutant == Some(Mutant::StartBeforeBarrier) || mine(r) {
                out.push(Output::Start(r.clone()));
                changes.push((r.clone(), Some(Local::Starting(lease))));
            } else {
                changes.push((r.clone(), Some(Local::Acquiring)));
            }
        }
        // A barrier of ours we have no use for (an UNKNOWN acquire that was applied, say).
        for (r, (holder, _)) in &self.view.barriers {
            if *holder == session
                && recognises_own
                && !desired.contains(r)
                && !self.resources.contains_key(r)
            {
                changes.push((r.clone(), Some(Local::Releasing(lease))));
            }
        }
        for (r, next) in changes {
            match next {
                Some(l) => {
                    if l == Local::Acquiring {
                        if let Some((holder, _)) = self.view.barriers.get(&r) {
                            out.push(Output::Log(Event::Waiting {
                                resource: r.clone(),
                                holder: holder.clone(),
                            }));
                        }
                    }
                    self.resources.insert(r, l);
                }
                None => {
                    self.resources.remove(&r);
                }
            }
        }
    }

    /// Release a stopped resource's barrier, or acquire a free barrier we are assigned.
    pub(super) fn barrier_request(&self) -> Option<(Pending, Request)> {
        let session = self.session()?;
        let releasing = self.resources.iter().find_map(|(r, l)| {
            let held = self.view.barriers.get(r).filter(|(s, _)| *s == session)?;
            (*l == Local::Releasing(session.lease)).then_some((r, held.1))
        });
        if let Some((r, create_rev)) = releasing {
            let txn = release_txn(r, &session, create_rev, self.mutant);
            return Some((Pending::Release(r.clone()), Request::Txn(txn)));
        }
        let acquiring = self
            .resources
            .iter()
            .find(|(r, l)| **l == Local::Acquiring && !self.view.barriers.contains_key(*r));
        let (r, _) = acquiring?;
        let key = Key::Barrier(r.clone());
        let lease = Some(session.lease);
        let txn = Txn {
            compare: vec![Compare::Absent(key.clone())],
            then: vec![Op::Put {
                key,
                value: Value::Session(session),
                lease,
            }],
            otherwise: vec![],
        };
        Some((Pending::Acquire(r.clone()), Request::Txn(txn)))
    }

    pub(super) fn acquired(
        &mut self,
        r: ResourceId,
        succeeded: bool,
        rev: Revision,
        out: &mut Vec<Output>,
    ) {
        self.wait_rev = rev;
        let (Some(lease), true) = (self.lease, succeeded) else {
            return; // held by someone else: the view will show whom, and its release
        };
        match self.resources.get(&r) {
            Some(Local::Acquiring) => {
                out.push(Output::Start(r.clone()));
                self.resources.insert(r, Local::Starting(lease));
            }
            Some(_) => {}
            // No longer ours while the request was out: give the barrier back.
            None => {
                self.resources.insert(r, Local::Releasing(lease));
            }
        }
    }

    pub(super) fn released(&mut self, r: &ResourceId, rev: Revision) {
        self.wait_rev = rev;
        if matches!(self.resources.get(r), Some(Local::Releasing(_))) {
            self.resources.remove(r);
        }
    }

    pub(super) fn on_started(&mut self, r: &ResourceId) {
        if let Some(Local::Starting(l)) = self.resources.get(r).cloned() {
            self.resources.insert(r.clone(), Local::Running(l));
        }
    }

    pub(super) fn on_stopped(&mut self, r: &ResourceId) {
        // Under M3 the entry may already have moved on to releasing before this acknowledgement.
        if let Some(Local::Stopping(l)) = self.resources.get(r).cloned() {
            // Only now may the barrier go; under an old lease it dies with the lease.
            if self.phase == Phase::Member && self.lease == Some(l) {
                self.resources.insert(r.clone(), Local::Releasing(l));
            } else {
                self.resources.remove(r);
            }
        }
    }
}
