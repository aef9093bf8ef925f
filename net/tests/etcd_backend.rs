//! The etcd backend against a real etcd (Debian's `etcd-server`, started on loopback by
//! `LocalEtcd`), and held to the semantics of the core's pure `Registry` by a differential test.
//!
//! Every test fails (never skips) when the `etcd` binary is missing, saying how to install it.
#![cfg(feature = "etcd")]

use net::backend::etcd::{
    EtcdBackend, EtcdConfig, EtcdTls, KeyCodec, LocalEtcd, LocalEtcdTls, INSTALL_HINT,
};
use net::backend::{Backend, Link, LinkEvent, LinkTimeouts};
use protocol::registry::{Change, Compare, Key, KeyValue, Op, Request, Response, Txn, Value};
use protocol::{Assignment, LeaseId, NodeId, Outcome, Registry, ResourceId, Revision, Session};
use protocol::{ReqId, Time};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const GROUP: &str = "orders";

/// The backend's timeouts in these tests.
const TIMEOUTS: LinkTimeouts = LinkTimeouts {
    request: Duration::from_millis(1_000),
    connect: Duration::from_millis(500),
};

async fn etcd() -> LocalEtcd {
    match LocalEtcd::start().await {
        Ok(etcd) => etcd,
        Err(e) => panic!("cannot run the etcd backend tests: {e}"),
    }
}

fn backend(etcd: &LocalEtcd) -> EtcdBackend {
    EtcdBackend::new(EtcdConfig::new([etcd.endpoint()], GROUP)).expect("valid config")
}

async fn raw_client(etcd: &LocalEtcd) -> etcd_client::Client {
    etcd_client::Client::connect([etcd.endpoint()], None)
        .await
        .expect("raw etcd client")
}

fn node(n: &str) -> NodeId {
    NodeId::new(n)
}

fn res(r: &str) -> ResourceId {
    ResourceId::new(r)
}

fn session(n: &str, lease: LeaseId) -> Value {
    Value::Session(Session {
        node: node(n),
        lease,
    })
}

fn put(key: Key, value: Value, lease: Option<LeaseId>) -> Op {
    Op::Put { key, value, lease }
}

fn txn(compare: Vec<Compare>, then: Vec<Op>, otherwise: Vec<Op>) -> Request {
    Request::Txn(Txn {
        compare,
        then,
        otherwise,
    })
}

/// Drives one link: sends requests one by one, gathers the watch events that come meanwhile.
struct Client {
    link: Link,
    next: ReqId,
    events: Vec<protocol::registry::WatchEvent>,
    broken: usize,
}

impl Client {
    fn open(backend: &EtcdBackend, name: &str) -> Client {
        Client {
            link: backend.open(&node(name), TIMEOUTS),
            next: 1,
            events: Vec::new(),
            broken: 0,
        }
    }

    /// Send a request and wait for its one reply (the link's own timeouts bound it).
    async fn call(&mut self, request: Request) -> Outcome {
        let req = self.next;
        self.next += 1;
        self.link
            .requests
            .send((req, request.clone()))
            .expect("link open");
        let deadline = Instant::now() + TIMEOUTS.request + TIMEOUTS.connect + secs(2);
        loop {
            match self.next_event(deadline).await {
                Some(LinkEvent::Reply { req: r, outcome }) if r == req => return outcome,
                Some(LinkEvent::Reply { req: r, outcome }) => {
                    panic!("reply to {r} ({outcome}) while waiting for {req}")
                }
                Some(_) => {}
                None => panic!("no reply to {request} within the link's timeouts"),
            }
        }
    }

    async fn ok(&mut self, request: Request) -> Response {
        match self.call(request.clone()).await {
            Outcome::Success(r) => r,
            other => panic!("{request} ended {other}"),
        }
    }

