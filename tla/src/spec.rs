//! The one mapping of the Rust core's state to the TLA+ spec's variables
//! (`spec/Rebalanser.tla`): the simulator's trace snapshots ([`observed`], [`action`]) for the
//! trace validation, and the model's states for the counterexample replay ([`crate::replay`]).
//!
//! Values are JSON in a small encoding of TLA+ values: objects are records, `null` is `NONE`,
//! and `{"$set": [...]}` and `{"$fn": [[key, value], ...]}` are sets and functions.

use protocol::node::{Local, Phase, View, WatchState};
use protocol::registry::{Compare, Key, Op, Registry, Request, Response, Value};
use protocol::{Node, NodeId, Outcome, ResourceId, Session};
use serde_json::{json, Value as Json};
use sim::{Snapshot, SpecAction};
use std::collections::BTreeSet;

/// A spec action on node `n`, with more arguments in `args`.
pub fn action(name: &str, node: Option<&NodeId>, args: Json) -> Json {
    let mut a = json!({ "a": name });
    if let Some(n) = node {
        a["n"] = json!(n.0);
    }
    if let Json::Object(extra) = args {
        for (k, v) in extra {
            a[k] = v;
        }
    }
    a
}

/// The spec's `Fail(n, step)`: the request fails at `step` (applied first if the step says so).
pub fn fail(node: &NodeId, step: protocol::FailureStep) -> Json {
    // The spec names the steps as protocol/src/rpc.rs does.
    action("Fail", Some(node), json!({ "step": step.name() }))
}

/// A TLA+ set.
pub fn set(items: impl IntoIterator<Item = Json>) -> Json {
    json!({ "$set": items.into_iter().collect::<Vec<_>>() })
}

/// A TLA+ function.
pub fn function(pairs: impl IntoIterator<Item = (Json, Json)>) -> Json {
    let pairs: Vec<Json> = pairs.into_iter().map(|(k, v)| json!([k, v])).collect();
    json!({ "$fn": pairs })
}

fn session_at(value: &Value, create_rev: u64) -> Json {
    match value {
        Value::Session(s) => session(s, create_rev),
        _ => Json::Null,
    }
}

/// An assignment as the spec records it (`mr`: the key's mod revision, 0 in a request).
fn assignment(a: &protocol::allocate::Assignment, mr: u64) -> Json {
    let m = a
        .shares
        .iter()
        .flat_map(|(n, rs)| rs.iter().map(move |r| (json!(r.0), json!(n.0))));
    json!({
        "t": a.term,
        "e": a.epoch,
        "mem": set(a.shares.keys().map(|n| json!(n.0))),
        "m": function(m),
        "mr": mr,
    })
}

/// The registry as the spec's `reg` (without its lease counter and watchers).
pub fn registry(reg: &Registry, nodes: &[NodeId], resources: &[ResourceId]) -> Json {
    let mem = nodes.iter().map(|n| {
        let v = reg.get(&Key::Member(n.clone())).map_or(
            Json::Null,
            |kv| json!({ "l": kv.lease.map_or(0, |l| l.0), "c": kv.create_rev }),
        );
        (json!(n.0), v)
    });
    let ldr = reg
        .get(&Key::Leader)
        .map_or(Json::Null, |kv| session_at(&kv.value, kv.create_rev));
    let res = resources
        .iter()
        .filter(|r| reg.get(&Key::Resource((*r).clone())).is_some())
        .map(|r| json!(r.0));
    let asg = reg
        .get(&Key::Assignment)
        .and_then(|kv| match &kv.value {
            Value::Assignment(a) => Some(assignment(a, kv.mod_rev)),
            _ => None,
        })
        .unwrap_or(Json::Null);
    let bar = resources.iter().map(|r| {
        let v = reg
            .get(&Key::Barrier(r.clone()))
            .map_or(Json::Null, |kv| session_at(&kv.value, kv.create_rev));
        (json!(r.0), v)
    });
    json!({
        "rev": reg.revision(),
        "mem": function(mem),
        "ldr": ldr,
        "res": set(res),
        "asg": asg,
        "bar": function(bar),
        "leases": set(reg.leases().map(|(l, _)| json!(l.0))),
    })
}

fn session(s: &Session, c: u64) -> Json {
    json!({ "n": s.node.0, "l": s.lease.0, "c": c })
}

