//! The runtime around each node: its clock, its pause queue, its timers, its application,
//! and what its outputs do; crashes and resumes.

use super::*;

/// A node's clock: `offset + t + t·drift/10⁶` at true time `t`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    pub(super) offset: u64,
    pub(super) drift_ppm: i64,
}

impl Clock {
    pub(super) fn local(&self, t: u64) -> u64 {
        let skew = (t as i128 * self.drift_ppm as i128) / 1_000_000;
        (self.offset as i128 + t as i128 + skew) as u64
    }

    /// The first true time at which the clock reads at least `at`, not before `now`.
    pub(super) fn true_at(&self, at: u64, now: u64) -> u64 {
        if at <= self.local(now) {
            return now;
        }
        let since = (at - self.offset) as i128 * 1_000_000;
        let rate = 1_000_000 + self.drift_ppm as i128;
        let mut t = ((since + rate - 1) / rate) as u64;
        while self.local(t) < at {
            t += 1;
        }
        t.max(now)
    }
}

/// Something queued for a paused node.
pub(super) enum Queued {
    Input(Input),
    Timer(TimerKind, u32),
}

/// The runtime around one node: what a production adapter does with sockets and timers.
pub(super) struct Host {
    pub(super) inc: u32,
    pub(super) clock: Clock,
    pub(super) paused: bool,
    pub(super) queue: Vec<Queued>,
    /// Requests awaiting an outcome, with the client's timeout deadline.
    pub(super) outstanding: BTreeMap<ReqId, u64>,
    pub(super) timer_gen: [u32; 4],
    /// The watch stream; events of an older stream are dropped.
    pub(super) conn: u32,
    pub(super) cut_to: u32,
    pub(super) cut_from: u32,
    pub(super) flap_until: u64,
    pub(super) flap_down: bool,
    /// FIFO links: the latest arrival scheduled per direction.
    pub(super) last_request: u64,
    pub(super) last_reply: u64,
    pub(super) last_watch: u64,
    pub(super) app_free: u64,
    /// With tracing: the requests awaiting an outcome, for the spec's view of a node.
    pub(super) sent: BTreeMap<ReqId, Request>,
    /// With tracing: requests whose arrival the spec trace already settled.
    pub(super) settled: BTreeSet<ReqId>,
    /// Requests sent per kind (what they do), over the run: how per-message faults name them.
    pub(super) sent_n: BTreeMap<(Op, Option<Key>), u32>,
    /// Per incarnation, per request id: its number among the node's requests of its operation.
    pub(super) msg_n: Vec<Vec<u32>>,
    /// Stop commands given, over the run.
    pub(super) stops: u32,
    /// With a tape: the choices made so far per kind of choice, to name the next one.
    pub(super) sites: BTreeMap<Site, u32>,
}

impl Host {
    pub(super) fn blocked_to(&self) -> bool {
        self.cut_to > 0 || self.flap_down
    }
    pub(super) fn blocked_from(&self) -> bool {
        self.cut_from > 0 || self.flap_down
    }
}

pub(super) fn timer_index(kind: TimerKind) -> usize {
    match kind {
        TimerKind::KeepAlive => 0,
        TimerKind::Fence => 1,
        TimerKind::RebalanceHold => 2,
        TimerKind::Retry => 3,
    }
}

impl<'c> Sim<'c> {
    /// Feed node `i` an input (queued while it is paused) and carry out its outputs.
    pub(super) fn feed(&mut self, i: usize, input: Input) {
        if !self.processes[i].up {
            return;
        }
        if self.hosts[i].paused {
            self.hosts[i].queue.push(Queued::Input(input));
            return;
        }
        let local = Time(self.hosts[i].clock.local(self.now));
        let before = self
            .current
            .is_some()
            .then(|| self.processes[i].node.clone());
        let labelled = before.is_some().then(|| input.clone());
        let outputs = self.processes[i].node.handle(local, input);
        if let (Some(before), Some(input)) = (before, labelled) {
            self.label_input(i, &before, &input);
        }
        for output in outputs {
            if let Some(step) = self.current.as_mut() {
                step.outputs.push(describe_output(&output));
            }
            self.carry_out(i, output);
        }
        if self.healed && self.processes[i].node.phase() == Phase::Left {
            // Healing puts every node in the group: one whose leave was under way when the
            // fault phase ended joins again once it has left (else a group whose every node
            // was leaving then stays empty).
            self.feed(i, Input::Join);
        }
    }

