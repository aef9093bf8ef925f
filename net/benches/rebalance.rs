//! Rebalancing 1,000 resources over 10 nodes on loopback: from a membership change until every
//! resource is started again, balanced. The embedded registry and the nodes run in this process
//! over real TCP connections.
//!
//! - `cold_start`: 10 nodes join a group of 1,000 resources;
//! - `join_11th`: an 11th node joins a settled group (about 90 resources move to it);
//! - `leave_11th`: it leaves gracefully (its resources move back).

use criterion::{criterion_group, criterion_main, Criterion};
use net::admin::Admin;
use net::{EmbeddedBackend, NodeHandle, Rebalanser, Server, ServerConfig};
use protocol::properties::settled as settled_by;
use protocol::{NodeId, ResourceId};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const RESOURCES: usize = 1_000;
const NODES: usize = 10;

fn node(addr: &str, id: &NodeId) -> NodeHandle {
    Rebalanser::builder()
        .registry(EmbeddedBackend::new(addr, "bench"))
        .node_id(&id.0)
        .ttl(Duration::from_secs(5))
        .min_rebalance_interval(Duration::from_millis(50))
        .stop_budget(Duration::from_millis(500))
        .start()
        .expect("a node")
}

fn resources() -> BTreeSet<ResourceId> {
    (0..RESOURCES)
        .map(|i| ResourceId::new(format!("r{i:04}")))
        .collect()
}

/// Every resource runs on exactly one node, and the counts differ by at most one (the core's
/// judgement, asked of what each node runs).
fn settled(nodes: &[NodeHandle], resources: &BTreeSet<ResourceId>) -> bool {
    let running: Vec<(NodeId, BTreeSet<ResourceId>)> = nodes
        .iter()
        .map(|n| {
            let s = n.state();
            (s.node, s.running)
        })
        .collect();
    let live: BTreeSet<&NodeId> = running.iter().map(|(n, _)| n).collect();
    settled_by(running.iter().map(|(n, rs)| (n, rs)), &live, resources)
}

async fn until_settled(nodes: &[NodeHandle]) {
    let resources = resources();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !settled(nodes, &resources) {
        assert!(
            Instant::now() < deadline,
            "the group did not settle within 60 s"
        );
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

struct Group {
    server: Server,
    addr: String,
}

async fn group() -> Group {
    let server = Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let addr = server.local_addr().to_string();
    let mut admin = Admin::open(&EmbeddedBackend::new(&addr, "bench"));
    for r in &resources() {
        admin.add_resource(r).await.unwrap();
    }
    Group { server, addr }
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut g = c.benchmark_group("rebalance_1000_resources_10_nodes");
    g.sample_size(10)
        .sampling_mode(criterion::SamplingMode::Flat)
        .measurement_time(Duration::from_secs(20));

    g.bench_function("cold_start", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let group = group().await;
                    let start = Instant::now();
                    let nodes: Vec<NodeHandle> = (0..NODES)
                        .map(|i| node(&group.addr, &NodeId::numbered(i)))
                        .collect();
                    until_settled(&nodes).await;
                    total += start.elapsed();
                    for n in nodes {
                        n.shutdown(Duration::from_secs(10)).await.unwrap();
                    }
                    group.server.shutdown().await;
                }
                total
            })
        })
    });

    let (group, mut nodes) = rt.block_on(async {
        let group = group().await;
        let nodes: Vec<NodeHandle> = (0..NODES)
            .map(|i| node(&group.addr, &NodeId::numbered(i)))
            .collect();
        until_settled(&nodes).await;
        (group, nodes)
    });
    g.bench_function("join_11th", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    nodes.push(node(&group.addr, &NodeId::numbered(NODES)));
                    until_settled(&nodes).await;
                    total += start.elapsed();
                    let n = nodes.pop().unwrap();
                    n.shutdown(Duration::from_secs(10)).await.unwrap();
                    until_settled(&nodes).await;
                }
                total
            })
        })
    });
    g.bench_function("leave_11th", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    nodes.push(node(&group.addr, &NodeId::numbered(NODES)));
                    until_settled(&nodes).await;
                    let n = nodes.pop().unwrap();
                    let start = Instant::now();
                    let leaving = tokio::spawn(n.shutdown(Duration::from_secs(10)));
                    until_settled(&nodes).await;
                    total += start.elapsed();
                    leaving.await.unwrap().unwrap();
                }
                total
            })
        })
    });
    g.finish();
    rt.block_on(async {
        for n in nodes {
            n.shutdown(Duration::from_secs(10)).await.unwrap();
        }
        group.server.shutdown().await;
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
