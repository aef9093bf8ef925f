//! Counterexample replay: a TLC counterexample mapped back onto the Rust model and replayed
//! through the protocol core, which must reach the same violation
//! (`rebalanser tla --mutant MN --replay`, and the cross-check's replay column).
//!
//! The spec and the model take steps of nearly the same size, but not always the same: the
//! spec's `Watch` brings a view up to date at once where the model delivers one watch event a
//! step; `LeaseGone` is the model's keep-alive timer, the keep-alive and its answer;
//! `BreakWatch` is the break and the node reading it. So each TLC step is matched by the
//! shortest run of model steps (one step of anything, then more steps of the same process)
//! whose state, projected into the spec's variables, equals TLC's next state; where several
//! runs match, the replay backtracks. TLC's action names are not used to match (TLC often
//! names only the enclosing disjunct, `Progress`).
//!
//! Where the spec takes two steps for one of the model's, the replay takes the model's in two
//! halves ([`Move`]): the spec's `TimeOut` (the request times out on its way) and `Reply` (the
//! node reads UNKNOWN) are the model's `TimeOut`; the spec's `Duplicate` (the network copies
//! the request) and `Deliver` are the model's `Duplicate`. Between the halves the projection
//! shows the spec's state in between (the answer UNKNOWN not yet read; the copy on the wire,
//! the registry not yet reached), and only other processes and the registry may step. A settled start is reached from the joining
//! state by fault-free steps. At the end the core must violate the property TLC names: an
//! invariant judged on the last state or, for a temporal property, no fault-free continuation
//! from the last state reaches a state where it holds (the model checker's own criterion,
//! `model::liveness`).
//!
//! The projection compares every spec variable the core has: the registry (but its lease
//! counter), each node's record (but the revision its hold began at), the request in flight
//! with whether it was answered and how, the application's pending commands, what it
//! accesses, the requests nobody waits for, lapsed leases, fault budgets and the write
//! properties.

use crate::spec;
use crate::tlc::{self, TlaState, TlcJob};
use crate::value::{canonical, parse_state, parse_value};
use model::state::{WatchMsg, ORPHAN};
use model::{Action, ModelConfig, Pid, RebalanceModel, Start, State};
use protocol::{AppCommand, Mutant, NodeId, Property, Request, ResourceId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

/// Longest run of model steps one TLC step may stand for.
const MAX_RUN: usize = 6;
/// Model states the whole replay may visit before it gives up.
const SEARCH_BUDGET: usize = 2_000_000;

/// A model state and, per process, the request its node waits for (the model keeps a request
/// only until the registry takes it; the spec keeps it until the answer is read), and the
/// first half of a model step it is in the middle of.
#[derive(Clone, Debug, Hash)]
struct Point {
    state: State,
    inflight: Vec<Option<Request>>,
    half: Vec<Option<Half>>,
}

/// The first half of a model step the spec takes in two.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Half {
    /// The spec's `TimeOut`: the request timed out on its way, the node has not read UNKNOWN
    /// yet (the model's `TimeOut` is the second half, the spec's `Reply`).
    GaveUp,
    /// The spec's `Duplicate`: a copy of the request is on the wire, the request has not
    /// reached the registry yet (the model's `Duplicate` is the second half, the spec's
    /// `Deliver`).
    Copied,
}

/// One replay step: a model action, or the first half of one ([`Half`]) of process `pid`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Move {
    Model(Action),
    First(Pid, Half),
}

impl Move {
    fn pid(&self) -> Option<Pid> {
        match self {
            Move::Model(a) => a.pid(),
            Move::First(p, _) => Some(*p),
        }
    }
}

/// The index on process `i`'s wire of the request its node waits for, if it is still on its
/// way (not a watch: a watch given up on is cancelled with its stream, and the network does
/// not copy one).
fn live_request(s: &State, i: usize) -> Option<u8> {
    let id = s.processes[i].node.pending_request()?;
    let k = s.channels[i]
        .requests
        .iter()
        .position(|(r, _, _)| *r == id)?;
    let watch = matches!(s.channels[i].requests[k].1, Request::Watch { .. });
    (!watch).then_some(k as u8)
}

/// The half a model action completes: `TimeOut` and `Duplicate` of a request its node waits
/// for (of a request nobody waits for, `Duplicate` is the spec's `DeliverOrphanKeep`, whole).
fn second_half(s: &State, a: &Action) -> Option<(Pid, Half)> {
    match *a {
        Action::TimeOut(p, k) if live_request(s, p as usize) == Some(k) => Some((p, Half::GaveUp)),
        Action::Duplicate(p, k) if live_request(s, p as usize) == Some(k) => {
            Some((p, Half::Copied))
        }
        _ => None,
    }
}

impl Point {
    fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }
}

/// One TLC state and the model steps that stand for it.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ReplayStep {
    /// The counterexample's state number (1: the initial state).
    pub tlc_state: usize,
    /// The action TLC names for it.
    pub tlc_action: String,
    /// The model steps, described (`actor: what`).
    pub core: Vec<String>,
}

/// Where the replay could not follow TLC.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Divergence {
    /// The counterexample state the core could not reach (past the last: the core reached the
    /// end without the violation).
    pub tlc_state: usize,
    /// The action TLC names for it.
    pub tlc_action: String,
    /// What is wrong, in words.
    pub why: String,
    /// Where the closest the core came differs from TLC's state (`path: TLC x, core y`).
    pub differences: Vec<String>,
}

