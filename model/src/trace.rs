//! Counterexamples as readable traces: one line per step (who did what), and what changed.
//!
//! With symmetry reduction the checker's path holds canonical states, whose node names may be
//! permuted from one step to the next. The trace replays the path concretely instead: at each
//! step it takes the enabled action whose successor is the next canonical state up to renaming.

use crate::action::{Action, Pid};
use crate::state::{State, WatchMsg};
use crate::symmetry;
use crate::system::RebalanceModel;
use protocol::registry::Key;
use protocol::{Local, NodeId, Outcome, TimerKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One step of a trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// 1-based.
    pub n: usize,
    /// Who acts: `n1`, `registry`, `admin`, `app n1`, `fault`.
    pub actor: String,
    /// What it does.
    pub action: String,
    /// Whether this step is a fault (or an environment change).
    pub fault: bool,
    /// What kind of step it is, typed, so that a reader need not parse `action`.
    #[serde(default)]
    pub event: Event,
    /// The process it concerns (the sender of a request the registry handles, the node a
    /// fault strikes); `None` for the registry's own and the administrator's steps.
    #[serde(default)]
    pub node: Option<Pid>,
    /// What changed.
    pub changes: Vec<String>,
}

/// What kind of step a trace step is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The registry handles the node's request.
    Request,
    /// The node receives a reply or an outcome.
    Reply,
    /// The node receives a watch event, or learns that its watch stream broke.
    Watch,
    /// The node's application starts accessing a resource.
    Start,
    /// The node's application stops accessing one.
    Stop,
    /// The administrator adds or removes a resource.
    Admin,
    /// Anything else the node (or, without one, the registry) does or suffers.
    #[default]
    Other,
}

/// A counterexample (or example) path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The steps from the initial state.
    pub steps: Vec<Step>,
    /// The final state, summarised.
    pub last_state: Vec<String>,
}

/// Replay `actions` (as the checker found them, over canonical states) from `init` and render.
pub fn render(model: &RebalanceModel, states: &[State], actions: &[Action]) -> Trace {
    let mut concrete = states[0].clone();
    let mut steps = Vec::new();
    // The timed model shifts its clocks down as it goes; the trace counts from the start.
    let mut now = concrete.clock.as_ref().map_or(0, |c| c.now);
    for (i, action) in actions.iter().enumerate() {
        let target = &states[i + 1];
        let chosen = concrete_action(model, &concrete, action, target);
        let next = model.step_concrete(&concrete, &chosen);
        let action = match chosen {
            Action::Tick => {
                now += 1;
                tick(now, &concrete)
            }
            _ => describe(&chosen, &concrete),
        };
        steps.push(Step {
            n: i + 1,
            actor: actor(&chosen, &concrete),
            action,
            fault: chosen.is_fault(),
            event: event(&chosen, &concrete),
            node: chosen.pid(),
            changes: changes(&concrete, &next),
        });
        concrete = next;
    }
    Trace {
        steps,
        last_state: summary(&concrete),
    }
}

fn concrete_action(model: &RebalanceModel, s: &State, hint: &Action, target: &State) -> Action {
    let mut actions = Vec::new();
    model.enabled(s, &mut actions);
    let matches = |a: &Action| {
        let mut next = model.step_concrete(s, a);
        symmetry::canonicalize(&mut next);
        next == *target
    };
    if actions.contains(hint) && matches(hint) {
        return hint.clone();
    }
    actions
        .into_iter()
        .find(matches)
        .unwrap_or_else(|| hint.clone())
}

fn name(pid: u8) -> String {
    NodeId::numbered(pid.into()).to_string()
}

/// Who takes step `a`: a node, `registry`, `admin`, `app n1` or `fault`.
pub fn actor(a: &Action, _s: &State) -> String {
    match a {
        Action::Deliver(..) | Action::Expire { .. } => "registry".into(),
        Action::Fail(..)
        | Action::TimeOut(..)
        | Action::Duplicate(..)
        | Action::Delay(..)
        | Action::BreakWatch(_)
        | Action::Lapse(_)
        | Action::Heal(_)
        | Action::Hang(_)
        | Action::Crash(_) => "fault".into(),
        Action::Tick => "time".into(),
        Action::App(p) => format!("app {}", name(*p)),
        Action::AddResource(_) | Action::RemoveResource(_) => "admin".into(),
        Action::Reply(p, _)
        | Action::Watch(p)
        | Action::Timer(p, _)
        | Action::Restart(p)
        | Action::Leave(p)
        | Action::Join(p) => name(*p),
    }
}

/// The kind of step `a` is, read off the state it is taken in.
pub fn event(a: &Action, s: &State) -> Event {
    match a {
        Action::Deliver(..) => Event::Request,
        Action::Reply(..) => Event::Reply,
        // The reply that opens the stream is not one of its events.
        Action::Watch(p) => match s.channels[*p as usize].watch.front() {
            Some(WatchMsg::Reply(_)) => Event::Other,
            _ => Event::Watch,
        },
        Action::App(p) => match s.processes[*p as usize].app.pending.front() {
            Some(protocol::AppCommand::Start(_)) => Event::Start,
            Some(protocol::AppCommand::Stop(_)) => Event::Stop,
            None => Event::Other,
        },
        Action::AddResource(_) | Action::RemoveResource(_) => Event::Admin,
        _ => Event::Other,
    }
}

