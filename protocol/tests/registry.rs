//! The registry's etcd-shaped semantics: revisions, key metadata, compares, leases, watches.

use proptest::prelude::*;
use protocol::registry::{
    Change, Compare, Deliveries, Key, KeyValue, Op, Txn, TxnResult, Value, WatchEvent,
};
use protocol::{
    Assignment, LeaseId, NodeId, Registry, Request, ResourceId, Response, Revision, Session, Time,
    View,
};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// Helpers

fn client(name: &str) -> NodeId {
    NodeId::new(name)
}

fn res_key(name: &str) -> Key {
    Key::Resource(ResourceId::new(name))
}

fn barrier(name: &str) -> Key {
    Key::Barrier(ResourceId::new(name))
}

fn session(node: &str, lease: u64) -> Value {
    Value::Session(Session {
        node: NodeId::new(node),
        lease: LeaseId(lease),
    })
}

fn put(key: Key, value: Value, lease: Option<LeaseId>) -> Op {
    Op::Put { key, value, lease }
}

fn put_empty(key: Key) -> Op {
    put(key, Value::Empty, None)
}

fn del(key: Key) -> Op {
    Op::Delete { key }
}

fn get(key: Key) -> Op {
    Op::Get { key }
}

fn txn(compare: Vec<Compare>, then: Vec<Op>, otherwise: Vec<Op>) -> Request {
    Request::Txn(Txn {
        compare,
        then,
        otherwise,
    })
}

fn always(then: Vec<Op>) -> Request {
    Request::Txn(Txn::always(then))
}

fn call(reg: &mut Registry, who: &str, req: Request) -> (Response, Deliveries) {
    reg.handle(Time(0), &client(who), &req)
}

fn call_at(reg: &mut Registry, now: u64, who: &str, req: Request) -> (Response, Deliveries) {
    reg.handle(Time(now), &client(who), &req)
}

fn txn_result(resp: Response) -> TxnResult {
    match resp {
        Response::Txn(t) => t,
        other => panic!("expected a txn result, got {other:?}"),
    }
}

fn grant(reg: &mut Registry, now: u64, ttl: u64) -> LeaseId {
    match call_at(reg, now, "admin", Request::Grant { ttl }).0 {
        Response::Granted { lease, ttl: t } => {
            assert_eq!(t, ttl);
            lease
        }
        other => panic!("expected a grant, got {other:?}"),
    }
}

fn watch(reg: &mut Registry, who: &str, from_rev: Revision) -> (Response, Deliveries) {
    call(reg, who, Request::Watch { from_rev })
}

/// The events one client got, in order.
fn events_for(deliveries: &Deliveries, who: &str) -> Vec<WatchEvent> {
    deliveries
        .iter()
        .filter(|(c, _)| c.0 == who)
        .map(|(_, e)| e.clone())
        .collect()
}

