//! A group of in-process nodes on the embedded registry over loopback TCP.

mod common;

use common::{builder, r, server, wait_until, Tracker};
use net::admin::Admin;
use net::{EmbeddedBackend, NodeEvent, NodeHandle};
use protocol::node::Event;
use protocol::properties::settled;
use protocol::{NodeId, ResourceId};
use std::collections::BTreeSet;
use std::time::Duration;

/// Each of `resources` runs on exactly one of `nodes`, nothing else runs, and the counts differ
/// by at most one (the core's judgement, asked of what each node runs).
fn balanced(nodes: &[&NodeHandle], resources: &[&str]) -> bool {
    let running: Vec<(NodeId, BTreeSet<ResourceId>)> = nodes
        .iter()
        .map(|n| {
            let s = n.state();
            (s.node, s.running)
        })
        .collect();
    let live: BTreeSet<&NodeId> = running.iter().map(|(n, _)| n).collect();
    let resources: BTreeSet<ResourceId> = resources.iter().map(|name| r(name)).collect();
    settled(running.iter().map(|(n, rs)| (n, rs)), &live, &resources)
}

const SIX: [&str; 6] = ["r0", "r1", "r2", "r3", "r4", "r5"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_six_resources_and_rebalance_when_one_leaves() {
    let server = server().await;
    let addr = server.local_addr().to_string();
    let t = Tracker::default();
    let mut admin = Admin::open(&EmbeddedBackend::new(&addr, "g"));
    for i in 0..6 {
        admin.add_resource(&r(&format!("r{i}"))).await.unwrap();
    }
    let start = |name: &str| t.node(builder(&addr, name), name).start().unwrap();
    let (a, b, c) = (start("a"), start("b"), start("c"));
    wait_until("6 resources run, 2 each", || balanced(&[&a, &b, &c], &SIX)).await;

    c.shutdown(Duration::from_secs(5)).await.unwrap();
    wait_until("a and b run 3 each", || balanced(&[&a, &b], &SIX)).await;

    admin.add_resource(&r("r6")).await.unwrap();
    admin.remove_resource(&r("r0")).await.unwrap();
    wait_until("the admin change is applied", || {
        balanced(&[&a, &b], &["r1", "r2", "r3", "r4", "r5", "r6"])
    })
    .await;
    let view = admin.view().await.unwrap();
    assert_eq!(view.members.len(), 2);
    assert_eq!(t.doubles(), Vec::<String>::new());
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
    let view = admin.view().await.unwrap();
    assert!(
        view.members.is_empty() && view.barriers.is_empty(),
        "{view:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_registry_with_a_data_file_keeps_the_group() {
    let dir = std::env::temp_dir().join(format!("rebalanser-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("registry.state");
    let _ = std::fs::remove_file(&data);
    let config = net::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: Some(data.clone()),
        ..net::ServerConfig::default()
    };
    let server = net::Server::start(config.clone()).await.unwrap();
    let addr = server.local_addr();
    let t = Tracker::default();
    let mut admin = Admin::open(&EmbeddedBackend::new(addr.to_string(), "g"));
    for i in 0..4 {
        admin.add_resource(&r(&format!("r{i}"))).await.unwrap();
    }
    let start = |name: &str| {
        t.node(builder(&addr.to_string(), name), name)
            .start()
            .unwrap()
    };
    let (a, b) = (start("a"), start("b"));
    wait_until("2 each", || balanced(&[&a, &b], &SIX[..4])).await;
    let (before_a, before_b) = (a.assigned(), b.assigned());

    // Down for half a ttl, then back on the same port with the same file.
    server.shutdown().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let server = net::Server::start(net::ServerConfig {
        listen: addr,
        ..config
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await; // past the ttl: leases were renewed
    assert_eq!(
        (a.assigned(), b.assigned()),
        (before_a, before_b),
        "nobody moved"
    );
    admin.add_resource(&r("r4")).await.unwrap();
    wait_until("the new resource runs", || balanced(&[&a, &b], &SIX[..5])).await;
    assert_eq!(t.doubles(), Vec::<String>::new());

    // A data file that is not a snapshot is refused, naming it.
    server.shutdown().await;
    std::fs::write(&data, b"not a snapshot").unwrap();
    let e = net::Server::start(net::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: Some(data.clone()),
        ..net::ServerConfig::default()
    })
    .await
    .err()
    .expect("a bad data file is refused");
    assert!(
        e.contains("registry.state") && e.contains("not a registry snapshot"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The node runs from `start()` on, so a subscriber that comes late must still see its join
/// (an abort in the first milliseconds would otherwise go unseen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_event_receiver_sees_everything_since_start() {
    let (server, addr) = common::server_with(&["r0"]).await;
    let mut a = builder(&addr, "a").start().unwrap();
    a.wait_for(|s| s.running.len() == 1).await;
    let mut first = a.events();
    match first.try_recv() {
        Ok(NodeEvent::Protocol(Event::Joined(s))) => assert_eq!(s.node.0, "a"),
        other => panic!("the first receiver starts with the join, not {other:?}"),
    }
    let mut later = a.events();
    assert!(
        later.try_recv().is_err(),
        "a later receiver starts from its call"
    );
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    server.shutdown().await;
}