/// The outcome of a replay.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Replayed {
    /// Whether the core reached the violation TLC reports.
    pub reproduced: bool,
    /// The property.
    pub property: String,
    /// The core's own explanation of the violation.
    pub core_says: Option<String>,
    /// The steps, TLC state by TLC state.
    pub steps: Vec<ReplayStep>,
    /// Model steps in all (the settling of a settled start included).
    pub core_steps: usize,
    /// Model states the search visited.
    pub searched: usize,
    /// Where it went wrong, if it did.
    pub divergence: Option<Divergence>,
}

/// What a configuration gives the replay.
struct Setup {
    model: RebalanceModel,
    nodes: Vec<NodeId>,
    resources: Vec<ResourceId>,
    /// The spec's `MaxLate`: one budget for timeouts of requests on their way and copies;
    /// the model has one of each this size.
    max_late: u8,
}

/// The configuration's constants, by name.
fn constants(cfg: &str) -> Result<BTreeMap<String, Json>, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in cfg.lines() {
        let t = line.split("\\*").next().unwrap_or("").trim();
        if t.is_empty() {
            continue;
        }
        let word = t.split_whitespace().next().unwrap_or("");
        if !t.contains('=') && word.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            inside = word == "CONSTANTS" || word == "CONSTANT";
            continue;
        }
        if inside && !t.contains("<-") {
            let (name, value) = t
                .split_once('=')
                .ok_or_else(|| format!("configuration: '{t}' is not `Name = value`"))?;
            let v = parse_value(value.trim())
                .map_err(|e| format!("configuration, constant {}: {e}", name.trim()))?;
            out.insert(name.trim().to_string(), v);
        }
    }
    Ok(out)
}

fn names(v: &Json) -> Vec<String> {
    let mut out: Vec<String> = v["$set"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|n| (n.len(), n.clone()));
    out
}

/// The model of what a TLC configuration describes, or why the model cannot express it.
fn setup(cfg: &str, mutant: Option<Mutant>) -> Result<Setup, String> {
    let c = constants(cfg)?;
    let get = |name: &str| {
        c.get(name)
            .ok_or_else(|| format!("configuration: no constant {name}"))
    };
    let count = |name: &str| -> Result<u8, String> {
        get(name)?
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| format!("configuration: {name} is not a small number"))
    };
    let flag = |name: &str| -> Result<bool, String> {
        get(name)?
            .as_bool()
            .ok_or_else(|| format!("configuration: {name} is not TRUE or FALSE"))
    };
    let cannot = |why: String| format!("the Rust model cannot replay this configuration: {why}");
    let max_late = count("MaxLate")?;
    if count("MaxWatchBreaks")? > 0 {
        return Err(cannot(
            "MaxWatchBreaks > 0 (the spec's compacted watch has no model step)".into(),
        ));
    }
    let nodes = names(get("Nodes")?);
    let initial = names(get("InitialRes")?);
    let all = names(get("Res")?);
    let admin_changes = count("MaxAdmin")?;
    let expect = |prefix: &str, n: usize| -> Vec<String> {
        (1..=n).map(|i| format!("{prefix}{i}")).collect()
    };
    if nodes != expect("n", nodes.len()) || nodes.is_empty() {
        return Err(cannot(format!("Nodes must be n1..nK, not {nodes:?}")));
    }
    if initial != expect("r", initial.len()) {
        return Err(cannot(format!(
            "InitialRes must be r1..rK, not {initial:?}"
        )));
    }
    // The model's admin may add one spare; the spec's may have none (then the model's extra
    // choice is simply never taken).
    let universe = initial.len() + usize::from(admin_changes > 0);
    if all != expect("r", universe) && all != initial {
        return Err(cannot(format!(
            "Res must be InitialRes, or with admin changes one spare more (r1..r{universe}), \
             not {all:?}"
        )));
    }
    // Either start is reached from the joining state (a settled one by fault-free steps).
    match get("Start")?.as_str() {
        Some("settled" | "joining") => {}
        other => return Err(format!("configuration: Start = {other:?}")),
    }
    let config = ModelConfig {
        nodes: nodes.len(),
        resources: initial.len(),
        crashes: count("MaxCrashes")?,
        rpc_faults: count("MaxRpcFaults")?,
        expiries: count("MaxExpiries")?,
        admin_changes,
        watch_breaks: 0,
        membership_changes: count("MaxMembership")?,
        // The spec's one budget bounds both; the projection compares what is left of it.
        late: max_late,
        duplicates: max_late,
        delays: 0,
        // Node names must stay as TLC has them.
        symmetry: false,
        timing_assumption: flag("TimingAssumption")?,
        mutant,
        start: Start::Joining,
        timed: false,
    };
    config.validate().map_err(cannot)?;
    Ok(Setup {
        model: RebalanceModel::new(config).without_latches(),
        nodes: (0..nodes.len()).map(ModelConfig::node_id).collect(),
        resources: (0..all.len()).map(ModelConfig::resource_id).collect(),
        max_late,
    })
}

/// The application's pending commands for `r` as the spec's `appq` entry.
fn pending(cmds: &VecDeque<AppCommand>, r: &ResourceId) -> Json {
    let kinds: Vec<&str> = cmds
        .iter()
        .filter_map(|c| match c {
            AppCommand::Start(x) if x == r => Some("start"),
            AppCommand::Stop(x) if x == r => Some("stop"),
            _ => None,
        })
        .collect();
    match kinds.as_slice() {
        [] => Json::Null,
        // The spec folds a start and the stop after it into one command.
        _ => json!(kinds.concat()),
    }
}