fn range(reg: &mut Registry) -> (Revision, Vec<(Key, KeyValue)>) {
    match call(reg, "reader", Request::Range).0 {
        Response::Range { rev, kvs } => (rev, kvs),
        other => panic!("expected a range, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Revisions and key metadata

#[test]
fn a_new_registry_is_empty_at_revision_one() {
    let mut reg = Registry::new();
    assert_eq!(reg.revision(), 1);
    assert_eq!(reg.keys().count(), 0);
    assert_eq!(reg.leases().count(), 0);
    assert_eq!(range(&mut reg), (1, vec![]));
}

#[test]
fn each_mutating_txn_moves_the_revision_by_exactly_one() {
    let mut reg = Registry::new();
    let r0 = reg.revision();
    let t = txn_result(
        call(
            &mut reg,
            "c",
            always(vec![
                put_empty(res_key("a")),
                put_empty(res_key("b")),
                put_empty(res_key("c")),
            ]),
        )
        .0,
    );
    assert!(t.succeeded);
    assert_eq!(t.rev, r0 + 1, "three puts in one txn are one revision");
    assert_eq!(reg.revision(), r0 + 1);
    for k in ["a", "b", "c"] {
        assert_eq!(reg.get(&res_key(k)).unwrap().mod_rev, r0 + 1);
    }

    let t = txn_result(
        call(
            &mut reg,
            "c",
            always(vec![del(res_key("a")), put_empty(res_key("d"))]),
        )
        .0,
    );
    assert_eq!(t.rev, r0 + 2);
    assert_eq!(reg.revision(), r0 + 2);
    assert!(reg.get(&res_key("a")).is_none());

    let t = txn_result(call(&mut reg, "c", always(vec![del(res_key("b"))])).0);
    assert_eq!((t.rev, reg.revision()), (r0 + 3, r0 + 3));
}

#[test]
fn reads_grants_keepalives_and_watches_do_not_move_the_revision() {
    let mut reg = Registry::new();
    call(&mut reg, "c", always(vec![put_empty(res_key("a"))]));
    let rev = reg.revision();

    let lease = grant(&mut reg, 0, 100);
    assert_eq!(reg.revision(), rev, "grant");
    assert_eq!(
        call(&mut reg, "c", Request::KeepAlive { lease }).0,
        Response::KeptAlive { ttl: 100 }
    );
    assert_eq!(reg.revision(), rev, "keep-alive");
    assert_eq!(range(&mut reg).0, rev, "range");
    assert_eq!(reg.revision(), rev, "range");
    assert_eq!(watch(&mut reg, "c", rev + 1).0, Response::WatchCreated);
    assert_eq!(reg.revision(), rev, "watch");

    let t = txn_result(
        call(
            &mut reg,
            "c",
            always(vec![get(res_key("a")), get(res_key("zz"))]),
        )
        .0,
    );
    assert!(t.succeeded);
    assert_eq!(t.rev, rev, "a read-only txn");
    assert_eq!(t.gets.len(), 2);
    assert_eq!(t.gets[0].as_ref(), reg.get(&res_key("a")));
    assert_eq!(t.gets[1], None);
    assert_eq!(reg.revision(), rev);

    // Deleting a key that does not exist changes nothing, so no revision either.
    let (resp, events) = call(&mut reg, "c", always(vec![del(res_key("zz"))]));
    assert!(txn_result(resp).succeeded);
    assert_eq!(reg.revision(), rev, "a no-op delete");
    assert!(events.is_empty());
}

#[test]
fn a_failed_compare_with_no_else_ops_changes_nothing() {
    let mut reg = Registry::new();
    watch(&mut reg, "w", 2);
    let before = reg.clone();
    let (resp, events) = call(
        &mut reg,
        "c",
        txn(
            vec![Compare::Exists(res_key("missing"))],
            vec![put_empty(res_key("a"))],
            vec![],
        ),
    );
    let t = txn_result(resp);
    assert!(!t.succeeded);
    assert_eq!(t.rev, before.revision());
    assert_eq!(reg, before, "nothing changed");
    assert!(events.is_empty());
}

#[test]
fn a_failed_compare_runs_the_else_ops() {
    let mut reg = Registry::new();
    let rev = reg.revision();
    let (resp, _) = call(
        &mut reg,
        "c",
        txn(
            vec![Compare::Exists(res_key("missing"))],
            vec![put_empty(res_key("then"))],
            vec![put_empty(res_key("else")), get(res_key("else"))],
        ),
    );
    let t = txn_result(resp);
    assert!(!t.succeeded);
    assert_eq!(t.rev, rev + 1);
    assert!(reg.get(&res_key("then")).is_none());
    assert!(reg.get(&res_key("else")).is_some());
    assert_eq!(t.gets, vec![reg.get(&res_key("else")).cloned()]);
}

#[test]
fn create_rev_mod_rev_and_version_bookkeeping() {
    let mut reg = Registry::new();
    let lease = grant(&mut reg, 0, 1_000);
    let k = barrier("r");

    call(
        &mut reg,
        "c",
        always(vec![put(k.clone(), session("a", 1), Some(lease))]),
    );
    let created = reg.revision();
    let kv = reg.get(&k).unwrap().clone();
    assert_eq!(
        kv,
        KeyValue {
            value: session("a", 1),
            create_rev: created,
            mod_rev: created,
            version: 1,
            lease: Some(lease),
        }
    );

    call(&mut reg, "c", always(vec![put_empty(res_key("other"))]));
    call(
        &mut reg,
        "c",
        always(vec![put(k.clone(), session("b", 1), None)]),
    );
    let kv = reg.get(&k).unwrap();
    assert_eq!(kv.create_rev, created, "an overwrite keeps create_rev");
    assert_eq!(kv.mod_rev, reg.revision());
    assert_eq!(kv.version, 2);
    assert_eq!(kv.lease, None, "the put moved the key off the lease");
    assert_eq!(kv.value, session("b", 1));

    call(
        &mut reg,
        "c",
        always(vec![put(k.clone(), session("c", 1), None)]),
    );
    assert_eq!(reg.get(&k).unwrap().version, 3);

    call(&mut reg, "c", always(vec![del(k.clone())]));
    assert!(reg.get(&k).is_none());
    call(
        &mut reg,
        "c",
        always(vec![put(k.clone(), session("d", 1), None)]),
    );
    let kv = reg.get(&k).unwrap();
    assert_eq!(kv.create_rev, reg.revision(), "re-created after a delete");
    assert_eq!(kv.mod_rev, reg.revision());
    assert_eq!(kv.version, 1, "the version restarts after a delete");
}

#[test]
fn compares_hold_and_fail_as_documented() {
    let mut reg = Registry::new();
    let k = res_key("k");
    call(
        &mut reg,
        "c",
        always(vec![put(k.clone(), session("a", 1), None)]),
    );
    let create = reg.revision();
    call(
        &mut reg,
        "c",
        always(vec![put(k.clone(), session("a", 2), None)]),
    );
    let modified = reg.revision();
    assert_ne!(create, modified);
    let gone = res_key("gone");

    let cases: Vec<(Vec<Compare>, bool)> = vec![
        (vec![Compare::Exists(k.clone())], true),
        (vec![Compare::Exists(gone.clone())], false),
        (vec![Compare::Absent(gone.clone())], true),
        (vec![Compare::Absent(k.clone())], false),
        (vec![Compare::ValueIs(k.clone(), session("a", 2))], true),
        (vec![Compare::ValueIs(k.clone(), session("a", 1))], false),
        (vec![Compare::ValueIs(k.clone(), Value::Empty)], false),
        (vec![Compare::ValueIs(gone.clone(), Value::Empty)], false),
        (vec![Compare::CreateRevIs(k.clone(), create)], true),
        (vec![Compare::CreateRevIs(k.clone(), modified)], false),
        (vec![Compare::CreateRevIs(gone.clone(), 0)], false),
        (vec![Compare::ModRevIs(k.clone(), modified)], true),
        (vec![Compare::ModRevIs(k.clone(), create)], false),
        (vec![Compare::ModRevIs(gone.clone(), 0)], false),
        (vec![], true),
        (
            vec![Compare::Exists(k.clone()), Compare::Absent(gone.clone())],
            true,
        ),
        (
            vec![Compare::Exists(k.clone()), Compare::Exists(gone.clone())],
            false,
        ),
    ];
    for (compare, expected) in cases {
        let before = reg.clone();
        let t = txn_result(
            call(
                &mut reg,
                "c",
                txn(
                    compare.clone(),
                    vec![get(k.clone())],
                    vec![get(gone.clone())],
                ),
            )
            .0,
        );
        assert_eq!(t.succeeded, expected, "{compare:?}");
        // The branch taken is the one whose read came back.
        let expected_get = if expected { reg.get(&k).cloned() } else { None };
        assert_eq!(t.gets, vec![expected_get], "{compare:?}");
        assert_eq!(reg, before, "reads change nothing");
    }
}

#[test]
fn a_put_on_a_dead_lease_fails_the_whole_txn() {
    let mut reg = Registry::new();
    let dead = grant(&mut reg, 0, 100);
    call(&mut reg, "admin", Request::Revoke { lease: dead });
    let never = LeaseId(999);
    let next = reg.revision() + 1;
    watch(&mut reg, "w", next);

    for lease in [dead, never] {
        let before = reg.clone();
        let (resp, events) = call(
            &mut reg,
            "c",
            always(vec![
                put_empty(res_key("first")),
                put(barrier("r"), session("c", lease.0), Some(lease)),
                del(res_key("first")),
            ]),
        );
        assert_eq!(resp, Response::LeaseNotFound, "{lease}");
        assert_eq!(reg, before, "nothing changed for {lease}");
        assert!(events.is_empty());

        // Also when the dead-lease put is in the else branch that runs.
        let (resp, _) = call(
            &mut reg,
            "c",
            txn(
                vec![Compare::Exists(res_key("nope"))],
                vec![],
                vec![
                    put_empty(res_key("x")),
                    put(barrier("r"), Value::Empty, Some(lease)),
                ],
            ),
        );
        assert_eq!(resp, Response::LeaseNotFound);
        assert_eq!(reg, before);
    }

    // A dead-lease put in the branch not taken does not matter.
    let rev = reg.revision();
    let (resp, _) = call(
        &mut reg,
        "c",
        txn(
            vec![],
            vec![put_empty(res_key("fine"))],
            vec![put(barrier("r"), Value::Empty, Some(dead))],
        ),
    );
    assert!(txn_result(resp).succeeded);
    assert_eq!(reg.revision(), rev + 1);
}

// ---------------------------------------------------------------------------------------------
// Leases

/// Lease `l1` with keys a, b, c, d; then c moves to lease `l2`, d to no lease, and b is deleted.
fn leased_setup() -> (Registry, LeaseId, LeaseId) {
    let mut reg = Registry::new();
    let l1 = grant(&mut reg, 0, 100);
    let l2 = grant(&mut reg, 0, 300);
    call(
        &mut reg,
        "c",
        always(
            ["a", "b", "c", "d", "e"]
                .iter()
                .map(|k| put(barrier(k), session("x", l1.0), Some(l1)))
                .collect(),
        ),
    );
    call(
        &mut reg,
        "c",
        always(vec![put(barrier("c"), session("y", l2.0), Some(l2))]),
    );
    call(
        &mut reg,
        "c",
        always(vec![put(barrier("d"), session("y", 0), None)]),
    );
    call(&mut reg, "c", always(vec![del(barrier("b"))]));
    call(&mut reg, "c", always(vec![put_empty(res_key("unleased"))]));
    (reg, l1, l2)
}

fn assert_l1_ended(
    reg: &Registry,
    before: &Registry,
    l1: LeaseId,
    l2: LeaseId,
    events: &Deliveries,
) {
    assert_eq!(reg.revision(), before.revision() + 1, "one revision");
    assert!(reg.lease(l1).is_none());
    assert!(reg.lease(l2).is_some());
    for k in ["a", "e"] {
        assert!(reg.get(&barrier(k)).is_none(), "{k} was still on the lease");
    }
    assert_eq!(
        reg.get(&barrier("c")),
        before.get(&barrier("c")),
        "re-put on l2: survives"
    );
    assert_eq!(
        reg.get(&barrier("d")),
        before.get(&barrier("d")),
        "re-put on no lease: survives"
    );
    assert!(reg.get(&res_key("unleased")).is_some());
    let got = events_for(events, "w");
    assert_eq!(got.len(), 1, "one watch event: {got:?}");
    assert_eq!(got[0].rev, reg.revision());
    let mut deleted: Vec<Change> = got[0].changes.clone();
    deleted.sort();
    assert_eq!(
        deleted,
        vec![Change::Delete(barrier("a")), Change::Delete(barrier("e"))]
    );
    assert_eq!(events.len(), 1, "one delivery per watcher");
}

#[test]
fn expire_deletes_exactly_the_keys_still_on_the_lease_in_one_revision() {
    let (mut reg, l1, l2) = leased_setup();
    let next = reg.revision() + 1;
    watch(&mut reg, "w", next);
    let before = reg.clone();
    let events = reg.expire(l1);
    assert_l1_ended(&reg, &before, l1, l2, &events);

    let again = reg.clone();
    assert!(
        reg.expire(l1).is_empty(),
        "expiring a dead lease does nothing"
    );
    assert_eq!(reg, again);
}

#[test]
fn revoke_deletes_exactly_the_keys_still_on_the_lease_in_one_revision() {
    let (mut reg, l1, l2) = leased_setup();
    let next = reg.revision() + 1;
    watch(&mut reg, "w", next);
    let before = reg.clone();
    let (resp, events) = call(&mut reg, "c", Request::Revoke { lease: l1 });
    assert_eq!(
        resp,
        Response::Revoked {
            rev: reg.revision()
        }
    );
    assert_l1_ended(&reg, &before, l1, l2, &events);

    let rev = reg.revision();
    assert_eq!(
        call(&mut reg, "c", Request::Revoke { lease: l1 }).0,
        Response::LeaseNotFound
    );
    assert_eq!(
        call(&mut reg, "c", Request::KeepAlive { lease: l1 }).0,
        Response::LeaseNotFound
    );
    assert_eq!(reg.revision(), rev);
}

#[test]
fn expire_due_ends_only_the_leases_whose_time_has_come() {
    let (mut reg, l1, l2) = leased_setup();
    let next = reg.revision() + 1;
    watch(&mut reg, "w", next);
    let before = reg.clone();
    assert!(reg.expire_due(Time(99)).is_empty());
    assert_eq!(reg, before, "nothing is due at 99");

    let events = reg.expire_due(Time(100));
    assert_l1_ended(&reg, &before, l1, l2, &events);

    let mid = reg.clone();
    assert!(reg.expire_due(Time(299)).is_empty());
    assert_eq!(reg, mid);
    let events = reg.expire_due(Time(300));
    assert!(reg.lease(l2).is_none());
    assert!(reg.get(&barrier("c")).is_none());
    assert_eq!(reg.revision(), mid.revision() + 1);
    assert_eq!(events_for(&events, "w").len(), 1);
}

#[test]
fn a_lease_with_no_keys_ends_without_a_revision() {
    let mut reg = Registry::new();
    let l = grant(&mut reg, 0, 10);
    let rev = reg.revision();
    watch(&mut reg, "w", rev + 1);
    assert!(reg.expire_due(Time(10)).is_empty());
    assert!(reg.lease(l).is_none());
    assert_eq!(reg.revision(), rev);
}

#[test]
fn keepalive_extends_expires_at() {
    let mut reg = Registry::new();
    let l = grant(&mut reg, 0, 100);
    assert_eq!(reg.lease(l).unwrap().expires_at, Time(100));
    call_at(
        &mut reg,
        0,
        "c",
        always(vec![put(barrier("r"), session("c", l.0), Some(l))]),
    );

    let (resp, events) = call_at(&mut reg, 60, "c", Request::KeepAlive { lease: l });
    assert_eq!(resp, Response::KeptAlive { ttl: 100 });
    assert!(events.is_empty());
    assert_eq!(reg.lease(l).unwrap().expires_at, Time(160));

    reg.expire_due(Time(120));
    assert!(reg.lease(l).is_some(), "kept alive past its first deadline");
    assert!(reg.get(&barrier("r")).is_some());
    reg.expire_due(Time(160));
    assert!(reg.lease(l).is_none());
    assert!(reg.get(&barrier("r")).is_none());
    assert_eq!(
        call_at(&mut reg, 170, "c", Request::KeepAlive { lease: l }).0,
        Response::LeaseNotFound
    );
}

#[test]
fn leases_are_never_reused_and_track_their_keys() {
    let mut reg = Registry::new();
    let l1 = grant(&mut reg, 0, 10);
    call(&mut reg, "admin", Request::Revoke { lease: l1 });
    let l2 = grant(&mut reg, 0, 10);
    assert_ne!(l1, l2);
    call(
        &mut reg,
        "c",
        always(vec![put(barrier("a"), Value::Empty, Some(l2))]),
    );
    call(
        &mut reg,
        "c",
        always(vec![put(barrier("b"), Value::Empty, Some(l2))]),
    );
    call(
        &mut reg,
        "c",
        always(vec![put(barrier("b"), Value::Empty, None)]),
    );
    let keys: Vec<&Key> = reg.lease(l2).unwrap().keys.iter().collect();
    assert_eq!(keys, vec![&barrier("a")]);
}

// ---------------------------------------------------------------------------------------------
// Watches

fn bump(reg: &mut Registry, who: &str, key: &str) -> Deliveries {
    call(reg, who, always(vec![put_empty(res_key(key))])).1
}

#[test]
fn watch_events_arrive_in_revision_order_to_every_watcher() {
    let mut reg = Registry::new();
    let from = reg.revision() + 1;
    for w in ["w1", "w2", "writer"] {
        assert_eq!(watch(&mut reg, w, from).0, Response::WatchCreated);
        assert!(reg.is_watching(&client(w)));
    }
    let mut got: BTreeMap<String, Vec<WatchEvent>> = BTreeMap::new();
    for i in 0..5 {
        let key = format!("k{i}");
        let deliveries = bump(&mut reg, "writer", &key);
        assert_eq!(deliveries.len(), 3, "every watcher, the writer included");
        for (c, e) in deliveries {
            assert_eq!(
                e.changes,
                vec![Change::Put(
                    res_key(&key),
                    reg.get(&res_key(&key)).unwrap().clone()
                )]
            );
            got.entry(c.0.to_string()).or_default().push(e);
        }
    }
    let expected: Vec<Revision> = (from..=reg.revision()).collect();
    for w in ["w1", "w2", "writer"] {
        let revs: Vec<Revision> = got[w].iter().map(|e| e.rev).collect();
        assert_eq!(revs, expected, "{w}");
    }
    assert_eq!(got["w1"], got["w2"]);
}

#[test]
fn a_watch_from_an_older_revision_replays_history() {
    let mut reg = Registry::new();
    watch(&mut reg, "w1", 2);
    let mut seen = Vec::new();
    for i in 0..6 {
        seen.extend(events_for(&bump(&mut reg, "c", &format!("k{i}")), "w1"));
    }
    let from = 4;
    let (resp, replay) = watch(&mut reg, "late", from);
    assert_eq!(resp, Response::WatchCreated);
    let replay = events_for(&replay, "late");
    let expected: Vec<WatchEvent> = seen.iter().filter(|e| e.rev >= from).cloned().collect();
    assert_eq!(replay, expected);
    assert!(!replay.is_empty());

    // And then it is live, with no duplicate of the replay.
    let d = bump(&mut reg, "c", "after");
    let late = events_for(&d, "late");
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].rev, reg.revision());
    assert_eq!(events_for(&d, "w1"), late);
}

#[test]
fn a_watch_from_a_future_revision_starts_there() {
    let mut reg = Registry::new();
    let from = reg.revision() + 3;
    watch(&mut reg, "w", from);
    let mut got = Vec::new();
    for i in 0..4 {
        got.extend(events_for(&bump(&mut reg, "c", &format!("k{i}")), "w"));
    }
    let revs: Vec<Revision> = got.iter().map(|e| e.rev).collect();
    assert_eq!(revs, (from..=reg.revision()).collect::<Vec<_>>());
}

#[test]
fn a_new_watch_replaces_the_old_one() {
    let mut reg = Registry::new();
    watch(&mut reg, "w", 2);
    bump(&mut reg, "c", "a");
    let next = reg.revision() + 1;
    let (_, replay) = watch(&mut reg, "w", next);
    assert!(replay.is_empty());
    let d = bump(&mut reg, "c", "b");
    assert_eq!(
        events_for(&d, "w").len(),
        1,
        "one watch per client: no duplicates"
    );
}

#[test]
fn after_compaction_an_old_watch_answers_compacted() {
    let mut reg = Registry::new();
    let mut all = Vec::new();
    watch(&mut reg, "w", 2);
    for i in 0..6 {
        all.extend(events_for(&bump(&mut reg, "c", &format!("k{i}")), "w"));
    }
    let at = 4;
    reg.compact(at);
    for from in [0, 1, at - 1, at] {
        assert_eq!(
            watch(&mut reg, "late", from),
            (Response::Compacted { compact_rev: at }, vec![]),
            "from {from}"
        );
        assert!(!reg.is_watching(&client("late")));
    }
    let (resp, replay) = watch(&mut reg, "late", at + 1);
    assert_eq!(resp, Response::WatchCreated);
    let expected: Vec<WatchEvent> = all.iter().filter(|e| e.rev > at).cloned().collect();
    assert_eq!(events_for(&replay, "late"), expected);
    assert!(reg.is_watching(&client("late")));

    // Compaction never goes past the current revision, and never backwards.
    let rev = reg.revision();
    reg.compact(rev + 100);
    assert_eq!(
        watch(&mut reg, "x", rev).0,
        Response::Compacted { compact_rev: rev }
    );
    assert_eq!(watch(&mut reg, "x", rev + 1).0, Response::WatchCreated);
    reg.compact(2);
    assert_eq!(
        watch(&mut reg, "y", rev).0,
        Response::Compacted { compact_rev: rev }
    );
}

#[test]
fn break_watch_stops_delivery_to_that_client_only() {
    let mut reg = Registry::new();
    watch(&mut reg, "a", 2);
    watch(&mut reg, "b", 2);
    bump(&mut reg, "c", "k0");
    let last_seen = reg.revision();
    assert!(reg.break_watch(&client("a")));
    assert!(!reg.break_watch(&client("a")), "already broken");
    assert!(!reg.is_watching(&client("a")));

    let mut missed = Vec::new();
    for i in 1..4 {
        let d = bump(&mut reg, "c", &format!("k{i}"));
        assert!(events_for(&d, "a").is_empty());
        missed.extend(events_for(&d, "b"));
    }
    assert_eq!(missed.len(), 3);
    // The client re-watches from the next revision it has not seen and misses nothing.
    let (_, replay) = watch(&mut reg, "a", last_seen + 1);
    assert_eq!(events_for(&replay, "a"), missed);
}

#[test]
fn restart_breaks_every_watch_and_keeps_the_data() {
    let mut reg = Registry::new();
    let l = grant(&mut reg, 0, 100);
    call(
        &mut reg,
        "c",
        always(vec![put(barrier("r"), session("c", l.0), Some(l))]),
    );
    watch(&mut reg, "a", 3);
    watch(&mut reg, "b", 3);
    let keys: Vec<(Key, KeyValue)> = reg.keys().map(|(k, v)| (k.clone(), v.clone())).collect();
    let rev = reg.revision();

    let broken = reg.restart(Time(50));
    assert_eq!(broken, vec![client("a"), client("b")]);
    assert!(!reg.is_watching(&client("a")) && !reg.is_watching(&client("b")));
    assert_eq!(reg.revision(), rev);
    assert_eq!(
        reg.keys()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>(),
        keys
    );
    assert_eq!(
        reg.lease(l).unwrap().expires_at,
        Time(150),
        "leases get a fresh ttl"
    );
    assert!(
        bump(&mut reg, "c", "x").is_empty(),
        "nobody watches any more"
    );
    assert!(reg.restart(Time(60)).is_empty());
}

// ---------------------------------------------------------------------------------------------
// The watch stream, under random operations from two clients, is gap-free and ordered.

const CLIENTS: [&str; 2] = ["c0", "c1"];
const OBSERVER: &str = "obs";

#[derive(Clone, Copy, Debug)]
enum LeaseChoice {
    None,
    Own,
    Other,
}

#[derive(Clone, Debug)]
enum Step {
    /// Put keys (values of the right shape for each key) in one txn.
    Put {
        c: usize,
        keys: Vec<usize>,
        lease: LeaseChoice,
        tag: u8,
    },
    /// `if key absent then put else delete`.
    PutIfAbsent {
        c: usize,
        key: usize,
        lease: LeaseChoice,
    },
    Delete {
        c: usize,
        keys: Vec<usize>,
    },
    Grant {
        c: usize,
    },
    KeepAlive {
        c: usize,
    },
    Revoke {
        c: usize,
    },
    Expire {
        c: usize,
    },
    Tick {
        ms: u64,
    },
    Range {
        c: usize,
    },
    StartWatching {
        c: usize,
    },
    BreakWatch {
        c: usize,
    },
    Rewatch {
        c: usize,
    },
    Restart,
    Compact {
        frac: u8,
    },
}

fn lease_choice() -> impl Strategy<Value = LeaseChoice> {
    prop_oneof![
        Just(LeaseChoice::None),
        Just(LeaseChoice::Own),
        Just(LeaseChoice::Other)
    ]
}

const NKEYS: usize = 9;

fn step() -> impl Strategy<Value = Step> {
    let c = 0..CLIENTS.len();
    let keys = proptest::collection::vec(0..NKEYS, 1..4);
    prop_oneof![
        6 => (c.clone(), keys.clone(), lease_choice(), any::<u8>())
            .prop_map(|(c, keys, lease, tag)| Step::Put { c, keys, lease, tag }),
        3 => (c.clone(), 0..NKEYS, lease_choice()).prop_map(|(c, key, lease)| Step::PutIfAbsent { c, key, lease }),
        3 => (c.clone(), keys).prop_map(|(c, keys)| Step::Delete { c, keys }),
        2 => c.clone().prop_map(|c| Step::Grant { c }),
        1 => c.clone().prop_map(|c| Step::KeepAlive { c }),
        1 => c.clone().prop_map(|c| Step::Revoke { c }),
        1 => c.clone().prop_map(|c| Step::Expire { c }),
        1 => (1u64..80).prop_map(|ms| Step::Tick { ms }),
        1 => c.clone().prop_map(|c| Step::Range { c }),
        2 => c.clone().prop_map(|c| Step::StartWatching { c }),
        1 => c.clone().prop_map(|c| Step::BreakWatch { c }),
        2 => c.clone().prop_map(|c| Step::Rewatch { c }),
        1 => Just(Step::Restart),
        1 => any::<u8>().prop_map(|frac| Step::Compact { frac }),
    ]
}

/// Key `i` of the small key space, and a value of the shape the view expects for it.
fn key_value(i: usize, owner: &str, lease: Option<LeaseId>, tag: u8) -> (Key, Value) {
    let s = Value::Session(Session {
        node: NodeId::new(owner),
        lease: lease.unwrap_or(LeaseId(0)),
    });
    match i {
        0 => (Key::Member(NodeId::new("c0")), s),
        1 => (Key::Member(NodeId::new("c1")), s),
        2 => (Key::Leader, s),
        3 => (res_key("r0"), Value::Empty),
        4 => (res_key("r1"), Value::Empty),
        5 => (barrier("r0"), s),
        6 => (barrier("r1"), s),
        7 => {
            let mut a = Assignment {
                term: u64::from(tag % 3),
                epoch: u64::from(tag),
                ..Assignment::default()
            };
            a.shares
                .entry(NodeId::new(owner))
                .or_default()
                .insert(ResourceId::new("r0"));
            (Key::Assignment, Value::Assignment(a))
        }
        _ => (Key::Status, Value::Empty),
    }
}

#[derive(Debug, Default)]
struct Client {
    lease: Option<LeaseId>,
    /// The early `Range` the client started from.
    start: Option<(Revision, Vec<(Key, KeyValue)>)>,
    events: Vec<WatchEvent>,
    watching: bool,
    last_seen: Revision,
}

struct World {
    reg: Registry,
    now: u64,
    clients: BTreeMap<String, Client>,
}

impl World {
    fn route(&mut self, deliveries: Deliveries) -> Result<(), TestCaseError> {
        for (to, event) in deliveries {
            let c = self
                .clients
                .get_mut(to.0.as_str())
                .ok_or_else(|| TestCaseError::fail(format!("event for unknown {to}")))?;
            prop_assert!(c.watching, "{} got {} without a watch", to, event);
            prop_assert_eq!(
                event.rev,
                c.last_seen + 1,
                "{} got {} after {}",
                to,
                event,
                c.last_seen
            );
            c.last_seen = event.rev;
            c.events.push(event);
        }
        Ok(())
    }

    fn watch(&mut self, name: &str) -> Result<(), TestCaseError> {
        let from = self.clients[name].last_seen + 1;
        let (resp, replay) = self.reg.handle(
            Time(self.now),
            &client(name),
            &Request::Watch { from_rev: from },
        );
        prop_assert_eq!(resp, Response::WatchCreated, "{} from {}", name, from);
        self.clients.get_mut(name).unwrap().watching = true;
        self.route(replay)
    }

    fn start(&mut self, name: &str) -> Result<(), TestCaseError> {
        if self.clients[name].start.is_some() {
            return Ok(());
        }
        let (rev, kvs) = range(&mut self.reg);
        let c = self.clients.get_mut(name).unwrap();
        c.start = Some((rev, kvs));
        c.last_seen = rev;
        self.watch(name)
    }

    fn lease_for(&self, c: usize, choice: LeaseChoice) -> Option<LeaseId> {
        match choice {
            LeaseChoice::None => None,
            LeaseChoice::Own => self.clients[CLIENTS[c]].lease,
            LeaseChoice::Other => self.clients[CLIENTS[1 - c]].lease,
        }
    }

    fn request(&mut self, c: usize, req: Request) -> Result<Response, TestCaseError> {
        let rev = self.reg.revision();
        let seen = self.clients[OBSERVER].events.len();
        let (resp, deliveries) = self.reg.handle(Time(self.now), &client(CLIENTS[c]), &req);
        self.route(deliveries)?;
        self.check_revision(rev, seen)?;
        Ok(resp)
    }

    /// The revision moved by exactly the number of events the always-watching observer got.
    fn check_revision(&self, rev: Revision, seen: usize) -> Result<(), TestCaseError> {
        let new = (self.clients[OBSERVER].events.len() - seen) as u64;
        prop_assert_eq!(self.reg.revision(), rev + new);
        Ok(())
    }

    fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Put {
                c,
                keys,
                lease,
                tag,
            } => {
                let l = self.lease_for(*c, *lease);
                let ops = keys
                    .iter()
                    .map(|k| {
                        let (key, value) = key_value(*k, CLIENTS[*c], l, *tag);
                        put(key, value, l)
                    })
                    .collect();
                let before = self.reg.clone();
                let resp = self.request(*c, always(ops))?;
                match resp {
                    Response::Txn(t) => {
                        prop_assert!(t.succeeded);
                        prop_assert_eq!(t.rev, before.revision() + 1);
                    }
                    Response::LeaseNotFound => prop_assert_eq!(&self.reg, &before),
                    other => prop_assert!(false, "put answered {:?}", other),
                }
            }
            Step::PutIfAbsent { c, key, lease } => {
                let l = self.lease_for(*c, *lease);
                let (k, v) = key_value(*key, CLIENTS[*c], l, 0);
                let present = self.reg.get(&k).is_some();
                let resp = self.request(
                    *c,
                    txn(
                        vec![Compare::Absent(k.clone())],
                        vec![put(k.clone(), v, l)],
                        vec![del(k)],
                    ),
                )?;
                if let Response::Txn(t) = resp {
                    prop_assert_eq!(t.succeeded, !present);
                }
            }
            Step::Delete { c, keys } => {
                let ops = keys
                    .iter()
                    .map(|k| del(key_value(*k, "", None, 0).0))
                    .collect();
                self.request(*c, always(ops))?;
            }
            Step::Grant { c } => {
                if let Response::Granted { lease, .. } =
                    self.request(*c, Request::Grant { ttl: 100 })?
                {
                    self.clients.get_mut(CLIENTS[*c]).unwrap().lease = Some(lease);
                }
            }
            Step::KeepAlive { c } => {
                if let Some(lease) = self.clients[CLIENTS[*c]].lease {
                    let alive = self.reg.lease(lease).is_some();
                    let resp = self.request(*c, Request::KeepAlive { lease })?;
                    prop_assert_eq!(matches!(resp, Response::KeptAlive { .. }), alive);
                }
            }
            Step::Revoke { c } => {
                if let Some(lease) = self.clients[CLIENTS[*c]].lease {
                    self.request(*c, Request::Revoke { lease })?;
                    prop_assert!(self.reg.lease(lease).is_none());
                }
            }
            Step::Expire { c } => {
                if let Some(lease) = self.clients[CLIENTS[*c]].lease {
                    let (rev, seen) = (self.reg.revision(), self.clients[OBSERVER].events.len());
                    let d = self.reg.expire(lease);
                    self.route(d)?;
                    self.check_revision(rev, seen)?;
                    prop_assert!(self.reg.keys().all(|(_, kv)| kv.lease != Some(lease)));
                }
            }
            Step::Tick { ms } => {
                self.now += ms;
                let (rev, seen) = (self.reg.revision(), self.clients[OBSERVER].events.len());
                let d = self.reg.expire_due(Time(self.now));
                self.route(d)?;
                self.check_revision(rev, seen)?;
                prop_assert!(self
                    .reg
                    .leases()
                    .all(|(_, l)| l.expires_at > Time(self.now)));
            }
            Step::Range { c } => {
                let before = self.reg.clone();
                self.request(*c, Request::Range)?;
                prop_assert_eq!(&self.reg, &before);
            }
            Step::StartWatching { c } => self.start(CLIENTS[*c])?,
            Step::BreakWatch { c } => {
                let name = CLIENTS[*c];
                let had = self.reg.break_watch(&client(name));
                let cl = self.clients.get_mut(name).unwrap();
                prop_assert_eq!(had, cl.watching);
                cl.watching = false;
            }
            Step::Rewatch { c } => {
                let name = CLIENTS[*c];
                if self.clients[name].start.is_some() && !self.clients[name].watching {
                    self.watch(name)?;
                }
            }
            Step::Restart => {
                let watching: Vec<NodeId> = self
                    .clients
                    .iter()
                    .filter(|(_, c)| c.watching)
                    .map(|(n, _)| client(n))
                    .collect();
                let broken = self.reg.restart(Time(self.now));
                prop_assert_eq!(broken, watching, "restart breaks exactly the live watches");
                for c in self.clients.values_mut() {
                    c.watching = false;
                }
                // The observer re-watches at once.
                self.watch(OBSERVER)?;
            }
            Step::Compact { frac } => {
                // Never compact what a started client has not seen yet: it re-watches from there.
                let bound = self
                    .clients
                    .values()
                    .filter(|c| c.start.is_some())
                    .map(|c| c.last_seen)
                    .min()
                    .unwrap_or(self.reg.revision());
                let at = bound * u64::from(*frac) / 255;
                self.reg.compact(at);
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn watch_streams_are_gap_free_and_ordered(steps in proptest::collection::vec(step(), 1..60)) {
        let mut w = World { reg: Registry::new(), now: 0, clients: BTreeMap::new() };
        for name in CLIENTS.iter().chain([&OBSERVER]) {
            w.clients.insert(name.to_string(), Client::default());
        }
        w.start(OBSERVER)?;
        for s in &steps {
            w.step(s)?;
        }
        for name in CLIENTS {
            w.start(name)?;
            if !w.clients[name].watching {
                w.watch(name)?;
            }
        }
        let (rev, kvs) = range(&mut w.reg);
        let fresh = View::from_range(rev, &kvs);
        for (name, c) in &w.clients {
            let (start_rev, start_kvs) = c.start.as_ref().unwrap();
            let mut view = View::from_range(*start_rev, start_kvs);
            for e in &c.events {
                view.apply(e);
            }
            prop_assert_eq!(&view, &fresh, "{}'s view from its watch stream", name);
            let revs: Vec<Revision> = c.events.iter().map(|e| e.rev).collect();
            prop_assert_eq!(revs, ((start_rev + 1)..=rev).collect::<Vec<_>>(), "{}", name);
        }
    }
}