/// `REQUEST from NODE: RESPONSE` for the k-th request in flight from process `p`.
fn handled(s: &State, p: u8, k: u8) -> String {
    let (_, req, _) = &s.channels[p as usize].requests[k as usize];
    let mut reg = s.registry.clone();
    let (resp, _) = reg.handle(
        protocol::Time(s.clock.as_ref().map_or(0, |c| c.now)),
        &crate::ModelConfig::node_id(p as usize),
        req,
    );
    format!("{req} from {}: {resp}", name(p))
}

/// What an action does, in words, read off the state it is taken in.
pub fn describe(a: &Action, s: &State) -> String {
    match a {
        Action::Deliver(p, k) => format!("handles {}", handled(s, *p, *k)),
        Action::Fail(p, k, step) => {
            let (_, req, _) = &s.channels[*p as usize].requests[*k as usize];
            let applied = if step.applied() {
                "after the registry applied it"
            } else {
                "not applied"
            };
            format!(
                "{req} from {} fails at {step} ({applied}); the node will see {}",
                name(*p),
                step.outcome()
            )
        }
        Action::TimeOut(p, k) => {
            let (_, req, _) = &s.channels[*p as usize].requests[*k as usize];
            format!(
                "{} gives up waiting for {req} (it sees UNKNOWN); the request is still on its way",
                name(*p)
            )
        }
        Action::Duplicate(p, k) => format!(
            "handles {}; the network keeps a copy that may land again",
            handled(s, *p, *k)
        ),
        Action::Delay(p, k) => {
            let r = &s.channels[*p as usize].replies[*k as usize];
            format!(
                "the network delays the reply to {} ({}) up to the request time-out",
                name(*p),
                r.outcome
            )
        }
        Action::Reply(p, k) => {
            let r = &s.channels[*p as usize].replies[*k as usize];
            match &r.outcome {
                Outcome::Success(resp) => format!("receives the reply: {resp}"),
                other => format!("receives the outcome {other}"),
            }
        }
        Action::Watch(p) => match s.channels[*p as usize].watch.front() {
            Some(WatchMsg::Event(e)) => format!("receives watch event {e}"),
            Some(WatchMsg::Reply(r)) => match &r.outcome {
                Outcome::Success(resp) => format!("receives on its watch stream: {resp}"),
                other => format!("receives on its watch stream the outcome {other}"),
            },
            _ => "learns that its watch stream broke".into(),
        },
        Action::BreakWatch(p) => format!("the watch stream of {} breaks", name(*p)),
        Action::Timer(_, kind) => format!("its {kind} timer fires"),
        Action::Lapse(p) if s.clock.is_some() => format!(
            "the link from {} to the registry is cut: its requests fail until it heals",
            name(*p)
        ),
        Action::Heal(p) => format!("the link from {} to the registry heals", name(*p)),
        Action::Lapse(p) => {
            let lease = s.processes[*p as usize].node.lease();
            format!(
                "keep-alives of {} stop getting through: its self-fencing deadline for {} passes",
                name(*p),
                lease.map_or("-".into(), |l| l.to_string())
            )
        }
        Action::App(p) => match s.processes[*p as usize].app.pending.front() {
            Some(protocol::AppCommand::Start(r)) => format!("starts accessing {r}"),
            Some(protocol::AppCommand::Stop(r)) => format!("stops accessing {r}"),
            None => "idles".into(),
        },
        Action::Crash(p) => format!(
            "{} crashes: its application's access ends at once",
            name(*p)
        ),
        Action::Restart(_) => "restarts and joins again".into(),
        Action::Leave(_) => "is asked to leave the group".into(),
        Action::Join(_) => "is asked to join the group again".into(),
        Action::Expire { lease, breach } => {
            if *breach {
                let holders: Vec<String> = s
                    .processes
                    .iter()
                    .filter(|p| p.up && p.node.relies_on(*lease))
                    .map(|p| p.node.id().to_string())
                    .collect();
                format!(
                    "expires {lease} -- BREACHING the timing assumption: {} is paused past its \
                     self-fencing deadline and still relies on it",
                    holders.join(", ")
                )
            } else {
                format!("expires {lease}")
            }
        }
        Action::Tick => tick(s.clock.as_ref().map_or(0, |c| c.now) + 1, s),
        Action::Hang(p) => format!(
            "{} hangs -- BREACHING the timing assumption: a pause longer than the self-fencing \
             margin; its timers stop and its application keeps accessing",
            name(*p)
        ),
        Action::AddResource(i) => format!("adds resource r{}", i + 1),
        Action::RemoveResource(i) => format!("removes resource r{}", i + 1),
    }
}

