//! The event queue and the loop: events in (time, insertion) order, each handled, then every
//! safety property judged.

use super::*;

/// A scheduled event.
#[derive(Clone, Debug, Serialize)]
pub(super) enum Ev {
    /// Every node is asked to join.
    Start,
    /// A request reaches the registry.
    Arrive(Arrival),
    /// An outcome reaches the client.
    Reply {
        node: usize,
        inc: u32,
        req: ReqId,
        outcome: Outcome,
    },
    /// The client gives up on a request.
    Timeout { node: usize, inc: u32, req: ReqId },
    /// A watch event reaches the client on stream `conn`.
    Watch {
        node: usize,
        inc: u32,
        conn: u32,
        event: WatchEvent,
    },
    /// The client notices its watch stream broke.
    WatchBroken { node: usize, inc: u32 },
    /// A node timer fires, if still armed with generation `gen`.
    Timer {
        node: usize,
        inc: u32,
        kind: TimerKind,
        gen: u32,
    },
    /// The application carries out its oldest command.
    AppDone { node: usize, inc: u32 },
    /// The registry expires the leases that are due.
    LeaseCheck,
    /// A scheduled fault.
    Fault(Planned),
    /// A cut link heals.
    Uncut {
        nodes: Vec<usize>,
        to_registry: bool,
        from_registry: bool,
    },
    /// A flapping link flips.
    Flip { node: usize, period: u64 },
    /// A crashed process restarts.
    Restart { node: usize, inc: u32 },
    /// A paused process resumes.
    Resume { node: usize, inc: u32 },
    /// The registry is reachable again.
    RegistryUp,
    /// The fault phase ends: everything heals.
    Heal,
    /// The liveness bound has passed.
    Deadline,
}

pub(super) struct Entry {
    pub(super) at: u64,
    pub(super) seq: u64,
    pub(super) ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    // Reversed: the heap pops the earliest (time, insertion) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl<'c> Sim<'c> {
    pub(super) fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Entry {
            at,
            seq: self.seq,
            ev,
        });
    }

    pub(super) fn run(&mut self) {
        let end = if self.config.liveness {
            u64::MAX
        } else {
            self.config.duration
        };
        while let Some(entry) = self.queue.pop() {
            if entry.at > end || self.done {
                break;
            }
            debug_assert!(entry.at >= self.now, "time never runs backwards");
            self.now = entry.at;
            self.hash.record(&(entry.at, &entry.ev));
            if self.options.trace {
                self.current = Some(self.begin_step(&entry.ev));
                self.spec_actions.clear();
            }
            self.silent = false;
            let violations = self.violations.len();
            self.handle(entry.ev);
            self.check_safety();
            if self.healed && self.converged_at.is_none() {
                self.check_convergence();
            }
            let counted = !self.silent || self.violations.len() > violations;
            if let Some(step) = self.current.take().filter(|_| counted) {
                let step = self.end_step(step);
                self.trace.push(step);
            }
            self.step += u64::from(counted);
            self.popped += 1;
            if self.stopped {
                break;
            }
            if self.popped >= MAX_EVENTS {
                self.violate(
                    "event_budget",
                    format!("the run did not end within {MAX_EVENTS} events"),
                );
                break;
            }
        }
    }

    pub(super) fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Start => {
                for i in 0..self.config.nodes {
                    self.feed(i, Input::Join);
                }
            }
            Ev::Arrive(a) => self.arrive(a),
            Ev::Reply {
                node,
                inc,
                req,
                outcome,
            } => {
                if self.hosts[node].inc == inc
                    && self.hosts[node].outstanding.remove(&req).is_some()
                {
                    self.feed(node, Input::Reply { req, outcome });
                } else {
                    self.no_effect();
                }
            }
            Ev::Timeout { node, inc, req } => {
                if self.hosts[node].inc == inc
                    && self.hosts[node].outstanding.remove(&req).is_some()
                {
                    let outcome = Outcome::Unknown;
                    self.feed(node, Input::Reply { req, outcome });
                } else {
                    self.cancelled();
                }
            }
            Ev::Watch {
                node,
                inc,
                conn,
                event,
            } => {
                let h = &self.hosts[node];
                if h.inc == inc && h.conn == conn {
                    self.feed(node, Input::Watch(event));
                } else {
                    self.no_effect();
                }
            }
            Ev::WatchBroken { node, inc } => {
                if self.hosts[node].inc == inc {
                    self.feed(node, Input::WatchBroken);
                } else {
                    self.cancelled();
                }
            }
            Ev::Timer {
                node,
                inc,
                kind,
                gen,
            } => {
                let h = &mut self.hosts[node];
                if h.inc != inc || h.timer_gen[timer_index(kind)] != gen {
                    return self.cancelled();
                }
                if h.paused {
                    h.queue.push(Queued::Timer(kind, gen));
                } else {
                    self.feed(node, Input::Timer(kind));
                }
            }
            Ev::AppDone { node, inc } => {
                if self.hosts[node].inc == inc {
                    // The trace says what the application did (the event only that it acted).
                    if let (Some(step), Some(cmd)) = (
                        self.current.as_mut(),
                        self.processes[node].app.pending.front(),
                    ) {
                        let (r, start) = match cmd {
                            protocol::AppCommand::Start(r) => (r, true),
                            protocol::AppCommand::Stop(r) => (r, false),
                        };
                        let verb = if start { "starts" } else { "stops" };
                        step.detail = format!("application {verb} {r}");
                        step.flow = Flow::App {
                            resource: r.to_string(),
                            start,
                        };
                    }
                    if let Some(ack) = self.processes[node].app.perform() {
                        self.feed(node, ack);
                    }
                }
            }
            Ev::LeaseCheck => {
                if self.registry_down {
                    return self.cancelled();
                }
                let before = self.registry.revision();
                let live: Vec<u64> = self.registry.leases().map(|(l, _)| l.0).collect();
                let deliveries = self.registry.expire_due(Time(self.now));
                if self.registry.leases().count() == live.len() {
                    // Nothing was due (a keep-alive moved the deadline on).
                    debug_assert_eq!(self.registry.revision(), before);
                    self.cancelled();
                }
                if self.current.is_some() {
                    for l in live {
                        if self.registry.lease(protocol::LeaseId(l)).is_none() {
                            self.label(SpecAction::Expire { lease: l });
                        }
                    }
                }
                self.note_registry(before);
                self.route(deliveries);
            }
            Ev::Fault(p) => self.inject(p),
            Ev::Uncut {
                nodes,
                to_registry,
                from_registry,
            } => {
                for i in nodes {
                    let h = &mut self.hosts[i];
                    h.cut_to = h.cut_to.saturating_sub(to_registry.into());
                    h.cut_from = h.cut_from.saturating_sub(from_registry.into());
                }
            }
            Ev::Flip { node, period } => {
                let h = &mut self.hosts[node];
                if self.now >= h.flap_until {
                    h.flap_down = false;
                } else {
                    h.flap_down = !h.flap_down;
                    self.push(self.now + period, Ev::Flip { node, period });
                }
            }
            Ev::Restart { node, inc } => {
                if self.hosts[node].inc == inc && !self.processes[node].up {
                    self.processes[node].up = true;
                    self.feed(node, Input::Join);
                }
            }
            Ev::Resume { node, inc } => {
                if self.hosts[node].inc == inc {
                    self.resume(node);
                }
            }
            Ev::RegistryUp => self.registry_up(),
            Ev::Heal => self.heal(),
            Ev::Deadline => {
                if self.converged_at.is_none() {
                    self.liveness_failed();
                }
                self.done = true;
            }
        }
    }
}
