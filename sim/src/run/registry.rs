//! The registry's side: a request arrives, is applied (its writes judged), and is answered;
//! the registry's restarts.

use super::*;

impl<'c> Sim<'c> {
    /// The registry receives a request.
    pub(super) fn arrive(&mut self, a: Arrival) {
        let Arrival {
            node,
            inc,
            req,
            fate,
            dup,
            ..
        } = a;
        let request = &a.request;
        if self.registry_down {
            // Lost with the registry's connections; the client times out.
            return;
        }
        let watch = matches!(request, Request::Watch { .. });
        if watch
            && !(self.hosts[node].inc == inc && self.hosts[node].outstanding.contains_key(&req))
        {
            // A watch belongs to its stream (in etcd, to the gRPC stream and so to the process's
            // connection): one whose client died or gave up on it was cancelled with it, and
            // nothing it would deliver reaches a node.
            return self.no_effect();
        }
        // In the spec's terms: the request of the node's current request slot, not yet settled.
        let awaited = self.current.is_some()
            && !dup
            && self.hosts[node].inc == inc
            && self.processes[node].up
            && self.processes[node].node.pending_request() == Some(req)
            && !self.hosts[node].settled.contains(&req);
        // A step before the registry applies it: the client sees that step's outcome.
        if let Fate::Fail(step) = fate {
            if !step.applied() {
                let replied = self.reply(&a, step.outcome());
                if awaited && replied {
                    let node_id = SimConfig::node_id(node);
                    self.settle(
                        node,
                        req,
                        SpecAction::Fail {
                            node: node_id,
                            step,
                        },
                    );
                }
                return;
            }
        }
        let (response, deliveries) = self.apply(node, request);
        if !watch {
            self.route(deliveries.clone());
        }
        let mut copied = false;
        let mut later = None;
        if !dup && !self.healed && !watch {
            if self.rng.random_bool(self.plan.rate(FaultKind::Duplicate)) {
                later = Some(
                    self.rng
                        .random_range(1..=self.config.network.request_timeout),
                );
            }
            if let Some(script) = &self.script {
                let msg = self.msg_of(node, inc, req, request);
                later = script
                    .message(node, &msg, FaultKind::Duplicate, false)
                    .filter(|_| self.plan.has(FaultKind::Duplicate))
                    .map(|ms| ms.unwrap_or(1));
            }
        }
        if let Some(later) = later {
            // The network hands the registry a second copy later; its reply is lost.
            self.coverage.fault(FaultKind::Duplicate);
            let msg = self.msg_of(node, inc, req, request);
            self.record_message(FaultKind::Duplicate, node, Some(&msg), false, Some(later));
            copied = true;
            self.push(
                self.now + later,
                Ev::Arrive(Arrival {
                    request: request.clone(),
                    fate: Fate::Ok,
                    dup: true,
                    orphan: true,
                    ..a.clone()
                }),
            );
        }
        let compacted = matches!(response, Response::Compacted { .. });
        let replied = match fate {
            // The reply never reaches the client, which times out.
            Fate::Fail(FailureStep::PostReply | FailureStep::DeliverReply) => false,
            // It arrives, and the client cannot use it.
            Fate::Fail(step) => self.reply(&a, step.outcome()),
            Fate::Ok => self.reply(&a, Outcome::Success(response)),
        };
        if watch {
            // etcd answers a watch request on its stream before the events it replays.
            self.route(deliveries);
        }
        if self.current.is_none() {
            return;
        }
        if matches!(request, Request::KeepAlive { .. }) {
            return; // the spec has no keep-alives
        }
        let n = SimConfig::node_id(node);
        if !awaited {
            // Given up on (timed out, fenced, crashed), or a copy: it lands off the wire.
            return self.label(SpecAction::DeliverOrphan {
                node: n,
                request: request.clone(),
                kept: copied,
            });
        }
        if copied {
            self.label(SpecAction::Duplicate { node: n.clone() });
        }
        let what = match (fate, replied) {
            (_, false) => SpecAction::Fail {
                node: n,
                step: FailureStep::PostReply,
            },
            (Fate::Fail(step), true) => SpecAction::Fail { node: n, step },
            (Fate::Ok, true) if compacted => SpecAction::WatchCompacted { node: n },
            (Fate::Ok, true) => SpecAction::Deliver { node: n },
        };
        self.settle(node, req, what);
    }

    /// The registry processes a request from node `i`; writes are judged as they happen.
    /// The caller routes the watch events it returns.
    pub(super) fn apply(&mut self, i: usize, request: &Request) -> (Response, Deliveries) {
        let client = SimConfig::node_id(i);
        let before = self.registry.revision();
        let previous = replaced_assignment(&self.registry, request);
        let (response, deliveries) = self.registry.handle(Time(self.now), &client, request);
        if let Request::Grant { .. } | Request::KeepAlive { .. } = request {
            if let Response::Granted { ttl, .. } | Response::KeptAlive { ttl } = response {
                self.push(self.now + ttl, Ev::LeaseCheck);
            }
        }
        if self.registry.revision() > before {
            self.judge_writes(&client, before, previous);
        }
        (response, deliveries)
    }

    pub(super) fn registry_up(&mut self) {
        if self.registry_down {
            self.registry_down = false;
            // etcd gives every lease a fresh ttl when it comes back.
            self.registry.restart(Time(self.now));
            let ttl = self.config.timing.ttl;
            self.push(self.now + ttl, Ev::LeaseCheck);
        }
    }
}
