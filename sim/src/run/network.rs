//! The links between the nodes and the registry: each request's fate (which of the eight
//! steps fails), latencies, delays, reordering, duplicates, FIFO order, and watch streams.

use super::*;

/// Why a request is going to fail, decided when it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(super) enum Fate {
    Ok,
    Fail(FailureStep),
}

/// A request on its way to the registry.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Arrival {
    pub(super) node: usize,
    pub(super) inc: u32,
    pub(super) req: ReqId,
    pub(super) request: Request,
    pub(super) fate: Fate,
    /// A second copy made by the network: its reply is lost.
    pub(super) dup: bool,
    /// Its client has given up on it already.
    pub(super) orphan: bool,
}

/// How per-message faults name a request: what it does, about which key, and its number among
/// the node's requests doing that.
pub(super) type MsgId = (Op, Option<Key>, u32);

/// What a message carries, for the name of its latency's random choice.
#[derive(Clone, Copy)]
pub(super) enum Carried<'a> {
    Request(&'a MsgId),
    Reply(&'a MsgId),
    Event(&'a WatchEvent),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Direction {
    Request,
    Reply,
    Watch,
}

/// The index of a simulated node name (`n3` → 2), if it is one of the run's `nodes`.
pub(super) fn node_index(id: &protocol::NodeId, nodes: usize) -> Option<usize> {
    id.number().filter(|i| *i < nodes)
}

impl<'c> Sim<'c> {
    /// How per-message faults name request `req` of node `i`'s incarnation `inc`.
    pub(super) fn msg_of(&self, i: usize, inc: u32, req: ReqId, request: &Request) -> MsgId {
        let n = self.hosts[i]
            .msg_n
            .get(inc as usize)
            .and_then(|v| v.get(req as usize))
            .copied()
            .unwrap_or(u32::MAX);
        let (op, key) = Op::of(request);
        (op, key, n)
    }

    /// Send the outcome of an arrived request back to its client, unless it cannot get there
    /// before the client gives up. Returns whether it was sent.
    pub(super) fn reply(&mut self, a: &Arrival, outcome: Outcome) -> bool {
        let Arrival {
            node,
            inc,
            req,
            dup,
            orphan,
            ..
        } = *a;
        if dup || orphan || self.hosts[node].inc != inc || !self.processes[node].up {
            return false;
        }
        if self.hosts[node].blocked_from() {
            return false; // the reply is lost; the client times out
        }
        let Some(&deadline) = self.hosts[node].outstanding.get(&req) else {
            return false;
        };
        // A watch's creation comes back on its stream, ordered with its events and its break.
        let dir = match a.request {
            Request::Watch { .. } => Direction::Watch,
            _ => Direction::Reply,
        };
        let msg = self.msg_of(node, inc, req, &a.request);
        let at = self.arrival(node, dir, Carried::Reply(&msg));
        if at > deadline {
            return false; // the client will have given up
        }
        self.push(
            at,
            Ev::Reply {
                node,
                inc,
                req,
                outcome,
            },
        );
        true
    }

    /// Hand watch events to their clients' streams.
    pub(super) fn route(&mut self, deliveries: Deliveries) {
        for (client, event) in deliveries {
            let Some(i) = node_index(&client, self.config.nodes) else {
                continue;
            };
            if !self.processes[i].up {
                continue;
            }
            if self.hosts[i].blocked_from() {
                // The stream cannot carry it: it breaks, and the client re-reads later.
                self.break_watch(i);
                continue;
            }
            let at = self.arrival(i, Direction::Watch, Carried::Event(&event));
            let h = &self.hosts[i];
            let ev = Ev::Watch {
                node: i,
                inc: h.inc,
                conn: h.conn,
                event,
            };
            self.push(at, ev);
        }
    }

    pub(super) fn break_watch(&mut self, i: usize) {
        self.registry.break_watch(&SimConfig::node_id(i));
        self.stream_broke(i);
    }

    /// Node `i`'s watch stream is gone: its client notices after what the stream still carried.
    pub(super) fn stream_broke(&mut self, i: usize) {
        let detect = self.rng.random_range(1..=100);
        let detect = self.taped(
            |s| {
                let n = s.next_site(i, Site::Detect { node: i, n: 0 });
                Site::Detect { node: i, n }
            },
            detect,
        );
        let h = &mut self.hosts[i];
        h.conn += 1;
        h.last_watch = h.last_watch.max(self.now + detect);
        let (at, inc) = (h.last_watch, h.inc);
        self.push(at, Ev::WatchBroken { node: i, inc });
    }

    /// When a message sent now on one of node `i`'s links arrives: a request or a reply (of
    /// request `msg`, which per-message faults name it by) or a watch event.
    pub(super) fn arrival(&mut self, i: usize, dir: Direction, carried: Carried<'_>) -> u64 {
        let n = &self.config.network;
        let latency = self.rng.random_range(n.min_latency..=n.max_latency);
        let latency = self.taped(
            |s| match carried {
                Carried::Request(msg) | Carried::Reply(msg) => Site::Latency {
                    node: i,
                    msg: msg.clone(),
                    reply: matches!(carried, Carried::Reply(_)),
                },
                Carried::Event(event) => {
                    let change = event.changes.first().map(|c| match c {
                        Change::Put(k, _) => (k.clone(), false),
                        Change::Delete(k) => (k.clone(), true),
                    });
                    let site = Site::Event {
                        node: i,
                        change,
                        n: 0,
                    };
                    let n = s.next_site(i, site.clone());
                    match site {
                        Site::Event { node, change, .. } => Site::Event { node, change, n },
                        other => other,
                    }
                }
            },
            latency,
        );
        let n = &self.config.network;
        let mut at = self.now + latency;
        let reply = dir == Direction::Reply;
        let msg = match carried {
            Carried::Request(m) | Carried::Reply(m) => Some(m),
            Carried::Event(_) => None,
        };
        if dir != Direction::Watch && !self.healed {
            let mut extra = self
                .rng
                .random_bool(self.plan.rate(FaultKind::Delay))
                .then(|| self.rng.random_range(50..=n.max_delay));
            if let (Some(script), Some(msg)) = (&self.script, msg) {
                extra = script
                    .message(i, msg, FaultKind::Delay, reply)
                    .filter(|_| self.plan.has(FaultKind::Delay))
                    .map(|ms| ms.unwrap_or(0));
            }
            if let Some(extra) = extra {
                self.coverage.fault(FaultKind::Delay);
                self.record_message(FaultKind::Delay, i, msg, reply, Some(extra));
                at += extra;
            }
        }
        let reorder = self.plan.has(FaultKind::Reorder) && dir != Direction::Watch;
        let h = &self.hosts[i];
        let last = match dir {
            Direction::Request => h.last_request,
            Direction::Reply => h.last_reply,
            Direction::Watch => h.last_watch,
        };
        if reorder && at < last {
            // A switch, also in a script: a link that is not FIFO lets any message overtake.
            self.coverage.fault(FaultKind::Reorder);
            self.record_message(FaultKind::Reorder, i, msg, reply, None);
        } else if !reorder {
            at = at.max(last);
        }
        let h = &mut self.hosts[i];
        let last = match dir {
            Direction::Request => &mut h.last_request,
            Direction::Reply => &mut h.last_reply,
            Direction::Watch => &mut h.last_watch,
        };
        *last = (*last).max(at);
        at
    }

    pub(super) fn record_message(
        &mut self,
        kind: FaultKind,
        node: usize,
        msg: Option<&MsgId>,
        reply: bool,
        ms: Option<u64>,
    ) {
        if let Some((op, key, n)) = msg {
            self.record(Fault::Message {
                kind,
                node,
                op: *op,
                key: key.clone(),
                n: *n,
                reply,
                ms,
            });
        }
    }

    /// Node `i` sends a request: decide its fate now.
    pub(super) fn send(&mut self, i: usize, req: ReqId, request: Request) {
        let inc = self.hosts[i].inc;
        let deadline = self.now + self.config.network.request_timeout;
        let (op, key) = Op::of(&request);
        let h = &mut self.hosts[i];
        h.outstanding.insert(req, deadline);
        let count = h.sent_n.entry((op, key.clone())).or_insert(0);
        let n = *count;
        *count += 1;
        let msg: MsgId = (op, key, n);
        if h.msg_n.len() <= inc as usize {
            h.msg_n.resize(inc as usize + 1, Vec::new());
        }
        let numbers = &mut h.msg_n[inc as usize];
        if let Ok(r) = usize::try_from(req) {
            if numbers.len() <= r {
                numbers.resize(r + 1, u32::MAX);
            }
            numbers[r] = n;
        }
        let mut fate = self.draw_fate();
        if let Some(script) = &self.script {
            fate = Fate::Ok;
            if !self.healed {
                for step in FailureStep::ALL {
                    let kind = FaultKind::Rpc(step);
                    if self.plan.has(kind) && script.message(i, &msg, kind, false).is_some() {
                        fate = Fate::Fail(step);
                        break;
                    }
                }
            }
        }
        if let Fate::Fail(step) = fate {
            self.coverage.rpc(step, &request);
            self.record_message(FaultKind::Rpc(step), i, Some(&msg), false, None);
        }
        match fate {
            Fate::Fail(FailureStep::PostRequest) => {
                let outcome = Outcome::PostFailed;
                let reply = Ev::Reply {
                    node: i,
                    inc,
                    req,
                    outcome,
                };
                return self.push(self.now, reply);
            }
            // Like a real client, every request that went out has its timeout; it does
            // nothing if the reply came first.
            _ => self.push(deadline, Ev::Timeout { node: i, inc, req }),
        }
        if fate == Fate::Fail(FailureStep::DeliverRequest) || self.hosts[i].blocked_to() {
            return;
        }
        let at = self.arrival(i, Direction::Request, Carried::Request(&msg));
        let orphan = at > deadline;
        self.push(
            at,
            Ev::Arrive(Arrival {
                node: i,
                inc,
                req,
                request,
                fate,
                dup: false,
                orphan,
            }),
        );
    }

    pub(super) fn draw_fate(&mut self) -> Fate {
        if self.healed {
            return Fate::Ok;
        }
        let total = self.plan.rpc_total();
        if total <= 0.0 {
            return Fate::Ok;
        }
        let x: f64 = self.rng.random();
        if x >= total {
            return Fate::Ok;
        }
        let mut acc = 0.0;
        for step in FailureStep::ALL {
            acc += self.plan.rate(FaultKind::Rpc(step));
            if x < acc {
                return Fate::Fail(step);
            }
        }
        Fate::Ok
    }
}
