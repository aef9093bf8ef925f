//! What a run shows besides its hash: the trace steps, the readable state, and with tracing
//! the spec actions each event amounts to (the TLA+ trace validation reads them).

use super::*;

pub(super) fn describe_output(o: &Output) -> String {
    match o {
        Output::Send { req, request } => format!("send #{req} {request}"),
        Output::SetTimer { kind, at } => format!("timer {kind} at {}", at.0),
        Output::CancelTimer(kind) => format!("cancel {kind}"),
        Output::Start(r) => format!("START {r}"),
        Output::Stop(r) => format!("STOP {r}"),
        Output::Log(e) => format!("({e})"),
    }
}

pub(super) fn describe_event(ev: &Ev) -> (&'static str, Option<usize>, String) {
    match ev {
        Ev::Start => ("start", None, "every node is asked to join".into()),
        Ev::Arrive(Arrival {
            node,
            req,
            request,
            fate,
            dup,
            ..
        }) => {
            let mut d = format!("registry gets #{req} {request}");
            if *dup {
                d.push_str(" (DUPLICATE)");
            }
            if let Fate::Fail(step) = fate {
                d.push_str(&format!(" [{step} fails]"));
            }
            ("arrive", Some(*node), d)
        }
        Ev::Reply {
            node, req, outcome, ..
        } => ("reply", Some(*node), format!("reply #{req}: {outcome}")),
        Ev::Timeout { node, req, .. } => {
            ("timeout", Some(*node), format!("#{req} timed out: UNKNOWN"))
        }
        Ev::Watch { node, event, .. } => ("watch", Some(*node), format!("watch {event}")),
        Ev::WatchBroken { node, .. } => ("watch-broken", Some(*node), "watch broke".into()),
        Ev::Timer { node, kind, .. } => ("timer", Some(*node), format!("{kind} timer")),
        Ev::AppDone { node, .. } => ("app", Some(*node), "application acts".into()),
        Ev::LeaseCheck => ("lease-check", None, "registry expires due leases".into()),
        Ev::Fault(p) => {
            let node = match &p.action {
                Action::Flap { node, .. }
                | Action::Crash { node, .. }
                | Action::Pause { node, .. }
                | Action::WatchBreak { node }
                | Action::Membership { node } => Some(*node),
                _ => None,
            };
            ("fault", node, format!("FAULT {}: {}", p.kind, p.action))
        }
        Ev::Uncut { nodes, .. } => {
            let names: Vec<String> = nodes
                .iter()
                .map(|i| SimConfig::node_id(*i).to_string())
                .collect();
            (
                "heal-link",
                None,
                format!("link of {} heals", names.join("+")),
            )
        }
        Ev::Flip { node, .. } => ("flap", Some(*node), "link flips".into()),
        Ev::Restart { node, .. } => ("restart", Some(*node), "process restarts".into()),
        Ev::Resume { node, .. } => ("resume", Some(*node), "process resumes".into()),
        Ev::RegistryUp => ("registry-up", None, "registry reachable again".into()),
        Ev::Heal => ("heal", None, "fault phase over: everything heals".into()),
        Ev::Deadline => ("deadline", None, "liveness bound reached".into()),
    }
}

impl<'c> Sim<'c> {
    /// With tracing, mark the current event as one that changed nothing (a timer re-armed
    /// since, a reply after its timeout, an event of a dead stream or process).
    /// The event is the simulator's own bookkeeping, which a real runtime cancels instead of
    /// delivering: a timer re-armed or dropped since, the time-out of a request already
    /// settled, the broken-stream notice of a dead process, a lease check with nothing due.
    /// It is not counted and not traced: a trace shows what happened.
    pub(super) fn cancelled(&mut self) {
        self.silent = true;
    }

    pub(super) fn no_effect(&mut self) {
        if let Some(step) = self.current.as_mut() {
            step.detail.push_str(" (no effect)");
        }
    }