    /// The next event (recording watch events and breaks), or `None` at the deadline.
    async fn next_event(&mut self, deadline: Instant) -> Option<LinkEvent> {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, self.link.events.recv())
            .await
            .ok()??;
        match &event {
            LinkEvent::Watch(e) => self.events.push(e.clone()),
            LinkEvent::WatchBroken => self.broken += 1,
            LinkEvent::Reply { .. } => {}
        }
        Some(event)
    }

    /// Wait until the watch has delivered revision `rev` (by an event or a progress event).
    async fn wait_delivered(&mut self, rev: Revision, within: Duration) {
        let deadline = Instant::now() + within;
        while self.delivered() < rev {
            match self.next_event(deadline).await {
                Some(LinkEvent::Reply { req, outcome }) => panic!("stray reply {req}: {outcome}"),
                Some(_) => {}
                None => panic!(
                    "watch delivered up to {} within {within:?}, not {rev}; events {:?}",
                    self.delivered(),
                    self.events
                ),
            }
        }
    }

    /// Wait until the watch breaks.
    async fn wait_broken(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.broken == 0 {
            if let Some(LinkEvent::Reply { req, outcome }) = self.next_event(deadline).await {
                panic!("stray reply {req}: {outcome}");
            }
            if Instant::now() >= deadline {
                panic!("the watch did not break within {within:?}");
            }
        }
    }

    fn delivered(&self) -> Revision {
        self.events.last().map_or(0, |e| e.rev)
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn rev_of(response: &Response) -> Revision {
    match response {
        Response::Txn(t) => t.rev,
        Response::Range { rev, .. } | Response::Revoked { rev } => *rev,
        other => panic!("{other} has no revision"),
    }
}

// ---------------------------------------------------------------------------------------------
// The differential test: one script, run on the core's Registry (the spec) and on etcd.

/// Where the script runs.
trait Target {
    /// Send a request; the outcome.
    async fn call(&mut self, request: Request) -> Outcome;
    /// Let `lease` expire (the registry: at once; etcd: wait for its clock).
    async fn expire(&mut self, lease: LeaseId);
    /// Make sure every watch event so far has been gathered.
    async fn sync(&mut self);
    /// The watch events gathered (etcd's progress events, with no changes, left out: the pure
    /// registry has no global revisions and so needs none).
    fn events(&self) -> Vec<protocol::registry::WatchEvent>;
}

struct Spec {
    registry: Registry,
    me: NodeId,
    events: Vec<protocol::registry::WatchEvent>,
}

impl Target for Spec {
    async fn call(&mut self, request: Request) -> Outcome {
        let (response, deliveries) = self.registry.handle(Time(0), &self.me, &request);
        for (client, event) in deliveries {
            if client == self.me {
                self.events.push(event);
            }
        }
        Outcome::Success(response)
    }

    async fn expire(&mut self, lease: LeaseId) {
        for (client, event) in self.registry.expire(lease) {
            if client == self.me {
                self.events.push(event);
            }
        }
    }

    async fn sync(&mut self) {}

    fn events(&self) -> Vec<protocol::registry::WatchEvent> {
        self.events.clone()
    }
}

struct Real {
    client: Client,
    raw: etcd_client::Client,
    /// The highest revision any reply carried.
    last_rev: Revision,
}

impl Target for Real {
    async fn call(&mut self, request: Request) -> Outcome {
        let outcome = self.client.call(request).await;
        if let Outcome::Success(
            r @ (Response::Txn(_) | Response::Range { .. } | Response::Revoked { .. }),
        ) = &outcome
        {
            self.last_rev = self.last_rev.max(rev_of(r));
        }
        outcome
    }

    async fn expire(&mut self, lease: LeaseId) {
        // etcd expires leases on its own clock; ask it until the lease is gone.
        let deadline = Instant::now() + secs(10);
        loop {
            match self.raw.lease_time_to_live(lease.0 as i64, None).await {
                Ok(r) if r.ttl() > 0 || r.ttl() == 0 && r.granted_ttl() > 0 => {}
                _ => break,
            }
            assert!(Instant::now() < deadline, "lease {lease} did not expire");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Its deletions are the latest revision: learn it and let the watch deliver it.
        let rev = self
            .raw
            .get("/", None)
            .await
            .unwrap()
            .header()
            .unwrap()
            .revision() as u64;
        self.last_rev = self.last_rev.max(rev);
        self.client.wait_delivered(rev, secs(5)).await;
    }

    async fn sync(&mut self) {
        self.client.wait_delivered(self.last_rev, secs(5)).await;
    }

    fn events(&self) -> Vec<protocol::registry::WatchEvent> {
        self.client
            .events
            .iter()
            .filter(|e| !e.changes.is_empty())
            .cloned()
            .collect()
    }
}

/// One line of the transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Line {
    step: String,
    outcome: Outcome,
}

/// The script: leases, members, compare-and-swaps that hold and fail, gets, puts on a revoked
/// lease, ranges, watches (live and from a past revision), keep-alives of dead leases, a lease
/// expiry and a revoke. Requests refer to leases and revisions the target itself answered.
async fn script<T: Target>(t: &mut T) -> (Vec<Line>, Vec<protocol::registry::WatchEvent>) {
    let mut lines = Vec::new();
    macro_rules! step {
        ($name:expr, $request:expr) => {{
            let outcome = t.call($request).await;
            lines.push(Line {
                step: $name.to_string(),
                outcome: outcome.clone(),
            });
            match outcome {
                Outcome::Success(r) => r,
                other => panic!("step {} ended {other}", $name),
            }
        }};
    }
    let granted = |r: Response| match r {
        Response::Granted { lease, .. } => lease,
        other => panic!("grant answered {other}"),
    };
    let (a, b, c) = (
        Key::Member(node("a")),
        Key::Member(node("b")),
        Key::Member(node("c")),
    );

    // Leases: L0 will expire, L1 lives throughout, L2 is revoked.
    let l0 = granted(step!("grant L0", Request::Grant { ttl: 2_000 }));
    let l1 = granted(step!("grant L1", Request::Grant { ttl: 10_000 }));
    let l2 = granted(step!("grant L2", Request::Grant { ttl: 10_000 }));
    step!("range empty", Request::Range);
    step!("watch from 2", Request::Watch { from_rev: 2 });

    // Members register on their leases.
    let register = |key: &Key, n: &str, lease| {
        txn(
            vec![Compare::Absent(key.clone())],
            vec![put(key.clone(), session(n, lease), Some(lease))],
            vec![Op::Get { key: key.clone() }],
        )
    };
    step!("register a", register(&a, "a", l1));
    step!("register a again: compare fails", register(&a, "a", l1));
    step!("register b", register(&b, "b", l0));
    step!("register c", register(&c, "c", l2));

    // Election: put-then-get inside one transaction sees its own write.
    let elect = |n: &str, lease| {
        txn(
            vec![Compare::Absent(Key::Leader)],
            vec![
                put(Key::Leader, session(n, lease), Some(lease)),
                Op::Get { key: Key::Leader },
            ],
            vec![Op::Get { key: Key::Leader }],
        )
    };
    let won = step!("a elects itself", elect("a", l1));
    step!("b loses the election", elect("b", l0));
    let term = match &won {
        Response::Txn(t) => t.gets[0].as_ref().expect("leader read back").create_rev,
        other => panic!("election answered {other}"),
    };

    // The leader writes assignments, fenced by its term; resources in the same revision.
    let assignment = |epoch| {
        Value::Assignment(Assignment {
            term,
            epoch,
            shares: [
                (node("a"), [res("r1")].into_iter().collect()),
                (node("b"), [res("r2")].into_iter().collect()),
            ]
            .into_iter()
            .collect(),
        })
    };
    let first = step!(
        "fenced assignment write",
        txn(
            vec![
                Compare::ValueIs(Key::Leader, session("a", l1)),
                Compare::CreateRevIs(Key::Leader, term),
            ],
            vec![
                put(Key::Assignment, assignment(1), None),
                put(Key::Resource(res("r1")), Value::Empty, None),
                put(Key::Resource(res("r2")), Value::Empty, None),
            ],
            vec![],
        )
    );
    let seen = rev_of(&first);
    let rewrite = |epoch| {
        txn(
            vec![Compare::ModRevIs(Key::Assignment, seen)],
            vec![put(Key::Assignment, assignment(epoch), None)],
            vec![Op::Get {
                key: Key::Assignment,
            }],
        )
    };
    step!("assignment rewrite on the seen mod_rev", rewrite(2));
    step!("assignment rewrite on a stale mod_rev", rewrite(3));
    step!(
        "wrong leader value",
        txn(
            vec![Compare::ValueIs(Key::Leader, session("b", l0))],
            vec![put(Key::Assignment, assignment(9), None)],
            vec![],
        )
    );
    step!(
        "wrong term",
        txn(
            vec![Compare::CreateRevIs(Key::Leader, term + 1)],
            vec![put(Key::Assignment, assignment(9), None)],
            vec![],
        )
    );

    // Barriers: the else branch runs when the compare fails.
    step!(
        "barrier r1 through the else branch",
        txn(
            vec![Compare::Exists(Key::Barrier(res("r1")))],
            vec![],
            vec![put(Key::Barrier(res("r1")), session("a", l1), Some(l1))],
        )
    );
    step!(
        "barrier r2",
        txn(
            vec![Compare::Absent(Key::Barrier(res("r2")))],
            vec![put(Key::Barrier(res("r2")), session("b", l0), Some(l0))],
            vec![],
        )
    );
    step!(
        "barrier r2 taken",
        txn(
            vec![Compare::Absent(Key::Barrier(res("r2")))],
            vec![put(Key::Barrier(res("r2")), session("a", l1), Some(l1))],
            vec![Op::Get {
                key: Key::Barrier(res("r2")),
            }],
        )
    );
    // Revision compares against 0 on missing and present keys (etcd reads a missing key's
    // revisions as 0; the core's compares need the key to exist).
    for (name, cmp) in [
        (
            "create_rev 0 of a missing key",
            Compare::CreateRevIs(Key::Stopped(node("z")), 0),
        ),
        (
            "mod_rev 0 of a missing key",
            Compare::ModRevIs(Key::Stopped(node("z")), 0),
        ),
        ("create_rev 0 of a key", Compare::CreateRevIs(a.clone(), 0)),
        (
            "value of a missing key",
            Compare::ValueIs(Key::Status, Value::Empty),
        ),
        ("exists of a missing key", Compare::Exists(Key::Status)),
        ("absent of a key", Compare::Absent(a.clone())),
    ] {
        step!(
            name,
            txn(
                vec![cmp],
                vec![put(Key::Resource(res("never")), Value::Empty, None)],
                vec![Op::Get { key: a.clone() }],
            )
        );
    }

    // Deletes: of a key (a revision), of a missing key (none); gets of both.
    step!(
        "delete r2's resource",
        txn(
            vec![],
            vec![Op::Delete {
                key: Key::Resource(res("r2"))
            }],
            vec![]
        )
    );
    step!(
        "delete a missing key",
        txn(
            vec![],
            vec![Op::Delete {
                key: Key::Resource(res("r404"))
            }],
            vec![]
        )
    );
    step!(
        "gets",
        txn(
            vec![],
            vec![
                Op::Get { key: a.clone() },
                Op::Get {
                    key: Key::Resource(res("r2")),
                },
                Op::Get {
                    key: Key::Assignment,
                },
            ],
            vec![],
        )
    );
    step!("keep L0 alive", Request::KeepAlive { lease: l0 });

    // Revoke deletes c's member key in one revision; the lease is then gone.
    step!("revoke L2", Request::Revoke { lease: l2 });
    step!("revoke L2 again", Request::Revoke { lease: l2 });
    step!(
        "put on the revoked lease",
        txn(
            vec![],
            vec![put(Key::Stopped(node("c")), Value::Empty, Some(l2))],
            vec![]
        )
    );
    step!(
        "keep the revoked lease alive",
        Request::KeepAlive { lease: l2 }
    );
    step!(
        "dead lease in the branch not taken",
        txn(
            vec![Compare::Exists(a.clone())],
            vec![put(Key::Status, Value::Empty, None)],
            vec![put(Key::Status, Value::Empty, Some(l2))],
        )
    );
    step!(
        "dead lease in the branch taken, with other writes",
        txn(
            vec![Compare::Exists(a.clone())],
            vec![
                put(Key::Stopped(node("a")), Value::Empty, None),
                put(Key::Stopped(node("c")), Value::Empty, Some(l2)),
            ],
            vec![],
        )
    );
    step!("range", Request::Range);
    t.sync().await;

    // A watch from a past revision replaces the live one and replays history from there.
    step!(
        "watch from the first assignment",
        Request::Watch { from_rev: seen }
    );
    step!("keep L1 alive", Request::KeepAlive { lease: l1 });
    step!("range again", Request::Range);
    t.sync().await;

    // L0 expires: b's member key and barrier go in one revision, delivered on the watch.
    t.expire(l0).await;
    lines.push(Line {
        step: "L0 expired".into(),
        outcome: Outcome::Success(Response::WatchCreated),
    });
    step!(
        "keep the expired lease alive",
        Request::KeepAlive { lease: l0 }
    );
    step!(
        "put on the expired lease",
        txn(
            vec![],
            vec![put(Key::Barrier(res("r2")), session("b", l0), Some(l0))],
            vec![]
        )
    );
    step!(
        "a takes barrier r2",
        txn(
            vec![Compare::Absent(Key::Barrier(res("r2")))],
            vec![put(Key::Barrier(res("r2")), session("a", l1), Some(l1))],
            vec![],
        )
    );
    step!("final range", Request::Range);
    t.sync().await;
    (lines, t.events())
}

/// Lease ids and revisions replaced by their order of first appearance, so that two registries
/// that number them differently compare equal, and a mapping bug (a wrong field, a swapped
/// revision) does not.
#[derive(Default)]
struct Normalise {
    leases: BTreeMap<u64, u64>,
    revs: BTreeMap<u64, u64>,
}

impl Normalise {
    fn lease(&mut self, l: &mut LeaseId) {
        let n = self.leases.len() as u64;
        l.0 = *self.leases.entry(l.0).or_insert(n);
    }

    fn rev(&mut self, r: &mut Revision) {
        let n = self.revs.len() as u64 + 1_000;
        *r = *self.revs.entry(*r).or_insert(n);
    }

    fn value(&mut self, v: &mut Value) {
        match v {
            Value::Empty => {}
            Value::Session(s) => self.lease(&mut s.lease),
            Value::Assignment(a) => self.rev(&mut a.term),
        }
    }

    fn kv(&mut self, kv: &mut KeyValue) {
        self.value(&mut kv.value);
        self.rev(&mut kv.create_rev);
        self.rev(&mut kv.mod_rev);
        if let Some(l) = &mut kv.lease {
            self.lease(l);
        }
    }

    fn outcome(&mut self, o: &mut Outcome) {
        let Outcome::Success(r) = o else { return };
        match r {
            Response::Granted { lease, .. } => self.lease(lease),
            Response::Revoked { rev } => self.rev(rev),
            Response::Txn(t) => {
                self.rev(&mut t.rev);
                for kv in t.gets.iter_mut().flatten() {
                    self.kv(kv);
                }
            }
            Response::Range { rev, kvs } => {
                self.rev(rev);
                for (_, kv) in kvs {
                    self.kv(kv);
                }
            }
            Response::Compacted { compact_rev } => self.rev(compact_rev),
            Response::KeptAlive { .. } | Response::LeaseNotFound | Response::WatchCreated => {}
        }
    }

    fn event(&mut self, e: &mut protocol::registry::WatchEvent) {
        self.rev(&mut e.rev);
        for c in &mut e.changes {
            if let Change::Put(_, kv) = c {
                self.kv(kv);
            }
        }
    }
}

fn normalise(
    mut lines: Vec<Line>,
    mut events: Vec<protocol::registry::WatchEvent>,
) -> (Vec<Line>, Vec<protocol::registry::WatchEvent>) {
    let mut n = Normalise::default();
    for l in &mut lines {
        n.outcome(&mut l.outcome);
    }
    for e in &mut events {
        n.event(e);
    }
    (lines, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_the_core_registry() {
    let etcd = etcd().await;
    let backend = backend(&etcd);
    let mut spec = Spec {
        registry: Registry::new(),
        me: node("a"),
        events: Vec::new(),
    };
    let mut real = Real {
        client: Client::open(&backend, "a"),
        raw: raw_client(&etcd).await,
        last_rev: 0,
    };
    let (spec_lines, spec_events) = script(&mut spec).await;
    let (real_lines, real_events) = script(&mut real).await;
    assert_eq!(real.client.broken, 0, "the watch broke");
    // Revisions delivered in order, each once per watch (progress events included).
    let revs: Vec<Revision> = real.client.events.iter().map(|e| e.rev).collect();
    assert!(!revs.is_empty());

    let (spec_lines, spec_events) = normalise(spec_lines, spec_events);
    let (real_lines, real_events) = normalise(real_lines, real_events);
    for (s, r) in spec_lines.iter().zip(&real_lines) {
        assert_eq!(s.step, r.step);
        assert_eq!(
            s.outcome, r.outcome,
            "step {:?}: the registry (left) and etcd (right) differ",
            s.step
        );
    }
    assert_eq!(spec_lines.len(), real_lines.len());
    assert_eq!(
        spec_events, real_events,
        "watch events: the registry (left) and etcd (right) differ"
    );
    // The script did exercise what it claims to.
    let all = format!("{spec_lines:?}");
    for needle in ["LeaseNotFound", "succeeded: false", "Revoked", "Delete"] {
        assert!(
            all.contains(needle) || format!("{spec_events:?}").contains(needle),
            "{needle}"
        );
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn keys_map_to_the_group_prefix_and_back() {
    let codec = KeyCodec::new(GROUP);
    let cases = [
        (Key::Member(node("n1")), "/orders/members/n1"),
        (Key::Leader, "/orders/leader"),
        (Key::Resource(res("q/1")), "/orders/resources/q/1"),
        (Key::Assignment, "/orders/assignment"),
        (Key::Barrier(res("q1")), "/orders/barriers/q1"),
        (Key::Status, "/orders/status"),
        (Key::Stopped(node("n2")), "/orders/stopped/n2"),
    ];
    for (key, raw) in cases {
        assert_eq!(codec.key(&key), raw.as_bytes());
        assert_eq!(codec.parse_key(raw.as_bytes()), Some(key));
    }
    for bogus in [
        "/orders/bogus",
        "/orders/leader/x",
        "/orders/members",
        "/ordersx/leader",
        "/other/leader",
        "orders/leader",
    ] {
        assert_eq!(codec.parse_key(bogus.as_bytes()), None, "{bogus}");
    }
}

#[test]
fn config_is_checked() {
    assert!(EtcdBackend::new(EtcdConfig::new(Vec::<String>::new(), GROUP)).is_err());
    assert!(EtcdBackend::new(EtcdConfig::new(["http://127.0.0.1:1"], "a/b")).is_err());
    assert!(EtcdBackend::new(EtcdConfig::new(["http://127.0.0.1:1"], "")).is_err());
    let mut tls = EtcdConfig::new(["https://127.0.0.1:1"], GROUP);
    tls.tls = Some(EtcdTls {
        ca: "/nonexistent/ca.pem".into(),
        cert: None,
        key: None,
        domain: None,
    });
    let err = EtcdBackend::new(tls).err().expect("missing CA file");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    let mut user = EtcdConfig::new(["http://127.0.0.1:1"], GROUP);
    user.user = Some(("root".into(), "secret".into()));
    assert!(!format!("{user:?}").contains("secret"));
}

#[tokio::test]
async fn a_missing_etcd_binary_says_how_to_install_it() {
    let err = LocalEtcd::start_with_binary("/nonexistent/etcd")
        .await
        .expect_err("no such binary");
    let msg = err.to_string();
    assert!(msg.contains(INSTALL_HINT), "{msg}");
    assert!(msg.contains("./setup.sh") && msg.contains("apt-get install etcd-server"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_rounds_up_to_whole_seconds() {
    let etcd = etcd().await;
    let mut c = Client::open(&backend(&etcd), "a");
    for (asked, granted) in [(1, 1_000), (1_000, 1_000), (1_500, 2_000)] {
        match c.ok(Request::Grant { ttl: asked }).await {
            Response::Granted { ttl, lease } => {
                assert_eq!(ttl, granted, "asked {asked} ms");
                assert_eq!(
                    c.ok(Request::KeepAlive { lease }).await,
                    Response::KeptAlive { ttl: granted }
                );
            }
            other => panic!("{other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_watch_answers_compacted() {
    let etcd = etcd().await;
    let mut c = Client::open(&backend(&etcd), "a");
    let mut last = 0;
    for i in 0..4 {
        let r = c
            .ok(txn(
                vec![],
                vec![put(
                    Key::Resource(res(&format!("r{i}"))),
                    Value::Empty,
                    None,
                )],
                vec![],
            ))
            .await;
        last = rev_of(&r);
    }
    raw_client(&etcd)
        .await
        .compact(last as i64, None)
        .await
        .expect("compact");
    assert_eq!(
        c.ok(Request::Watch { from_rev: last - 2 }).await,
        Response::Compacted { compact_rev: last }
    );
    // From the compacted revision on, history is still there (etcd keeps revision `last`).
    assert_eq!(
        c.ok(Request::Watch { from_rev: last + 1 }).await,
        Response::WatchCreated
    );
    let r = c
        .ok(txn(
            vec![],
            vec![put(Key::Status, Value::Empty, None)],
            vec![],
        ))
        .await;
    c.wait_delivered(rev_of(&r), secs(3)).await;
    assert_eq!(c.events.len(), 1, "{:?}", c.events);
    assert_eq!(c.broken, 0);
}

/// A reply's revision can be another group's (etcd's revision is cluster-global): the link asks
/// for a progress notification, and the watch reaches that revision with an empty event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_notifications_carry_the_watch_to_each_replys_revision() {
    let etcd = etcd().await;
    let mut raw = raw_client(&etcd).await;
    let mut c = Client::open(&backend(&etcd), "a");
    let start = rev_of(&c.ok(Request::Range).await);
    assert_eq!(
        c.ok(Request::Watch {
            from_rev: start + 1
        })
        .await,
        Response::WatchCreated
    );

    // Writes outside the group move the revision; a read-only txn then answers that revision.
    raw.put("/elsewhere/x", "1", None).await.unwrap();
    let outside = raw.put("/elsewhere/y", "2", None).await.unwrap();
    let outside = outside.header().unwrap().revision() as u64;
    let gets = txn(vec![], vec![Op::Get { key: Key::Leader }], vec![]);
    let r = c.ok(gets.clone()).await;
    assert_eq!(rev_of(&r), outside);
    c.wait_delivered(outside, secs(3)).await;
    assert_eq!(c.events.len(), 1, "{:?}", c.events);
    assert_eq!(c.events[0].rev, outside);
    assert!(c.events[0].changes.is_empty());

    // A write of ours arrives as its own event, with no progress event needed.
    let r = c
        .ok(txn(
            vec![],
            vec![put(Key::Status, Value::Empty, None)],
            vec![],
        ))
        .await;
    c.wait_delivered(rev_of(&r), secs(3)).await;
    assert_eq!(c.events.len(), 2, "{:?}", c.events);
    assert_eq!(c.events[1].changes.len(), 1);

    // A foreign key under the prefix is skipped (logged), but its revision still counts.
    let foreign = raw.put("/orders/not-ours", "?", None).await.unwrap();
    let foreign = foreign.header().unwrap().revision() as u64;
    c.wait_delivered(foreign, secs(3)).await;
    assert!(c.events.last().unwrap().changes.is_empty());
    match c.ok(Request::Range).await {
        Response::Range { kvs, rev } => {
            assert_eq!(rev, foreign);
            assert_eq!(kvs.len(), 1, "{kvs:?}");
        }
        other => panic!("{other}"),
    }

    // A watch created in the past catches up first, then progress works again.
    assert_eq!(
        c.ok(Request::Watch {
            from_rev: start + 1
        })
        .await,
        Response::WatchCreated
    );
    raw.put("/elsewhere/z", "3", None).await.unwrap();
    let r = c.ok(gets).await;
    let before = c.events.len();
    c.wait_delivered(rev_of(&r), secs(3)).await;
    let replayed: Vec<_> = c.events[before..].iter().map(|e| e.rev).collect();
    assert_eq!(replayed.last(), Some(&rev_of(&r)), "{replayed:?}");
    assert_eq!(c.broken, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_run_concurrently() {
    let etcd = etcd().await;
    let mut c = Client::open(&backend(&etcd), "a");
    let lease = match c.ok(Request::Grant { ttl: 5_000 }).await {
        Response::Granted { lease, .. } => lease,
        other => panic!("{other}"),
    };
    // Three requests in flight at once: one reply each, whatever the order.
    let requests = [
        txn(
            vec![],
            vec![put(
                Key::Member(node("a")),
                session("a", lease),
                Some(lease),
            )],
            vec![],
        ),
        Request::KeepAlive { lease },
        Request::Range,
    ];
    for (i, r) in requests.iter().enumerate() {
        c.link.requests.send((100 + i as u64, r.clone())).unwrap();
    }
    let mut replies = BTreeMap::new();
    let deadline = Instant::now() + secs(3);
    while replies.len() < 3 {
        match c.next_event(deadline).await {
            Some(LinkEvent::Reply { req, outcome }) => {
                assert!(
                    replies.insert(req, outcome).is_none(),
                    "two replies to {req}"
                );
            }
            Some(_) => {}
            None => panic!("replies {replies:?}"),
        }
    }
    assert!(
        replies.values().all(|o| matches!(o, Outcome::Success(_))),
        "{replies:?}"
    );
}

/// etcd down: requests end PostFailed or Unknown within the link's timeouts, the watch breaks;
/// paused: requests end Unknown at the request timeout; after a restart everything works again
/// and the durable state (keys, leases) is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_down_paused_and_restarted() {
    let mut etcd = etcd().await;
    let mut c = Client::open(&backend(&etcd), "a");
    let lease = match c.ok(Request::Grant { ttl: 10_000 }).await {
        Response::Granted { lease, .. } => lease,
        other => panic!("{other}"),
    };
    let member = Key::Member(node("a"));
    let register = txn(
        vec![],
        vec![put(member.clone(), session("a", lease), Some(lease))],
        vec![],
    );
    let r = c.ok(register.clone()).await;
    assert_eq!(
        c.ok(Request::Watch {
            from_rev: rev_of(&r) + 1
        })
        .await,
        Response::WatchCreated
    );
    let bound = TIMEOUTS.request + TIMEOUTS.connect + Duration::from_millis(300);

    // Killed: refused connections, nothing sent.
    etcd.kill();
    c.wait_broken(secs(3)).await;
    for request in [
        register.clone(),
        Request::KeepAlive { lease },
        Request::Range,
    ] {
        let t0 = Instant::now();
        let outcome = c.call(request.clone()).await;
        assert!(
            matches!(outcome, Outcome::PostFailed | Outcome::Unknown),
            "{request} with etcd down ended {outcome}"
        );
        assert!(t0.elapsed() <= bound, "{request} took {:?}", t0.elapsed());
    }
    let outcome = c.call(Request::Watch { from_rev: 1 }).await;
    assert!(
        matches!(outcome, Outcome::PostFailed | Outcome::Unknown),
        "{outcome}"
    );

    // Back: the link reconnects by itself; keys and the lease survived.
    etcd.restart().await.expect("restart etcd");
    let deadline = Instant::now() + secs(10);
    let kvs = loop {
        match c.call(Request::Range).await {
            Outcome::Success(Response::Range { kvs, .. }) => break kvs,
            other => assert!(Instant::now() < deadline, "after restart: {other}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(kvs.len(), 1);
    assert_eq!(kvs[0].0, member);
    assert!(matches!(
        c.ok(Request::KeepAlive { lease }).await,
        Response::KeptAlive { .. }
    ));

    // Paused (SIGSTOP): the request was sent and no answer comes: Unknown, at the timeout.
    let r = c.ok(Request::Range).await;
    assert_eq!(
        c.ok(Request::Watch {
            from_rev: rev_of(&r) + 1
        })
        .await,
        Response::WatchCreated
    );
    etcd.pause().expect("pause etcd");
    let t0 = Instant::now();
    let outcome = c.call(register.clone()).await;
    let took = t0.elapsed();
    etcd.resume().expect("resume etcd");
    assert_eq!(outcome, Outcome::Unknown);
    assert!(took >= TIMEOUTS.request && took <= bound, "took {took:?}");
    // The write may land after the pause: the watch then shows it, and it stays consistent.
    let r = c.ok(register).await;
    c.wait_delivered(rev_of(&r), secs(3)).await;
}

/// etcd's own limits, where it is stricter than the core's registry (documented in the
/// backend): a transaction that writes one key twice is refused, so it ends `Fatal`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_etcd_refuses_ends_fatal() {
    let etcd = etcd().await;
    let mut c = Client::open(&backend(&etcd), "a");
    let twice = txn(
        vec![],
        vec![
            put(Key::Status, Value::Empty, None),
            Op::Delete { key: Key::Status },
        ],
        vec![],
    );
    assert_eq!(c.call(twice).await, Outcome::Fatal);
    assert!(matches!(c.ok(Request::Range).await, Response::Range { kvs, .. } if kvs.is_empty()));
}

/// With authentication on, the configured user is passed through; a wrong password is `Fatal`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_is_passed_through() {
    let mut etcd = etcd().await;
    let mut raw = raw_client(&etcd).await;
    raw.user_add("root", "rootpw", None)
        .await
        .expect("add root");
    let _ = raw.role_add("root").await;
    raw.user_grant_role("root", "root")
        .await
        .expect("grant root");
    raw.auth_enable().await.expect("enable auth");

    let mut config = EtcdConfig::new([etcd.endpoint()], GROUP);
    config.user = Some(("root".into(), "rootpw".into()));
    let mut c = Client::open(&EtcdBackend::new(config.clone()).unwrap(), "a");
    assert!(matches!(c.ok(Request::Range).await, Response::Range { .. }));
    // A restarted etcd forgets its (simple) tokens: the link authenticates afresh by itself.
    etcd.restart().await.expect("restart etcd");
    let deadline = Instant::now() + secs(10);
    loop {
        match c.call(Request::Range).await {
            Outcome::Success(Response::Range { .. }) => break,
            other => assert!(Instant::now() < deadline, "after restart: {other}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    config.user = Some(("root".into(), "wrong".into()));
    let mut c = Client::open(&EtcdBackend::new(config).unwrap(), "b");
    assert_eq!(c.call(Request::Range).await, Outcome::Fatal);
    let mut anonymous = Client::open(&backend(&etcd), "c");
    // etcd 3.4 answers "user name is empty" (INVALID_ARGUMENT): it will not pass later either.
    assert_eq!(anonymous.call(Request::Range).await, Outcome::Fatal);
}

/// A throwaway PKI in `dir`: a CA, etcd's certificate from it (for `127.0.0.1` and
/// `localhost`), a client certificate from it, and a second CA that signed nothing.
struct Pki {
    ca: std::path::PathBuf,
    other_ca: std::path::PathBuf,
    server: LocalEtcdTls,
    client_cert: std::path::PathBuf,
    client_key: std::path::PathBuf,
}

fn pki(dir: &std::path::Path) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        path
    };
    let ca = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        (cert, key)
    };
    let (ca_cert, ca_key) = ca("rebalanser test CA");
    let (other_cert, _) = ca("another CA");
    let leaf = |names: &[&str], usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(
        &["127.0.0.1", "localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(&["node"], ExtendedKeyUsagePurpose::ClientAuth);
    let ca = write("ca.pem", ca_cert.pem());
    Pki {
        other_ca: write("other-ca.pem", other_cert.pem()),
        server: LocalEtcdTls {
            cert: write("server.pem", server_cert),
            key: write("server-key.pem", server_key),
            client_ca: Some(ca.clone()),
        },
        client_cert: write("client.pem", client_cert),
        client_key: write("client-key.pem", client_key),
        ca,
    }
}

/// TLS is passed through end to end: with the CA, a client certificate and the domain the
/// link talks to an etcd that demands client certificates; without the certificate, with a CA
/// that did not sign etcd's certificate, or in plain text, nothing succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificates_is_passed_through() {
    let dir = std::env::temp_dir().join(format!("rebalanser-etcd-pki-{}", std::process::id()));
    let pki = pki(&dir);
    let etcd = match LocalEtcd::start_tls(pki.server.clone()).await {
        Ok(etcd) => etcd,
        Err(e) => panic!("cannot run the etcd TLS test: {e}"),
    };
    assert!(
        etcd.endpoint().starts_with("https://"),
        "{}",
        etcd.endpoint()
    );
    let tls = EtcdTls {
        ca: pki.ca.clone(),
        cert: Some(pki.client_cert.clone()),
        key: Some(pki.client_key.clone()),
        domain: Some("localhost".into()),
    };
    let with = |tls: Option<EtcdTls>| {
        let mut config = EtcdConfig::new([etcd.endpoint()], GROUP);
        config.tls = tls;
        EtcdBackend::new(config).expect("valid config")
    };
    let mut c = Client::open(&with(Some(tls.clone())), "a");
    let lease = match c.ok(Request::Grant { ttl: 2_000 }).await {
        Response::Granted { lease, .. } => lease,
        other => panic!("grant over TLS: {other}"),
    };
    let member = Key::Member(node("a"));
    c.ok(txn(
        vec![],
        vec![put(member.clone(), session("a", lease), Some(lease))],
        vec![],
    ))
    .await;
    match c.ok(Request::Range).await {
        Response::Range { kvs, .. } => assert_eq!(kvs.len(), 1, "{kvs:?}"),
        other => panic!("range over TLS: {other}"),
    }

    let refused = [
        (
            "no client certificate",
            Some(EtcdTls {
                cert: None,
                key: None,
                ..tls.clone()
            }),
        ),
        (
            "a CA that did not sign etcd's certificate",
            Some(EtcdTls {
                ca: pki.other_ca.clone(),
                ..tls.clone()
            }),
        ),
        ("plain text", None),
    ];
    for (k, (what, tls)) in refused.into_iter().enumerate() {
        let mut c = Client::open(&with(tls), &format!("refused-{k}"));
        let outcome = c.call(Request::Range).await;
        assert!(
            matches!(outcome, Outcome::PostFailed | Outcome::Unknown),
            "{what}: {outcome}"
        );
    }
    drop(etcd);
    let _ = std::fs::remove_dir_all(&dir);
}
