//! A group of in-process nodes on the embedded registry over loopback TCP.

use net::admin::Admin;
use net::{EmbeddedBackend, NodeHandle, Rebalanser, Server, ServerConfig};
use protocol::ResourceId;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Access = Arc<Mutex<BTreeMap<ResourceId, BTreeSet<String>>>>;

async fn server() -> Server {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    Server::start(config).await.expect("server starts")
}

fn node(addr: &str, name: &str, access: &Access, doubles: &Arc<Mutex<u32>>) -> NodeHandle {
    let (a1, a2, d) = (access.clone(), access.clone(), doubles.clone());
    let (n1, n2) = (name.to_string(), name.to_string());
    Rebalanser::builder()
        .registry(EmbeddedBackend::new(addr, "g"))
        .node_id(name)
        .ttl(Duration::from_millis(1500))
        .min_rebalance_interval(Duration::from_millis(100))
        .stop_budget(Duration::from_millis(200))
        .retry(Duration::from_millis(100))
        .on_start(move |r| {
            let (a, n, d) = (a1.clone(), n1.clone(), d.clone());
            async move {
                let mut a = a.lock().unwrap();
                let holders = a.entry(r).or_default();
                if !holders.is_empty() {
                    *d.lock().unwrap() += 1;
                }
                holders.insert(n);
                Ok::<(), String>(())
            }
        })
        .on_stop(move |r| {
            let (a, n) = (a2.clone(), n2.clone());
            async move {
                a.lock().unwrap().entry(r).or_default().remove(&n);
                Ok::<(), String>(())
            }
        })
        .start()
        .expect("node starts")
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

fn balanced(nodes: &[&NodeHandle], resources: usize) -> bool {
    let counts: Vec<usize> = nodes.iter().map(|n| n.assigned().len()).collect();
    let all: BTreeSet<ResourceId> = nodes.iter().flat_map(|n| n.assigned()).collect();
    counts.iter().sum::<usize>() == resources
        && all.len() == resources
        && counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_six_resources_and_rebalance_when_one_leaves() {
    let server = server().await;
    let addr = server.local_addr().to_string();
    let access: Access = Arc::default();
    let doubles = Arc::new(Mutex::new(0));
    let mut admin = Admin::open(&EmbeddedBackend::new(&addr, "g"));
    for i in 0..6 {
        admin
            .add_resource(&ResourceId::new(format!("r{i}")))
            .await
            .unwrap();
    }
    let a = node(&addr, "a", &access, &doubles);
    let b = node(&addr, "b", &access, &doubles);
    let c = node(&addr, "c", &access, &doubles);
    wait_until("6 resources run, 2 each", || balanced(&[&a, &b, &c], 6)).await;

    c.shutdown(Duration::from_secs(5)).await.unwrap();
    wait_until("a and b run 3 each", || balanced(&[&a, &b], 6)).await;

    admin.add_resource(&ResourceId::new("r6")).await.unwrap();
    admin.remove_resource(&ResourceId::new("r0")).await.unwrap();
    wait_until("the admin change is applied", || {
        balanced(&[&a, &b], 6)
            && !a.assigned().contains(&ResourceId::new("r0"))
            && !b.assigned().contains(&ResourceId::new("r0"))
    })
    .await;
    let view = admin.view().await.unwrap();
    assert_eq!(view.members.len(), 2);
    assert_eq!(
        *doubles.lock().unwrap(),
        0,
        "a resource was started twice at once"
    );
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
    let view = admin.view().await.unwrap();
    assert!(
        view.members.is_empty() && view.barriers.is_empty(),
        "{view:?}"
    );
    server.shutdown().await;
}