/// A node's view as the spec's `Snap` (`NONE` before its first read).
pub fn view(view: &View, nodes: &[NodeId], resources: &[ResourceId]) -> Json {
    if view.rev == 0 {
        return Json::Null;
    }
    let mem = nodes.iter().map(|n| {
        let v = view
            .members
            .get(n)
            .map_or(Json::Null, |(s, c)| json!({ "l": s.lease.0, "c": c }));
        (json!(n.0), v)
    });
    let bar = resources.iter().map(|r| {
        let v = view
            .barriers
            .get(r)
            .map_or(Json::Null, |(s, c)| session(s, *c));
        (json!(r.0), v)
    });
    json!({
        "rev": view.rev,
        "mem": function(mem),
        "ldr": view.leader.as_ref().map_or(Json::Null, |(s, t)| session(s, *t)),
        "res": set(view.resources.iter().map(|r| json!(r.0))),
        "asg": view
            .assignment
            .as_ref()
            .map_or(Json::Null, |a| assignment(a, view.assignment_rev)),
        "bar": function(bar),
    })
}

/// The kind of answer an outcome gives, as the spec's `out.k` (with `ok` for a transaction);
/// `None` for a keep-alive's answer (the spec has no keep-alives).
pub fn outcome(outcome: &Outcome) -> Option<Json> {
    Some(match outcome {
        Outcome::Success(response) => match response {
            Response::Granted { .. } => json!({ "k": "granted" }),
            Response::KeptAlive { .. } => return None,
            Response::Revoked { .. } => json!({ "k": "revoked" }),
            Response::LeaseNotFound => json!({ "k": "lnf" }),
            Response::Txn(t) => json!({ "k": "txn", "ok": t.succeeded }),
            Response::Range { .. } => json!({ "k": "range" }),
            Response::WatchCreated => json!({ "k": "watching" }),
            Response::Compacted { .. } => json!({ "k": "compacted" }),
        },
        Outcome::PostFailed => json!({ "k": "POST_FAILED" }),
        Outcome::Retryable => json!({ "k": "RETRYABLE" }),
        Outcome::Fatal => json!({ "k": "FATAL" }),
        Outcome::Unknown => json!({ "k": "UNKNOWN" }),
    })
}

/// A request as the spec's `op`; `None` for a keep-alive (the spec has no keep-alives).
pub fn request(request: &Request) -> Option<Json> {
    Some(match request {
        Request::Grant { .. } => json!({ "k": "grant" }),
        Request::Range => json!({ "k": "range" }),
        Request::Watch { .. } => json!({ "k": "watch" }),
        Request::Revoke { lease } => json!({ "k": "revoke", "l": lease.0 }),
        Request::KeepAlive { .. } => return None,
        Request::Txn(txn) => {
            let put = txn.then.first()?;
            match put {
                Op::Put {
                    key: Key::Member(_),
                    lease,
                    ..
                } => json!({ "k": "register", "l": lease.map_or(0, |l| l.0) }),
                Op::Put {
                    key: Key::Leader,
                    lease,
                    ..
                } => json!({ "k": "elect", "l": lease.map_or(0, |l| l.0) }),
                Op::Put {
                    key: Key::Assignment,
                    value: Value::Assignment(a),
                    ..
                } => {
                    let mut t = a.term;
                    let mut seen = 0;
                    for c in &txn.compare {
                        match c {
                            Compare::CreateRevIs(Key::Leader, term) => t = *term,
                            Compare::ModRevIs(Key::Assignment, rev) => seen = *rev,
                            _ => {}
                        }
                    }
                    json!({ "k": "assign", "t": t, "seen": seen, "a": assignment(a, 0) })
                }
                Op::Put {
                    key: Key::Barrier(r),
                    lease,
                    ..
                } => json!({ "k": "acquire", "r": r.0, "l": lease.map_or(0, |l| l.0) }),
                Op::Delete {
                    key: Key::Barrier(r),
                } => {
                    let mut l = 0;
                    let mut c = 0;
                    for cmp in &txn.compare {
                        match cmp {
                            Compare::ValueIs(_, Value::Session(s)) => l = s.lease.0,
                            Compare::CreateRevIs(_, rev) => c = *rev,
                            _ => {}
                        }
                    }
                    json!({ "k": "release", "r": r.0, "l": l, "c": c })
                }
                _ => return None,
            }
        }
    })
}

/// A node's phase as the spec names it.
pub fn phase(p: Phase) -> &'static str {
    match p {
        Phase::Idle => "idle",
        Phase::Joining => "joining",
        Phase::Member => "member",
        Phase::Leaving => "leaving",
        Phase::Left => "left",
    }
}