impl Setup {
    fn start(&self) -> Point {
        let state = self.model.initial();
        let inflight = self.track(&state, &vec![None; self.nodes.len()]);
        Point {
            state,
            inflight,
            half: vec![None; self.nodes.len()],
        }
    }

    /// The request each node waits for: the one on the wire with its id, else the one it
    /// waited for before (the registry has taken it).
    fn track(&self, s: &State, before: &[Option<Request>]) -> Vec<Option<Request>> {
        s.processes
            .iter()
            .zip(&s.channels)
            .zip(before)
            .map(|((p, ch), old)| {
                let id = p.node.pending_request()?;
                ch.requests
                    .iter()
                    .find(|(r, _, _)| *r == id)
                    .map(|(_, q, _)| q.clone())
                    .or_else(|| old.clone())
            })
            .collect()
    }

    fn step(&self, from: &Point, m: &Move) -> Point {
        match m {
            Move::Model(a) => {
                let mut half = from.half.clone();
                if let Some((p, _)) = second_half(&from.state, a) {
                    half[p as usize] = None;
                }
                let state = self.model.step_concrete(&from.state, a);
                let inflight = self.track(&state, &from.inflight);
                Point {
                    state,
                    inflight,
                    half,
                }
            }
            Move::First(p, h) => {
                let mut next = from.clone();
                next.half[*p as usize] = Some(*h);
                next
            }
        }
    }

    /// What is left of the spec's `MaxLate` budget: the model's two budgets' use, and the
    /// first halves taken (their model steps not yet).
    fn late_left(&self, p: &Point) -> i64 {
        let b = &p.state.budget;
        let m = i64::from(self.max_late);
        let halves = p.half.iter().flatten().count() as i64;
        m - (m - i64::from(b.late)) - (m - i64::from(b.duplicates)) - halves
    }

    /// The first halves process `i` may take at `p`.
    fn first_halves(&self, p: &Point, i: usize) -> Vec<Half> {
        let b = &p.state.budget;
        if p.half[i].is_some() || live_request(&p.state, i).is_none() || self.late_left(p) <= 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        if b.late > 0 {
            out.push(Half::GaveUp);
        }
        if b.duplicates > 0 {
            out.push(Half::Copied);
        }
        out
    }

    /// The description of a move at `p`: who, and what.
    fn describe(&self, m: &Move, p: &Point) -> String {
        let s = &p.state;
        match m {
            // The second half of a timeout: the node reads it.
            Move::Model(a @ Action::TimeOut(pid, k))
                if second_half(s, a) == Some((*pid, Half::GaveUp)) =>
            {
                let req = &s.channels[*pid as usize].requests[*k as usize].1;
                let n = &self.nodes[*pid as usize].0;
                format!("{n}: sees UNKNOWN: it gave up waiting for {req}, still on its way")
            }
            Move::Model(a) => format!(
                "{}: {}",
                model::trace::actor(a, s),
                model::trace::describe(a, s)
            ),
            Move::First(pid, h) => {
                let i = *pid as usize;
                let req = live_request(s, i)
                    .map(|k| s.channels[i].requests[k as usize].1.to_string())
                    .unwrap_or_default();
                let n = &self.nodes[i].0;
                match h {
                    Half::GaveUp => format!(
                        "fault: {n}'s wait for {req} times out while it is still on its way \
                         ({n} reads UNKNOWN next)"
                    ),
                    Half::Copied => format!(
                        "fault: the network copies {req} from {n} (the registry takes it next; \
                         the copy may land later)"
                    ),
                }
            }
        }
    }