    /// With tracing: the spec action for an awaited request's arrival.
    pub(super) fn settle(&mut self, node: usize, req: ReqId, what: SpecAction) {
        self.hosts[node].settled.insert(req);
        self.label(what);
    }

    /// With tracing: one more spec action for the current event.
    pub(super) fn label(&mut self, action: SpecAction) {
        if self.current.is_some() {
            self.spec_actions.push(action);
        }
    }

    /// With tracing, record the revisions committed since `before` outside a client request.
    pub(super) fn note_registry(&mut self, before: u64) {
        if let Some(step) = self.current.as_mut() {
            step.registry
                .extend(self.registry.history_since(before).cloned());
        }
    }

    /// With tracing: the spec action for node `i` taking `input` (in state `before`).
    pub(super) fn label_input(&mut self, i: usize, before: &Node, input: &Input) {
        let node = SimConfig::node_id(i);
        let after = &self.processes[i].node;
        let action = match input {
            Input::Join => match before.phase() {
                // The very first joins are the spec's initial state.
                Phase::Idle if self.step == 0 => return,
                Phase::Idle => SpecAction::Restart { node },
                Phase::Left => SpecAction::Join { node },
                _ => return,
            },
            Input::Leave if before.phase() == Phase::Member => SpecAction::Leave { node },
            Input::Leave => return,
            Input::Reply { req, outcome } => {
                if before.pending_request() == Some(*req) {
                    if !self.hosts[i].settled.remove(req) {
                        // Nothing of it reached the registry in the trace: failed before it was
                        // posted, or timed out (it may still land later).
                        let node = node.clone();
                        self.label(match outcome {
                            Outcome::PostFailed => SpecAction::Fail {
                                node,
                                step: FailureStep::PostRequest,
                            },
                            _ => SpecAction::TimeOut { node },
                        });
                    }
                    SpecAction::Reply { node }
                } else if before.lease().is_some() && after.lease().is_none() {
                    SpecAction::LeaseGone { node } // a keep-alive found the lease gone
                } else {
                    return;
                }
            }
            Input::Watch(event) => {
                // The node applies events only on its live stream (the core's watch guard).
                let live = before.watch_state() == protocol::node::WatchState::Live;
                if !live || before.view().rev == 0 || event.rev <= before.view().rev {
                    return;
                }
                SpecAction::WatchTo {
                    node,
                    rev: event.rev,
                }
            }
            // A stream can break twice before the client notices: the second changes nothing.
            Input::WatchBroken if before == after => return,
            Input::WatchBroken => SpecAction::BreakWatch { node },
            Input::Timer(TimerKind::Fence) | Input::Fence if before.lease().is_some() => {
                SpecAction::Lapse { node }
            }
            Input::Fence => return,
            Input::Timer(TimerKind::RebalanceHold) if before.holding() => {
                SpecAction::HoldOver { node }
            }
            Input::Timer(TimerKind::Retry) if before.backing_off() => SpecAction::Retry { node },
            Input::Timer(_) => return,
            Input::Started(r) | Input::Stopped(r) => SpecAction::App {
                node,
                resource: r.clone(),
            },
        };
        self.label(action);
    }

    /// The group, readably: each node, then the registry's keys.
    pub fn describe_state(&self) -> String {
        let mut lines = Vec::new();
        for (i, p) in self.processes.iter().enumerate() {
            let s = self.node_state(i);
            lines.push(format!(
                "  {}: {} {}{} lease {:?} term {:?} view@{} applied {:?} resources {:?} accessing {:?}",
                s.node,
                if p.up { "up" } else { "DOWN" },
                if s.paused { "PAUSED " } else { "" },
                s.phase,
                s.lease,
                s.term,
                s.view_rev,
                s.applied,
                s.resources,
                s.accessing
            ));
        }
        lines.push(format!("  registry @{}:", self.registry.revision()));
        for (k, kv) in self.registry.keys() {
            lines.push(format!("    {k} = {} (lease {:?})", kv.value, kv.lease));
        }
        lines.join("\n")
    }

