//! The server's one core task: every group's registry, the routing of watch events to
//! connections, lease expiry on the server's clock, and durability.
//!
//! Requests are applied one at a time, in arrival order, by the pure registry. Replies and watch
//! events are held until the batch they belong to is durable, then sent.

use super::store::Store;
use super::ServerStats;
use crate::wire::{ServerFrame, WireReply};
use protocol::{NodeConfig, NodeId, Registry, Request, Time};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

/// How often leases are checked for expiry.
const TICK: Duration = Duration::from_millis(10);
/// Most messages applied before the batch is made durable and its replies sent.
const BATCH: usize = 512;

pub(super) enum CoreMsg {
    Open {
        conn: u64,
        group: String,
        client: NodeId,
        out: mpsc::Sender<ServerFrame>,
        kill: Arc<Notify>,
    },
    Request {
        conn: u64,
        id: u64,
        request: Request,
    },
    Closed {
        conn: u64,
    },
}

struct Conn {
    group: String,
    client: NodeId,
    out: mpsc::Sender<ServerFrame>,
    kill: Arc<Notify>,
}

pub(super) struct Core {
    groups: BTreeMap<String, Registry>,
    conns: BTreeMap<u64, Conn>,
    /// The connection that receives each client's watch events.
    watch_owner: BTreeMap<(String, NodeId), u64>,
    origin: Instant,
    store: Option<Store>,
    history: u64,
    stats: watch::Sender<ServerStats>,
    dirty: bool,
    outbox: Vec<(u64, ServerFrame)>,
}

impl Core {
    pub(super) fn new(
        mut store: Option<Store>,
        history: u64,
        stats: watch::Sender<ServerStats>,
    ) -> Result<Core, String> {
        let mut groups = store
            .as_mut()
            .and_then(Store::take_loaded)
            .unwrap_or_default();
        // A restart keeps the state and renews every lease, as etcd does: a node's lease must
        // never expire because the registry was down.
        for registry in groups.values_mut() {
            registry.restart(Time(0));
        }
        Ok(Core {
            groups,
            conns: BTreeMap::new(),
            watch_owner: BTreeMap::new(),
            origin: Instant::now(),
            store,
            history,
            stats,
            dirty: false,
            outbox: Vec::new(),
        })
    }

    fn now(&self) -> Time {
        Time(self.origin.elapsed().as_millis() as u64)
    }

    pub(super) async fn run(
        mut self,
        mut rx: mpsc::Receiver<CoreMsg>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    self.handle(msg);
                    for _ in 1..BATCH {
                        match rx.try_recv() {
                            Ok(msg) => self.handle(msg),
                            Err(_) => break,
                        }
                    }
                }
                _ = tick.tick() => self.expire(),
            }
            self.flush();
        }
        self.flush();
        for conn in self.conns.values() {
            conn.kill.notify_one();
        }
    }

    fn handle(&mut self, msg: CoreMsg) {
        match msg {
            CoreMsg::Open {
                conn,
                group,
                client,
                out,
                kill,
            } => {
                self.conns.insert(
                    conn,
                    Conn {
                        group,
                        client,
                        out,
                        kill,
                    },
                );
            }
            CoreMsg::Closed { conn } => self.close(conn),
            CoreMsg::Request { conn, id, request } => self.request(conn, id, request),
        }
    }

    fn request(&mut self, conn: u64, id: u64, request: Request) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (group, client) = (c.group.clone(), c.client.clone());
        if let Request::Grant { ttl } = request {
            // The longest lease is the core's bound (a day), which nodes check too.
            const MAX_TTL: u64 = NodeConfig::MAX_TTL;
            if ttl == 0 || ttl > MAX_TTL {
                let reply =
                    WireReply::Invalid(format!("lease ttl {ttl} ms is not in 1..={MAX_TTL}"));
                self.outbox.push((conn, ServerFrame::Reply { id, reply }));
                return;
            }
        }
        if let Request::Watch { .. } = request {
            // One watch per client: a newer connection's watch replaces the older one's.
            let owner = (group.clone(), client.clone());
            if let Some(old) = self.watch_owner.insert(owner, conn) {
                if old != conn {
                    self.outbox.push((old, ServerFrame::WatchBroken));
                }
            }
        }
        let now = self.now();
        let registry = self.groups.entry(group.clone()).or_default();
        let before = registry.revision();
        let (response, deliveries) = registry.handle(now, &client, &request);
        if registry.revision() != before || matches!(request, Request::Grant { .. }) {
            self.dirty = true;
        }
        self.stats.send_modify(|s| s.requests += 1);
        self.outbox.push((
            conn,
            ServerFrame::Reply {
                id,
                reply: WireReply::Ok(response),
            },
        ));
        self.route(&group, deliveries);
    }

    fn route(&mut self, group: &str, deliveries: protocol::registry::Deliveries) {
        for (client, event) in deliveries {
            if let Some(conn) = self.watch_owner.get(&(group.to_string(), client)) {
                self.outbox.push((*conn, ServerFrame::Watch(event)));
            }
        }
    }

    fn close(&mut self, conn: u64) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let owner = (c.group, c.client);
        if self.watch_owner.get(&owner) == Some(&conn) {
            self.watch_owner.remove(&owner);
            if let Some(registry) = self.groups.get_mut(&owner.0) {
                registry.break_watch(&owner.1);
            }
        }
    }

    fn expire(&mut self) {
        let now = self.now();
        let mut routed = Vec::new();
        let mut expired = 0;
        for (group, registry) in self.groups.iter_mut() {
            let before = registry.leases().count();
            let deliveries = registry.expire_due(now);
            let gone = before - registry.leases().count();
            if gone > 0 {
                expired += gone as u64;
                self.dirty = true;
                routed.push((group.clone(), deliveries));
            }
        }
        if expired > 0 {
            self.stats.send_modify(|s| s.expired += expired);
        }
        for (group, deliveries) in routed {
            self.route(&group, deliveries);
        }
    }

    /// Make the batch durable, then send what it produced.
    fn flush(&mut self) {
        if self.dirty {
            for registry in self.groups.values_mut() {
                let keep_from = registry.revision().saturating_sub(self.history);
                registry.compact(keep_from);
            }
            if let Some(store) = &self.store {
                // Nothing may be answered that the data file does not hold: on a failed write,
                // drop the batch's answers (clients see UNKNOWN) and keep trying.
                if let Err(e) = store.save(&self.groups) {
                    tracing::error!("cannot write the data file: {e}");
                    self.outbox.clear();
                    return;
                }
            }
            self.dirty = false;
        }
        for (conn, frame) in std::mem::take(&mut self.outbox) {
            let Some(c) = self.conns.get(&conn) else {
                continue;
            };
            if c.out.try_send(frame).is_err() {
                // A client that does not keep up is cut off rather than buffered without bound;
                // it reconnects and re-reads.
                tracing::warn!(
                    "client {} does not keep up: closing its connection",
                    c.client
                );
                c.kill.notify_one();
                self.close(conn);
            }
        }
    }
}