    fn function<'a>(&self, ids: impl Iterator<Item = &'a str>, f: impl Fn(usize) -> Json) -> Json {
        spec::function(ids.enumerate().map(|(i, id)| (json!(id), f(i))))
    }

    /// The model state in the spec's variables (see the module's docs for what is left out).
    fn project(&self, p: &Point) -> Json {
        let s = &p.state;
        let node_ids = || self.nodes.iter().map(|n| n.0.as_str());
        let res_ids = || self.resources.iter().map(|r| r.0.as_str());
        let mut reg = spec::registry(&s.registry, &self.nodes, &self.resources);
        reg["watchers"] = spec::set(
            self.nodes
                .iter()
                .filter(|n| s.registry.is_watching(n))
                .map(|n| json!(n.0)),
        );
        let nd = self.function(node_ids(), |i| {
            let proc = &s.processes[i];
            let node = &proc.node;
            let req = match (node.pending_request(), &p.inflight[i]) {
                // Timed out on its way, the UNKNOWN not read yet.
                (Some(_), Some(request)) if p.half[i] == Some(Half::GaveUp) => json!({
                    "op": spec::request(request),
                    "st": "replied",
                    "out": { "k": "UNKNOWN" },
                }),
                (Some(id), Some(request)) => {
                    // A watch is answered on its stream, ahead of its events.
                    let answer = s.channels[i]
                        .replies
                        .iter()
                        .chain(s.channels[i].watch.iter().filter_map(|m| match m {
                            WatchMsg::Reply(r) => Some(r),
                            _ => None,
                        }))
                        .find(|r| r.req == id);
                    json!({
                        "op": spec::request(request),
                        "st": if answer.is_some() { "replied" } else { "sent" },
                        "out": answer.and_then(|r| spec::outcome(&r.outcome)),
                    })
                }
                _ => Json::Null,
            };
            let loc = self.function(res_ids(), |k| {
                node.resources()
                    .get(&self.resources[k])
                    .map_or(Json::Null, spec::local)
            });
            json!({
                "ph": spec::phase(node.phase()),
                "l": node.lease().map_or(0, |l| l.0),
                "view": spec::view(node.view(), &self.nodes, &self.resources),
                "synced": node.synced(),
                "watch": node.watch_state() == protocol::node::WatchState::Live,
                "wr": node.wait_rev(),
                "term": node.term().unwrap_or(0),
                "backoff": node.backing_off(),
                "hold": node.holding(),
                "loc": loc,
                "req": req,
            })
        });
        let appq = self.function(node_ids(), |i| {
            self.function(res_ids(), |k| {
                pending(&s.processes[i].app.pending, &self.resources[k])
            })
        });
        let access = self.function(node_ids(), |i| {
            spec::set(s.processes[i].app.accessing.iter().map(|r| json!(r.0)))
        });
        let up = self.function(node_ids(), |i| json!(s.processes[i].up));
        let mut wire: BTreeMap<String, (Json, u64)> = BTreeMap::new();
        for (i, ch) in s.channels.iter().enumerate() {
            // A first half puts the request (or its copy) on the spec's wire.
            let halved = p.half[i]
                .and(live_request(s, i))
                .map(|k| &ch.requests[k as usize]);
            let orphans = ch.requests.iter().filter(|(id, _, _)| *id == ORPHAN);
            for (_, request, _) in orphans.chain(halved) {
                if let Some(op) = spec::request(request) {
                    let w = json!({ "n": self.nodes[i].0, "op": op });
                    wire.entry(w.to_string()).or_insert((w, 0)).1 += 1;
                }
            }
        }
        let b = &s.budget;
        let violated = |p: Property| s.violations.iter().any(|(v, _)| *v == p);
        canonical(&json!({
            "reg": reg,
            "nd": nd,
            "appq": appq,
            "access": access,
            "up": up,
            "wire": spec::function(wire.into_values().map(|(w, n)| (w, json!(n)))),
            "lapsed": spec::set(s.lapsed.iter().map(|l| json!(l.0))),
            "budget": {
                "crashes": b.crashes, "rpc": b.rpc_faults, "expiries": b.expiries,
                "admin": b.admin_changes, "membership": b.membership_changes,
                "watch": b.watch_breaks, "late": self.late_left(p),
            },
            "writes": {
                "fenced": !violated(Property::FencedWrites),
                "well": !violated(Property::AssignmentWellFormed),
                "sticky": !violated(Property::StickyAssignment),
            },
        }))
    }

    /// A successor worth following from `from`: a step of anything, or (`pid`) of one process.
    /// A process in the middle of a model step ([`Half`]) takes only its second half; a
    /// `TimeOut` or `Duplicate` of a request its node waits for comes only as a second half.
    /// The second half is the spec's `Reply` or `Deliver`, so fault-free runs take it too.
    fn successors(
        &self,
        from: &Point,
        pid: Option<Option<Pid>>,
        fault_free: bool,
    ) -> Vec<(Move, Point)> {
        let wanted = |p: Option<Pid>| match pid {
            None => true,
            Some(None) => false,
            Some(Some(q)) => p == Some(q),
        };
        let mut actions = Vec::new();
        self.model.enabled(&from.state, &mut actions);
        let mut moves: Vec<Move> = actions
            .into_iter()
            .filter(|a| wanted(a.pid()))
            .filter(|a| match (second_half(&from.state, a), a.pid()) {
                (Some((p, h)), _) => from.half[p as usize] == Some(h),
                (None, Some(p)) if from.half[p as usize].is_some() => false,
                (None, _) => !fault_free || !a.is_fault(),
            })
            .map(Move::Model)
            .collect();
        if !fault_free {
            for i in 0..self.nodes.len() {
                if wanted(Some(i as Pid)) {
                    let halves = self.first_halves(from, i);
                    moves.extend(halves.into_iter().map(|h| Move::First(i as Pid, h)));
                }
            }
        }
        moves
            .into_iter()
            .map(|m| {
                let next = self.step(from, &m);
                (m, next)
            })
            .collect()
    }
}

/// TLC's state in the same terms as [`Setup::project`].
fn expected(state: &TlaState) -> Result<Json, String> {
    let mut v = parse_state(&state.state)?;
    let obj = v
        .as_object_mut()
        .ok_or("a TLC state is not a record of variables")?;
    for var in VARIABLES {
        if !obj.contains_key(var) {
            return Err(format!("the TLC state has no variable {var}"));
        }
    }
    obj.retain(|k, _| VARIABLES.contains(&k.as_str()));
    if let Some(reg) = obj.get_mut("reg").and_then(Json::as_object_mut) {
        reg.remove("next");
    }
    if let Some(pairs) = obj
        .get_mut("nd")
        .and_then(|nd| nd.get_mut("$fn"))
        .and_then(Json::as_array_mut)
    {
        for pair in pairs {
            if let Some(rec) = pair.get_mut(1).and_then(Json::as_object_mut) {
                rec.remove("hr");
                if let Some(Json::Object(req)) = rec.get_mut("req") {
                    if let Some(Json::Object(out)) = req.get_mut("out") {
                        // The spec's answer carries its data; the comparison needs its kind.
                        out.retain(|k, _| k == "k" || k == "ok");
                    }
                }
            }
        }
    }
    Ok(canonical(&v))
}