    pub(super) fn node_state(&self, i: usize) -> NodeState {
        let p = &self.processes[i];
        NodeState {
            node: p.node.id().to_string(),
            up: p.up,
            paused: self.hosts[i].paused,
            phase: format!("{:?}", p.node.phase()),
            lease: p.node.lease().map(|l| l.0),
            term: p.node.term(),
            view_rev: p.node.view().rev,
            applied: p.node.applied(),
            resources: p
                .node
                .resources()
                .iter()
                .map(|(r, l)| (r.to_string(), format!("{l:?}")))
                .collect(),
            accessing: p.app.accessing.iter().map(|r| r.to_string()).collect(),
        }
    }

    /// With tracing: the group as the spec trace records it (`tla::spec` reads it in the spec's
    /// variables).
    pub(super) fn snapshot(&self) -> Snapshot {
        let nodes = self
            .processes
            .iter()
            .enumerate()
            .map(|(i, p)| SnapshotNode {
                process: p.clone(),
                request: p
                    .node
                    .pending_request()
                    .and_then(|r| self.hosts[i].sent.get(&r))
                    .cloned(),
            });
        Snapshot {
            registry: self.registry.without_history(),
            nodes: nodes.collect(),
            resources: (0..self.config.universe())
                .map(SimConfig::resource_id)
                .collect(),
        }
    }

    /// What kind of step `ev` is, for the trace; an application's step is typed when it acts.
    fn flow(&self, ev: &Ev) -> Flow {
        let keep_alive = |node: usize, req: &ReqId| {
            matches!(
                self.hosts[node].sent.get(req),
                Some(Request::KeepAlive { .. })
            )
        };
        let name = |i: &usize| SimConfig::node_id(*i).to_string();
        match ev {
            Ev::Arrive(a) => Flow::Request {
                keep_alive: matches!(a.request, Request::KeepAlive { .. }),
            },
            Ev::Reply { node, req, .. } | Ev::Timeout { node, req, .. } => Flow::Outcome {
                keep_alive: keep_alive(*node, req),
            },
            Ev::Watch { .. } | Ev::WatchBroken { .. } => Flow::Watch,
            Ev::Timer { kind, .. } => Flow::Timer {
                keep_alive: *kind == TimerKind::KeepAlive,
            },
            Ev::Fault(p) => match &p.action {
                Action::Admin { .. } => Flow::Admin,
                Action::Cut { nodes, .. } => Flow::Fault {
                    nodes: nodes.iter().map(name).collect(),
                },
                Action::Flap { node, .. }
                | Action::Crash { node, .. }
                | Action::Pause { node, .. }
                | Action::WatchBreak { node }
                | Action::Membership { node } => Flow::Fault {
                    nodes: vec![name(node)],
                },
                Action::RegistryRestart { .. } | Action::Compaction { .. } => {
                    Flow::Fault { nodes: Vec::new() }
                }
            },
            Ev::Flip { node, .. } => Flow::Fault {
                nodes: vec![name(node)],
            },
            _ => Flow::Other,
        }
    }

    pub(super) fn begin_step(&self, ev: &Ev) -> TraceStep {
        let (event, node, detail) = describe_event(ev);
        TraceStep {
            step: self.step,
            time_ms: self.now,
            event,
            node: node.map(|i| SimConfig::node_id(i).to_string()),
            flow: self.flow(ev),
            detail,
            outputs: Vec::new(),
            registry: Vec::new(),
            state: None,
            violations: Vec::new(),
            spec: None,
        }
    }

    pub(super) fn end_step(&mut self, mut step: TraceStep) -> TraceStep {
        if step.step == 0 || !self.spec_actions.is_empty() {
            step.spec = Some(SpecStep {
                actions: std::mem::take(&mut self.spec_actions),
                state: self.snapshot(),
            });
        }
        if let Some(name) = &step.node {
            if let Some(i) = node_index(&protocol::NodeId::new(name), self.config.nodes) {
                step.state = Some(self.node_state(i));
            }
        }
        step
    }
}