/// What a node does with one resource, as the spec's entry `[st, l]`.
pub fn local(l: &Local) -> Json {
    let (st, lease) = match l {
        Local::Acquiring => ("acquiring", 0),
        Local::Starting(l) => ("starting", l.0),
        Local::Running(l) => ("running", l.0),
        Local::Stopping(l) => ("stopping", l.0),
        Local::Releasing(l) => ("releasing", l.0),
    };
    json!({ "st": st, "l": lease })
}

/// A node as the spec's record, projected: `req` is the request in flight (its `op`).
pub fn node(node: &Node, up: bool, req: Option<&Request>, resources: &[ResourceId]) -> Json {
    let loc = resources.iter().map(|r| {
        let v = node.resources().get(r).map_or(Json::Null, local);
        (json!(r.0), v)
    });
    json!({
        "up": up,
        "ph": phase(node.phase()),
        "l": node.lease().map_or(0, |l| l.0),
        "term": node.term().unwrap_or(0),
        "vrev": node.view().rev,
        "synced": node.synced(),
        "watch": node.watch_state() == WatchState::Live,
        "backoff": node.backing_off(),
        "hold": node.holding(),
        "wr": node.wait_rev(),
        "loc": function(loc),
        "req": req.and_then(request).unwrap_or(Json::Null),
    })
}

/// What each application accesses.
pub fn access<'a>(
    accessing: impl IntoIterator<Item = (&'a NodeId, &'a BTreeSet<ResourceId>)>,
) -> Json {
    function(
        accessing
            .into_iter()
            .map(|(n, rs)| (json!(n.0), set(rs.iter().map(|r| json!(r.0))))),
    )
}

/// A traced action as the spec's action records (the trace module's `a` and its arguments): none
/// for what the spec does not have (an orphan keep-alive), two for a duplicated request.
pub fn actions(a: &SpecAction) -> Vec<Json> {
    let on = |name: &str, node: &NodeId| action(name, Some(node), Json::Null);
    vec![match a {
        SpecAction::Deliver { node } => on("Deliver", node),
        SpecAction::WatchCompacted { node } => on("WatchCompacted", node),
        SpecAction::Fail { node, step } => fail(node, *step),
        SpecAction::Duplicate { node } => on("Duplicate", node),
        SpecAction::DeliverOrphan {
            node,
            request: r,
            kept,
        } => {
            let Some(op) = request(r) else {
                return Vec::new();
            };
            let name = if *kept {
                "DeliverOrphanKeep"
            } else {
                "DeliverOrphan"
            };
            action(name, Some(node), json!({ "op": op }))
        }
        SpecAction::TimeOut { node } => on("TimeOut", node),
        SpecAction::Reply { node } => on("Reply", node),
        SpecAction::LeaseGone { node } => on("LeaseGone", node),
        SpecAction::WatchTo { node, rev } => action("WatchTo", Some(node), json!({ "rev": rev })),
        SpecAction::BreakWatch { node } => on("BreakWatch", node),
        SpecAction::Lapse { node } => on("Lapse", node),
        SpecAction::HoldOver { node } => on("HoldOver", node),
        SpecAction::Retry { node } => on("Retry", node),
        SpecAction::App { node, resource } => action("App", Some(node), json!({ "r": resource.0 })),
        SpecAction::Crash { node } => on("Crash", node),
        SpecAction::Restart { node } => on("Restart", node),
        SpecAction::Join { node } => on("Join", node),
        SpecAction::Leave { node } => on("Leave", node),
        SpecAction::Expire { lease } => action("Expire", None, json!({ "l": lease })),
        SpecAction::Admin { resource } => action("Admin", None, json!({ "r": resource.0 })),
    }]
}

/// A traced state as the spec's observed variables: `reg`, `nd` (each node projected, with
/// the request it awaits) and `access`.
pub fn observed(s: &Snapshot) -> Json {
    let nodes = s.node_ids();
    let nd = s.nodes.iter().zip(&nodes).map(|(n, id)| {
        let p = &n.process;
        (
            json!(id.0),
            node(&p.node, p.up, n.request.as_ref(), &s.resources),
        )
    });
    json!({
        "reg": registry(&s.registry, &nodes, &s.resources),
        "nd": function(nd),
        "access": access(nodes.iter().zip(s.nodes.iter().map(|n| &n.process.app.accessing))),
    })
}