/// Where `a` (TLC) and `b` (the core) differ, as `path: TLC x, core y` lines.
fn differences(path: &str, a: &Json, b: &Json, out: &mut Vec<String>) {
    if a == b || out.len() >= 12 {
        return;
    }
    let pairs = |v: &Json| -> Option<BTreeMap<String, Json>> {
        let items = v.get("$fn")?.as_array()?;
        Some(
            items
                .iter()
                .map(|p| {
                    let k = &p[0];
                    (
                        k.as_str().map_or_else(|| k.to_string(), str::to_string),
                        p[1].clone(),
                    )
                })
                .collect(),
        )
    };
    match (a, b) {
        (Json::Object(x), Json::Object(y)) if !x.contains_key("$set") && !x.contains_key("$fn") => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let null = Json::Null;
                differences(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        _ => match (pairs(a), pairs(b)) {
            (Some(x), Some(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let null = Json::Null;
                    differences(
                        &format!("{path}[{k}]"),
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            _ => out.push(format!(
                "{}: TLC {}, core {}",
                path.trim_start_matches('.'),
                brief(a),
                brief(b)
            )),
        },
    }
}

fn brief(v: &Json) -> String {
    match v {
        Json::Null => "NONE".into(),
        Json::Object(m) if m.len() == 1 && m.contains_key("$set") => {
            let items: Vec<String> = m["$set"]
                .as_array()
                .map(|a| a.iter().map(brief).collect())
                .unwrap_or_default();
            format!("{{{}}}", items.join(", "))
        }
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A match for one TLC step: the model steps and where they lead.
type Run = (Vec<Move>, Point);

struct Search<'a> {
    setup: &'a Setup,
    visited: usize,
    /// For the initial state: the reachable state that differs from it least, and how.
    closest: Option<(Vec<String>, Point)>,
}

/// How far a replay got, when it got stuck.
struct Stuck {
    at: usize,
    from: Box<Point>,
    why: String,
}

impl Search<'_> {
    /// The shortest runs from `from` that end in a state projecting to `target`: the first
    /// step anything (fault-free only for a settled start), the rest of the same process.
    fn runs(&mut self, from: &Point, target: &Json, init: bool) -> Vec<Run> {
        if init && self.setup.project(from) == *target {
            return vec![(Vec::new(), from.clone())];
        }
        let max = if init { usize::MAX } else { MAX_RUN };
        let mut seen: HashSet<u64> = HashSet::new();
        seen.insert(from.fingerprint());
        let mut frontier: Vec<(Vec<Move>, Point)> = vec![(Vec::new(), from.clone())];
        let mut depth = 0;
        while !frontier.is_empty() && depth < max && self.visited < SEARCH_BUDGET {
            depth += 1;
            let mut found = Vec::new();
            let mut next = Vec::new();
            for (path, point) in &frontier {
                let pid = if init || path.is_empty() {
                    None
                } else {
                    Some(path[0].pid())
                };
                for (a, p) in self.setup.successors(point, pid, init) {
                    if !seen.insert(p.fingerprint()) {
                        continue;
                    }
                    self.visited += 1;
                    let mut run = path.clone();
                    run.push(a);
                    let projected = self.setup.project(&p);
                    if projected == *target {
                        found.push((run, p));
                        continue;
                    }
                    if init {
                        let mut d = Vec::new();
                        differences("", target, &projected, &mut d);
                        if self.closest.as_ref().is_none_or(|(c, _)| d.len() < c.len()) {
                            self.closest = Some((d, p.clone()));
                        }
                    }
                    next.push((run, p));
                }
            }
            if !found.is_empty() {
                return found;
            }
            frontier = next;
        }
        Vec::new()
    }

    /// Follow the TLC states from `k` on, backtracking over the runs that match each one; at
    /// the end, `violated` must hold.
    fn follow(
        &mut self,
        k: usize,
        from: Point,
        targets: &[Json],
        violated: &dyn Fn(&Setup, &Point) -> Result<String, String>,
    ) -> Result<(Vec<Run>, String), Stuck> {
        if k == targets.len() {
            return match violated(self.setup, &from) {
                Ok(why) => Ok((Vec::new(), why)),
                Err(why) => Err(Stuck {
                    at: k,
                    from: Box::new(from),
                    why,
                }),
            };
        }
        let runs = self.runs(&from, &targets[k], k == 0);
        let mut deepest = Stuck {
            at: k,
            from: Box::new(from.clone()),
            why: if self.visited >= SEARCH_BUDGET {
                format!("the search budget ({SEARCH_BUDGET} model states) ran out")
            } else if k == 0 {
                "no fault-free run of the core from the joining state reaches TLC's initial state"
                    .into()
            } else {
                format!("no run of at most {MAX_RUN} core steps reaches this state")
            },
        };
        for run in runs {
            match self.follow(k + 1, run.1.clone(), targets, violated) {
                Ok((mut rest, why)) => {
                    rest.insert(0, run);
                    return Ok((rest, why));
                }
                Err(stuck) if stuck.at > deepest.at => deepest = stuck,
                Err(_) => {}
            }
        }
        Err(deepest)
    }
}

/// Whether the core violates `property` at `p`: `Ok(its explanation)` or `Err(why not)`.
fn judge(setup: &Setup, p: &Point, property: &str) -> Result<String, String> {
    let names: Vec<&str> = property.split(" or ").collect();
    let mut why_not = Vec::new();
    for name in &names {
        let Some(prop) = Property::from_name(name) else {
            return Err(format!("the core has no property named {name}"));
        };
        if prop.kind() == protocol::properties::Kind::Always {
            match model::properties::explain(&p.state, prop) {
                Some(why) => return Ok(why),
                None => why_not.push(format!("{name} holds in the core's state")),
            }
            continue;
        }
        let Some((_, good)) = model::liveness::EVENTUALLY.iter().find(|(e, _)| *e == prop) else {
            return Err(format!("the core cannot judge {name}"));
        };
        match fault_free_reach(setup, p, *good) {
            Reach::Never(states) => {
                return Ok(format!(
                    "no fault-free continuation reaches a state where {name} holds \
                     ({states} state{} explored)",
                    if states == 1 { "" } else { "s" }
                ))
            }
            Reach::Reaches(steps) => why_not.push(format!(
                "{name}: the core reaches a state where it holds in {steps} fault-free steps"
            )),
            Reach::TooBig => why_not.push(format!("{name}: too many states to decide")),
        }
    }
    Err(why_not.join("; "))
}

enum Reach {
    Never(usize),
    Reaches(usize),
    TooBig,
}

/// Whether fault-free steps from `p` reach a state where `good` holds.
fn fault_free_reach(setup: &Setup, p: &Point, good: fn(&State) -> bool) -> Reach {
    let mut seen: HashSet<u64> = HashSet::new();
    let mut queue = VecDeque::from([(p.clone(), 0usize)]);
    seen.insert(p.fingerprint());
    while let Some((q, d)) = queue.pop_front() {
        if good(&q.state) {
            return Reach::Reaches(d);
        }
        if seen.len() > SEARCH_BUDGET {
            return Reach::TooBig;
        }
        for (_, next) in setup.successors(&q, None, true) {
            if seen.insert(next.fingerprint()) {
                queue.push_back((next, d + 1));
            }
        }
    }
    Reach::Never(seen.len())
}

/// The module a replay's TLC run checks: the spec with watch streams delivered one revision
/// at a time, as the core receives them.
pub const MODULE: &str = "RebalanserStepwise.tla";

/// The TLC run whose counterexample a replay follows: configuration `cfg` (named `label`,
/// its mutant already set) on [`MODULE`]. `Err` if the model cannot express the configuration
/// or the spec cannot be read.
pub fn job(
    dir: &Path,
    label: &str,
    cfg: &str,
    mutant: Option<Mutant>,
    workers: u16,
) -> Result<TlcJob, String> {
    setup(cfg, mutant)?;
    let spec_path = dir.join(tlc::SPEC);
    let spec =
        std::fs::read_to_string(&spec_path).map_err(|e| format!("{}: {e}", spec_path.display()))?;
    Ok(TlcJob {
        label: label.to_string(),
        module: MODULE.to_string(),
        files: vec![(tlc::SPEC.to_string(), spec)],
        cfg: replay_cfg(cfg),
        workers,
    })
}

/// A configuration for [`MODULE`]: as `cfg`, with the stepwise watch, its specification, and
/// `Hold = TRUE` (the protocol always holds after an assignment write).
fn replay_cfg(cfg: &str) -> String {
    let mut out = tlc::set_constant(cfg, "Hold", "TRUE");
    out = out
        .replace("SPECIFICATION LiveSpec", "SPECIFICATION StepLiveSpec")
        .replace("SPECIFICATION Spec", "SPECIFICATION StepSpec");
    out.replace("CONSTANTS\n", "CONSTANTS\n    Watch <- WatchNext\n")
}

/// The spec's variables (a replay spec's extra ones, like its watch history, are not compared).
const VARIABLES: [&str; 9] = [
    "reg", "nd", "appq", "access", "up", "wire", "lapsed", "budget", "writes",
];

/// Replay TLC's counterexample (for `property`, found under configuration text `cfg` with
/// `mutant` set) through the core. `Err` if the configuration or the counterexample cannot be
/// read or the model cannot express the configuration.
pub fn replay(
    cfg: &str,
    mutant: Option<Mutant>,
    property: &str,
    counterexample: &[TlaState],
) -> Result<Replayed, String> {
    let setup = setup(cfg, mutant)?;
    // A temporal counterexample ends in a loop marker without a state.
    let states: Vec<&TlaState> = counterexample
        .iter()
        .filter(|s| !s.state.trim().is_empty())
        .collect();
    if states.is_empty() {
        return Err("the counterexample has no states".into());
    }
    let targets = states
        .iter()
        .enumerate()
        .map(|(k, s)| expected(s).map_err(|e| format!("counterexample state {}: {e}", k + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let start = setup.start();
    let mut search = Search {
        setup: &setup,
        visited: 0,
        closest: None,
    };
    let judge_it = |s: &Setup, p: &Point| judge(s, p, property);
    let label = |k: usize| {
        states
            .get(k)
            .map_or_else(|| "(end)".to_string(), |s| s.action.clone())
    };
    match search.follow(0, start.clone(), &targets, &judge_it) {
        Ok((runs, why)) => {
            let mut at = start;
            let mut steps = Vec::new();
            let mut core_steps = 0;
            for (k, (actions, end)) in runs.iter().enumerate() {
                let mut core = Vec::new();
                for a in actions {
                    core.push(setup.describe(a, &at));
                    at = setup.step(&at, a);
                }
                debug_assert_eq!(setup.project(&at), setup.project(end));
                core_steps += actions.len();
                steps.push(ReplayStep {
                    tlc_state: k + 1,
                    tlc_action: label(k),
                    core,
                });
            }
            Ok(Replayed {
                reproduced: true,
                property: property.to_string(),
                core_says: Some(why),
                steps,
                core_steps,
                searched: search.visited,
                divergence: None,
            })
        }
        Err(stuck) => {
            let mut diffs = Vec::new();
            if stuck.at == 0 {
                if let Some((d, _)) = &search.closest {
                    diffs.push("the closest state fault-free runs reach differs in:".into());
                    diffs.extend(d.iter().cloned());
                }
            } else if let Some(target) = targets.get(stuck.at) {
                // The closest single step, to show where the core and TLC part.
                let here = setup.project(&stuck.from);
                let closest = setup
                    .successors(&stuck.from, None, false)
                    .into_iter()
                    .map(|(a, p)| {
                        let mut d = Vec::new();
                        differences("", target, &setup.project(&p), &mut d);
                        (d, a, p)
                    })
                    .min_by_key(|(d, _, _)| d.len());
                match closest {
                    Some((d, a, _)) => {
                        diffs.push(format!(
                            "closest core step: {}",
                            setup.describe(&a, &stuck.from)
                        ));
                        diffs.extend(d);
                    }
                    None => differences("", target, &here, &mut diffs),
                }
            }
            Ok(Replayed {
                reproduced: false,
                property: property.to_string(),
                core_says: None,
                steps: Vec::new(),
                core_steps: 0,
                searched: search.visited,
                divergence: Some(Divergence {
                    tlc_state: stuck.at + 1,
                    tlc_action: label(stuck.at),
                    why: stuck.why,
                    differences: diffs,
                }),
            })
        }
    }
}

/// The replay in words.
pub fn render(r: &Replayed) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if r.reproduced {
        let _ = writeln!(
            out,
            "\nReplayed through the Rust core ({} TLC states, {} core steps, {} model states \
             searched):",
            r.steps.len(),
            r.core_steps,
            r.searched
        );
        for s in &r.steps {
            let core = if s.tlc_state == 1 && s.core.is_empty() {
                vec!["(the joining state itself)".to_string()]
            } else if s.tlc_state == 1 {
                vec![format!(
                    "{} fault-free steps from the joining state",
                    s.core.len()
                )]
            } else {
                s.core.clone()
            };
            for (i, c) in core.iter().enumerate() {
                let head = if i == 0 {
                    format!("TLC state {:>2}", s.tlc_state)
                } else {
                    String::new()
                };
                let _ = writeln!(out, "  {head:<12} = {c}");
            }
        }
        let _ = writeln!(
            out,
            "\nreplay: REPRODUCED -- the core violates {}: {}",
            r.property,
            r.core_says.as_deref().unwrap_or("")
        );
    } else if let Some(d) = &r.divergence {
        let _ = writeln!(
            out,
            "\nreplay: NOT REPRODUCED -- at TLC state {} ({}): {} ({} model states searched)",
            d.tlc_state, d.tlc_action, d.why, r.searched
        );
        for line in &d.differences {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(text: &str) -> TlaState {
        TlaState {
            action: "Init".into(),
            state: text.into(),
        }
    }

    #[test]
    fn constants_are_read_from_the_configuration() {
        let c = constants(
            "\\* about\nCONSTANTS\n    Nodes = {n1, n2}\n    Start = \"settled\"\n    \
             Hold = TRUE\n    MaxAdmin = 1\nSPECIFICATION Spec\nINVARIANTS\n    TypeOK\n",
        )
        .unwrap();
        assert_eq!(c["Nodes"], json!({"$set": ["n1", "n2"]}));
        assert_eq!(c["Start"], "settled");
        assert_eq!(c["Hold"], true);
        assert_eq!(c["MaxAdmin"], 1);
        assert!(!c.contains_key("TypeOK"));
    }

    #[test]
    fn configurations_the_model_cannot_express_are_refused() {
        let base =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/spec/mutant-M4.cfg"))
                .unwrap()
                .replace("Hold = FALSE", "Hold = TRUE");
        assert!(setup(&base, None).is_ok());
        let breaks = base.replace("MaxWatchBreaks = 0", "MaxWatchBreaks = 1");
        assert!(setup(&breaks, None).err().unwrap().contains("compacted"));
        // Late and copied requests the model has (its budgets are the spec's one).
        let late = base.replace("MaxLate = 0", "MaxLate = 1");
        let s = setup(&late, None).unwrap();
        assert_eq!((s.model.config.late, s.model.config.duplicates), (1, 1));
        let names = base.replace("Nodes = {n1, n2}", "Nodes = {a, b}");
        assert!(setup(&names, None).err().unwrap().contains("n1..nK"));
    }

    #[test]
    fn the_joining_start_projects_to_the_spec_joining_state() {
        let cfg =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/spec/mutant-M2.cfg"))
                .unwrap()
                .replace("Hold = FALSE", "Hold = TRUE");
        let s = setup(&cfg, None).unwrap();
        let p = s.project(&s.start());
        assert_eq!(p["nd"]["$fn"][0][1]["req"]["op"], json!({"k": "grant"}));
        assert_eq!(p["nd"]["$fn"][0][1]["req"]["st"], "sent");
        assert_eq!(p["reg"]["rev"], 2, "a fresh registry (1) and one resource");
        let bad = expected(&state("/\\ up = (n1 :> TRUE)"));
        assert!(bad.unwrap_err().contains("no variable"));
    }

    /// A recorded TLC counterexample (`tla --mutant CODE --replay`) and the configuration it
    /// came from, so that these tests need no Java.
    fn recorded_counterexample(code: &str) -> (String, String, Vec<TlaState>) {
        let root = env!("CARGO_MANIFEST_DIR");
        let cfg = std::fs::read_to_string(format!("{root}/spec/mutant-{code}.cfg")).unwrap();
        let cfg = replay_cfg(&tlc::set_mutant(&cfg, code));
        let text = std::fs::read_to_string(format!(
            "{root}/tests/fixtures/{code}-replay-counterexample.json"
        ))
        .unwrap();
        let v: Json = serde_json::from_str(&text).unwrap();
        let states = v["counterexample"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| TlaState {
                action: s["action"].as_str().unwrap().to_string(),
                state: s["state"].as_str().unwrap().to_string(),
            })
            .collect();
        (cfg, v["property"].as_str().unwrap().to_string(), states)
    }

    fn m4_counterexample() -> (String, String, Vec<TlaState>) {
        recorded_counterexample("M4")
    }

    #[test]
    fn a_mutant_counterexample_replays_to_the_same_violation() {
        let (cfg, property, states) = m4_counterexample();
        assert_eq!(property, "fenced_writes");
        let r = replay(
            &cfg,
            Some(Mutant::UnfencedAssignmentWrite),
            &property,
            &states,
        )
        .unwrap();
        assert!(r.reproduced, "{}", render(&r));
        assert_eq!(r.steps.len(), states.len());
        assert!(
            r.core_says.as_deref().unwrap().contains("nobody led"),
            "{r:?}"
        );
        // One TLC step is one core step here, after the settling.
        assert!(
            r.steps[1..].iter().all(|s| s.core.len() == 1),
            "{}",
            render(&r)
        );
    }

    /// Other rooms read replay results back typed: the JSON goes both ways unchanged.
    #[test]
    fn a_replay_reads_back_from_its_json() {
        let (cfg, property, states) = m4_counterexample();
        for mutant in [Some(Mutant::UnfencedAssignmentWrite), None] {
            let r = replay(&cfg, mutant, &property, &states).unwrap();
            let json = serde_json::to_value(&r).unwrap();
            let back: Replayed = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(serde_json::to_value(&back).unwrap(), json);
        }
    }

    #[test]
    fn the_clean_core_cannot_follow_a_mutant_counterexample() {
        let (cfg, property, states) = m4_counterexample();
        let r = replay(&cfg, None, &property, &states).unwrap();
        assert!(!r.reproduced);
        let d = r.divergence.unwrap();
        // The clean leader's write compares the assignment revision it saw, which M4 drops:
        // the request differs from the moment the leader sends it (state 4).
        assert_eq!(d.tlc_state, 4, "{d:?}");
        assert!(
            d.differences
                .iter()
                .any(|l| l == "nd[n1].req.op.seen: TLC 0, core 6"),
            "{d:?}"
        );
    }

    #[test]
    fn a_corrupted_counterexample_is_not_followed_past_the_corruption() {
        let (cfg, property, mut states) = m4_counterexample();
        assert!(states[5].state.contains("lapsed = {1}"));
        states[5].state = states[5].state.replace("lapsed = {1}", "lapsed = {2}");
        let r = replay(
            &cfg,
            Some(Mutant::UnfencedAssignmentWrite),
            &property,
            &states,
        )
        .unwrap();
        assert!(!r.reproduced);
        let d = r.divergence.unwrap();
        assert_eq!(d.tlc_state, 6, "{d:?}");
        assert!(
            d.differences
                .iter()
                .any(|l| l == "lapsed: TLC {2}, core {1}"),
            "{d:?}"
        );
        // A state TLC could not have printed is bad input, not a divergence.
        states[5].state = "/\\ reg = [rev |-> ".into();
        assert!(replay(&cfg, None, &property, &states).is_err());
    }

    /// M8's recorded counterexample: a release is copied by the network, lands, the resource
    /// comes back, the node takes its barrier anew, and the copy lands and deletes it.
    fn m8_counterexample() -> (String, String, Vec<TlaState>) {
        recorded_counterexample("M8")
    }

    #[test]
    fn a_copied_request_replays_in_two_halves() {
        let (cfg, property, states) = m8_counterexample();
        assert_eq!(property, "access_holds_barrier");
        let r = replay(&cfg, Some(Mutant::OwnerOnlyRelease), &property, &states).unwrap();
        assert!(r.reproduced, "{}", render(&r));
        assert_eq!(r.steps.len(), states.len());
        // The spec's Duplicate is the first half of the model's, its Deliver the second.
        let core: Vec<&str> = r
            .steps
            .iter()
            .flat_map(|s| &s.core)
            .map(String::as_str)
            .collect();
        let copy = core
            .iter()
            .position(|c| c.contains("the network copies"))
            .expect("a first half");
        assert!(core[copy + 1].contains("keeps a copy"), "{}", render(&r));
        // The copy lands last, and deletes the barrier the node took anew.
        assert!(
            core.last().unwrap().contains("delete barriers/r1"),
            "{}",
            render(&r)
        );
    }

    #[test]
    fn the_clean_core_does_not_release_a_later_barrier() {
        let (cfg, property, states) = m8_counterexample();
        let r = replay(&cfg, None, &property, &states).unwrap();
        assert!(!r.reproduced, "{}", render(&r));
        // The clean release compares the barrier's create_rev: the request differs from the
        // moment the node sends it.
        let d = r.divergence.unwrap();
        assert!(
            d.differences
                .iter()
                .any(|l| l.contains(".req.op.c: TLC 0, core 6")),
            "{d:?}"
        );
    }

    #[test]
    fn differences_name_the_paths() {
        let mut d = Vec::new();
        differences(
            "",
            &json!({"nd": {"$fn": [["n1", {"ph": "member"}]]}, "x": 1}),
            &json!({"nd": {"$fn": [["n1", {"ph": "joining"}]]}, "x": 1}),
            &mut d,
        );
        assert_eq!(d, vec!["nd[n1].ph: TLC member, core joining"]);
    }
}
