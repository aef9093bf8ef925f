//! Fault injection: scheduled faults (cuts, flaps, crashes, pauses, registry restarts, watch
//! breaks, compactions, admin and membership changes), a script's per-message faults, and the
//! heal that ends the fault phase.

use super::*;

/// A scripted fault of one request: its kind, whether it hits the reply, its ms.
pub(super) type MsgFault = (FaultKind, bool, Option<u64>);

/// A configuration's script, indexed for the run.
#[derive(Default)]
pub(super) struct Script {
    /// Per node and request: the faults of that request.
    pub(super) messages: BTreeMap<(usize, MsgId), Vec<MsgFault>>,
    pub(super) drift: BTreeMap<usize, i64>,
    pub(super) slow_stops: BTreeMap<(usize, u32), u64>,
}

impl Script {
    pub(super) fn new(faults: &[Fault]) -> Script {
        let mut s = Script::default();
        for f in faults {
            match f {
                Fault::Scheduled(_) => {}
                Fault::Message {
                    kind,
                    node,
                    op,
                    key,
                    n,
                    reply,
                    ms,
                } => s
                    .messages
                    .entry((*node, (*op, key.clone(), *n)))
                    .or_default()
                    .push((*kind, *reply, *ms)),
                Fault::Drift { node, ppm } => {
                    s.drift.insert(*node, *ppm);
                }
                Fault::SlowStop { node, n, ms } => {
                    s.slow_stops.insert((*node, *n), *ms);
                }
            }
        }
        s
    }

    /// The scripted fault of `kind` on a request (or its reply): `Some(ms)` if there is one.
    pub(super) fn message(
        &self,
        node: usize,
        msg: &MsgId,
        kind: FaultKind,
        reply: bool,
    ) -> Option<Option<u64>> {
        self.messages
            .get(&(node, msg.clone()))?
            .iter()
            .find(|(k, r, _)| *k == kind && *r == reply)
            .map(|(_, _, ms)| *ms)
    }
}

impl<'c> Sim<'c> {
    pub(super) fn record(&mut self, fault: Fault) {
        self.injected.push(Injected {
            step: self.step,
            time_ms: self.now,
            fault,
        });
    }

    pub(super) fn breach(&mut self, what: String) {
        self.coverage.breaches += 1;
        self.breaches
            .push(format!("{:.3}s: {what}", self.now as f64 / 1000.0));
    }

    pub(super) fn inject(&mut self, p: Planned) {
        if self.healed {
            return;
        }
        self.coverage.fault(p.kind);
        let undo = matches!(
            p.action,
            Action::Admin {
                undo_after: None,
                ..
            }
        ) && self.undo_pending.remove(&p.ordinal);
        if !undo {
            self.record(Fault::Scheduled(p.clone()));
        }
        match p.action {
            Action::Cut {
                nodes,
                to_registry,
                from_registry,
                length,
            } => {
                for &i in &nodes {
                    let h = &mut self.hosts[i];
                    h.cut_to += u32::from(to_registry);
                    h.cut_from += u32::from(from_registry);
                }
                self.push(
                    self.now + length,
                    Ev::Uncut {
                        nodes,
                        to_registry,
                        from_registry,
                    },
                );
            }
            Action::Flap {
                node,
                length,
                period,
            } => {
                self.hosts[node].flap_until = self.now + length;
                self.push(self.now, Ev::Flip { node, period });
            }
            Action::Crash { node, down } => {
                if self.processes[node].up {
                    self.crash(node, down);
                }
            }
            Action::Pause { node, length } => {
                if self.processes[node].up && !self.hosts[node].paused {
                    if length > self.config.envelope.max_pause {
                        self.breach(format!(
                            "{} paused for {length} ms (limit {} ms)",
                            SimConfig::node_id(node),
                            self.config.envelope.max_pause
                        ));
                    }
                    self.hosts[node].paused = true;
                    let inc = self.hosts[node].inc;
                    self.push(self.now + length, Ev::Resume { node, inc });
                }
            }
            Action::RegistryRestart { down } => {
                if !self.registry_down {
                    self.registry_down = true;
                    for client in self.registry.restart(Time(self.now)) {
                        if let Some(i) = node_index(&client, self.config.nodes) {
                            self.stream_broke(i);
                        }
                    }
                    self.push(self.now + down, Ev::RegistryUp);
                }
            }
            Action::WatchBreak { node } => {
                if self.registry.is_watching(&SimConfig::node_id(node)) {
                    self.break_watch(node);
                }
            }
            Action::Compaction { keep } => {
                let rev = self.registry.revision().saturating_sub(keep);
                self.registry.compact(rev);
            }
            Action::Admin {
                resource,
                undo_after,
            } => {
                if let Some(after) = undo_after {
                    self.undo_pending.insert(p.ordinal);
                    let undo = Planned {
                        at: self.now + after,
                        kind: p.kind,
                        ordinal: p.ordinal,
                        action: Action::Admin {
                            resource,
                            undo_after: None,
                        },
                    };
                    self.push(undo.at, Ev::Fault(undo));
                }
                if !self.registry_down {
                    let r = SimConfig::resource_id(resource);
                    let txn = if self.registry.get(&Key::Resource(r.clone())).is_some() {
                        admin::remove_resource(&r, self.config.mutant)
                    } else {
                        admin::add_resource(&r)
                    };
                    let before = self.registry.revision();
                    let (_, deliveries) = self.registry.txn(&txn);
                    self.label(SpecAction::Admin { resource: r });
                    self.note_registry(before);
                    self.route(deliveries);
                }
            }
            Action::Membership { node } => match self.processes[node].node.phase() {
                Phase::Member => self.feed(node, Input::Leave),
                Phase::Left => self.feed(node, Input::Join),
                _ => {}
            },
        }
    }

    /// The fault phase is over: every link heals, every process runs, every node is in the
    /// group, and from now on requests neither fail nor linger.
    pub(super) fn heal(&mut self) {
        self.healed = true;
        self.registry_up();
        for i in 0..self.config.nodes {
            let h = &mut self.hosts[i];
            h.cut_to = 0;
            h.cut_from = 0;
            h.flap_until = 0;
            h.flap_down = false;
            if !self.processes[i].up {
                self.processes[i].up = true;
                self.feed(i, Input::Join);
            }
            self.resume(i);
            if self.processes[i].node.phase() == Phase::Left {
                self.feed(i, Input::Join);
            }
        }
    }
}