    pub(super) fn carry_out(&mut self, i: usize, output: Output) {
        match output {
            Output::Send { req, request } => {
                if self.current.is_some() {
                    self.hosts[i].sent.insert(req, request.clone());
                }
                self.send(i, req, request)
            }
            Output::SetTimer { kind, at } => {
                let h = &mut self.hosts[i];
                h.timer_gen[timer_index(kind)] += 1;
                let gen = h.timer_gen[timer_index(kind)];
                let at = h.clock.true_at(at.0, self.now);
                let inc = h.inc;
                self.push(
                    at,
                    Ev::Timer {
                        node: i,
                        inc,
                        kind,
                        gen,
                    },
                );
            }
            Output::CancelTimer(kind) => self.hosts[i].timer_gen[timer_index(kind)] += 1,
            Output::Start(r) => {
                let latency = self.rng.random_range(1..=100);
                let latency = self.taped(|s| s.app_site(i, true, &r), latency);
                self.app_command(i, AppCommand::Start(r), latency);
            }
            Output::Stop(r) => {
                let max = self.config.envelope.max_stop(&self.config.timing);
                let mut latency = self.rng.random_range(1..=max);
                latency = self.taped(|s| s.app_site(i, false, &r), latency);
                let stop = self.hosts[i].stops;
                self.hosts[i].stops += 1;
                let mut slow = None;
                if self.config.breach_assumptions && self.plan.has(FaultKind::Pause) {
                    if self.rng.random_bool(0.05) {
                        slow = Some(
                            self.rng
                                .random_range(max + 1..=4 * self.config.timing.stop_budget),
                        );
                    }
                    if let Some(script) = &self.script {
                        slow = script.slow_stops.get(&(i, stop)).copied();
                    }
                }
                if let Some(ms) = slow {
                    latency = ms;
                    self.record(Fault::SlowStop {
                        node: i,
                        n: stop,
                        ms,
                    });
                    self.breach(format!(
                        "{}'s application takes {latency} ms to stop {r} (limit {max} ms)",
                        SimConfig::node_id(i)
                    ));
                }
                self.app_command(i, AppCommand::Stop(r), latency);
            }
            Output::Log(_) => {}
        }
    }

    pub(super) fn app_command(&mut self, i: usize, command: AppCommand, latency: u64) {
        self.processes[i].app.pending.push_back(command);
        let h = &mut self.hosts[i];
        // Commands run concurrently (stopping everything takes one stop, not the sum of them),
        // but complete in the order given.
        h.app_free = h.app_free.max(self.now + latency);
        let (at, inc) = (h.app_free, h.inc);
        self.push(at, Ev::AppDone { node: i, inc });
    }

    pub(super) fn resume(&mut self, i: usize) {
        if !self.hosts[i].paused {
            return;
        }
        self.hosts[i].paused = false;
        for q in std::mem::take(&mut self.hosts[i].queue) {
            match q {
                Queued::Input(input) => self.feed(i, input),
                Queued::Timer(kind, gen) => {
                    if self.hosts[i].timer_gen[timer_index(kind)] == gen {
                        self.feed(i, Input::Timer(kind));
                    }
                }
            }
        }
    }

    pub(super) fn crash(&mut self, i: usize, down: u64) {
        self.label(SpecAction::Crash {
            node: SimConfig::node_id(i),
        });
        self.processes[i].up = false;
        self.processes[i].node = self.fresh_node(i);
        self.processes[i].app.crash();
        let h = &mut self.hosts[i];
        h.inc += 1;
        h.paused = false;
        h.queue.clear();
        h.outstanding.clear();
        h.sent.clear();
        h.settled.clear();
        h.conn += 1;
        // A new process opens new connections: nothing queues behind the old ones.
        h.last_request = self.now;
        h.last_reply = self.now;
        h.last_watch = self.now;
        let inc = h.inc;
        // The watch dies with the connection; requests already sent may still land.
        self.registry.break_watch(&SimConfig::node_id(i));
        self.push(self.now + down, Ev::Restart { node: i, inc });
    }
}