/// A tick to true time `now`, with what each clock reads then.
fn tick(now: u64, s: &State) -> String {
    let clocks: Vec<String> = s
        .channels
        .iter()
        .enumerate()
        .map(|(i, ch)| {
            let drift = match ch.drift {
                d if d < 0 => "slow",
                0 => "exact",
                _ => "fast",
            };
            let reads = crate::clock::local(now, ch.drift);
            format!("{}'s {drift} clock reads {reads}", name(i as u8))
        })
        .collect();
    format!(
        "time moves on to {now}; {}; leases whose time has come expire",
        clocks.join(", ")
    )
}

fn local(l: Option<&Local>) -> String {
    match l {
        None => "-".into(),
        Some(Local::Acquiring) => "acquiring".into(),
        Some(Local::Starting(_)) => "starting".into(),
        Some(Local::Running(_)) => "running".into(),
        Some(Local::Stopping(_)) => "stopping".into(),
        Some(Local::Releasing(_)) => "releasing".into(),
    }
}

/// What differs between two states, in words.
pub fn changes(a: &State, b: &State) -> Vec<String> {
    let mut out = Vec::new();
    let keys: BTreeSet<&Key> = a
        .registry
        .keys()
        .map(|(k, _)| k)
        .chain(b.registry.keys().map(|(k, _)| k))
        .collect();
    for k in keys {
        match (a.registry.get(k), b.registry.get(k)) {
            (None, Some(kv)) => out.push(format!("registry: put {k}={}", kv.value)),
            (Some(x), Some(y)) if x != y => out.push(format!("registry: put {k}={}", y.value)),
            (Some(_), None) => out.push(format!("registry: deleted {k}")),
            _ => {}
        }
    }
    for (pa, pb) in a.processes.iter().zip(&b.processes) {
        let id = pb.node.id();
        if pa.up != pb.up {
            out.push(format!("{id}: {}", if pb.up { "up" } else { "down" }));
        }
        if pa.node.phase() != pb.node.phase() {
            out.push(format!(
                "{id}: {:?} -> {:?}",
                pa.node.phase(),
                pb.node.phase()
            ));
        }
        if pa.node.lease() != pb.node.lease() {
            let l = |x: Option<protocol::LeaseId>| x.map_or("none".to_string(), |l| l.to_string());
            out.push(format!(
                "{id}: lease {} -> {}",
                l(pa.node.lease()),
                l(pb.node.lease())
            ));
        }
        if pa.node.term() != pb.node.term() {
            match pb.node.term() {
                Some(t) => out.push(format!("{id}: leads in term {t}")),
                None => out.push(format!("{id}: no longer leads")),
            }
        }
        let rs: BTreeSet<_> = pa
            .node
            .resources()
            .keys()
            .chain(pb.node.resources().keys())
            .collect();
        for r in rs {
            let (x, y) = (pa.node.resources().get(r), pb.node.resources().get(r));
            if local(x) != local(y) {
                out.push(format!("{id}: {r} {} -> {}", local(x), local(y)));
            }
        }
        if pa.app.accessing != pb.app.accessing {
            let acc: Vec<String> = pb.app.accessing.iter().map(|r| r.to_string()).collect();
            out.push(format!("{id}: application accesses {{{}}}", acc.join(", ")));
        }
        if pb.app.pending.len() > pa.app.pending.len() {
            for c in pb.app.pending.iter().skip(pa.app.pending.len()) {
                let what = match c {
                    protocol::AppCommand::Start(r) => format!("start {r}"),
                    protocol::AppCommand::Stop(r) => format!("stop {r}"),
                };
                out.push(format!("{id}: tells its application to {what}"));
            }
        }
    }
    for (i, (ca, cb)) in a.channels.iter().zip(&b.channels).enumerate() {
        for (_, r, _) in &cb.requests {
            if !ca.requests.iter().any(|(_, x, _)| x == r) {
                out.push(format!("{}: sends {r}", NodeId::numbered(i)));
            }
        }
        if cb.timers.contains_key(&TimerKind::Fence) != ca.timers.contains_key(&TimerKind::Fence)
            && !cb.timers.contains_key(&TimerKind::Fence)
        {
            out.push(format!("{}: fence timer disarmed", NodeId::numbered(i)));
        }
    }
    out
}

/// The state in a few lines.
pub fn summary(s: &State) -> Vec<String> {
    let mut out = Vec::new();
    for p in &s.processes {
        let acc: Vec<String> = p.app.accessing.iter().map(|r| r.to_string()).collect();
        out.push(format!(
            "{}: {}, {:?}, lease {}, {}accessing {{{}}}",
            p.node.id(),
            if p.up { "up" } else { "down" },
            p.node.phase(),
            p.node.lease().map_or("none".into(), |l| l.to_string()),
            p.node
                .term()
                .map_or(String::new(), |t| format!("leader (term {t}), ")),
            acc.join(", ")
        ));
    }
    for (k, kv) in s.registry.keys() {
        out.push(format!(
            "registry {k} = {} (created @{})",
            kv.value, kv.create_rev
        ));
    }
    out
}
