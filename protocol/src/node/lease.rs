//! Keeping the lease alive, and self-fencing when it may have run out (DESIGN.md §4.2).
//!
//! The node's local deadline is the send time of its last *acknowledged* keep-alive (or of the
//! grant) plus `ttl·(1−ρ) − stop budget`. Past it, or when the registry says the lease is gone,
//! the node stops everything at once and rejoins with a fresh lease. This is the only thing that
//! makes lease expiry safe, and it rests on the timing assumptions of DESIGN.md §6.

use super::{FenceReason, Inflight, Node, Output, Phase, TimerKind};
use crate::ids::{LeaseId, Time};
use crate::mutant::Mutant;
use crate::node::{Event, Local};
use crate::registry::Response;
use crate::rpc::Outcome;

impl Node {
    pub(super) fn granted(
        &mut self,
        lease: LeaseId,
        sent_at: Time,
        now: Time,
        out: &mut Vec<Output>,
    ) {
        self.lease = Some(lease);
        let start = if self.mutant == Some(Mutant::FenceFromReply) {
            now
        } else {
            sent_at
        };
        self.arm_fence(start, out);
        out.push(Output::SetTimer {
            kind: TimerKind::KeepAlive,
            at: now.plus(self.config.keepalive_interval()),
        });
    }

    fn arm_fence(&mut self, acked_send: Time, out: &mut Vec<Output>) {
        out.push(Output::SetTimer {
            kind: TimerKind::Fence,
            at: self.config.fence_deadline(acked_send),
        });
    }

    pub(super) fn send_keepalive(&mut self, now: Time, out: &mut Vec<Output>) {
        let Some(lease) = self.lease else { return };
        if self.keepalive.is_some() {
            return; // the previous one is still out; its outcome re-arms the timer
        }
        let req = self.next_req;
        self.next_req += 1;
        self.keepalive = Some(Inflight {
            req,
            what: lease,
            sent_at: now,
        });
        out.push(Output::Send {
            req,
            request: crate::registry::Request::KeepAlive { lease },
        });
    }

    pub(super) fn on_keepalive_reply(
        &mut self,
        now: Time,
        outcome: Outcome,
        out: &mut Vec<Output>,
    ) {
        let Some(k) = self.keepalive.take() else {
            return;
        };
        if self.lease != Some(k.what) {
            return;
        }
        let next = match outcome {
            Outcome::Success(Response::KeptAlive { .. }) => {
                // From the send: the registry renewed the lease at some moment after it, and
                // the reply may have spent any time on its way back.
                let start = if self.mutant == Some(Mutant::FenceFromReply) {
                    now
                } else {
                    k.sent_at
                };
                self.arm_fence(start, out);
                self.config.keepalive_interval()
            }
            Outcome::Success(Response::LeaseNotFound) => {
                return self.fence(FenceReason::LeaseLost, out);
            }
            // Not renewed (or we cannot tell): the fence timer keeps running; try again soon.
            _ => self.config.retry,
        };
        out.push(Output::SetTimer {
            kind: TimerKind::KeepAlive,
            at: now.plus(next),
        });
    }

    /// Stop everything, drop the lease and role, and rejoin with a fresh lease.
    pub(super) fn fence(&mut self, reason: FenceReason, out: &mut Vec<Output>) {
        if self.mutant == Some(Mutant::NoSelfFence) {
            return;
        }
        let Some(lease) = self.lease.take() else {
            return;
        };
        for (r, local) in self.resources.iter_mut() {
            if let Local::Starting(l) | Local::Running(l) = *local {
                out.push(Output::Stop(r.clone()));
                *local = Local::Stopping(l);
            }
        }
        // Barriers die with the old lease; only entries still stopping are kept.
        self.resources
            .retain(|_, l| matches!(l, Local::Stopping(_)));
        Node::cancel_timers(out);
        self.inflight = None;
        self.keepalive = None;
        self.term = None;
        self.hold = false;
        self.backoff = false;
        self.synced = false;
        self.wait_rev = 0;
        if self.phase != Phase::Leaving {
            self.phase = Phase::Joining;
        }
        // The watch belongs to the connection, not the lease: it stays, and so does the view.
        out.push(Output::Log(Event::Fenced { lease, reason }));
    }
}
