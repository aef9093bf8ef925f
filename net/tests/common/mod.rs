//! Fixtures shared by the in-process tests: a server on a free port, fast node timing, and a
//! tracker of who accesses what (the ground truth of `no_double_access`).

#![allow(dead_code)] // not every test binary uses every fixture

use net::{EmbeddedBackend, Rebalanser, Server, ServerConfig};
use protocol::ResourceId;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub async fn server() -> Server {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    Server::start(config).await.expect("server starts")
}

/// A server whose group `g` has these resources, and its address.
pub async fn server_with(resources: &[&str]) -> (Server, String) {
    let server = server().await;
    let addr = server.local_addr().to_string();
    let mut admin = net::admin::Admin::open(&EmbeddedBackend::new(&addr, "g"));
    for name in resources {
        admin.add_resource(&ResourceId::new(name)).await.unwrap();
    }
    (server, addr)
}

/// A node builder with test timing: ttl 1.5 s, rebalance interval 100 ms, stop budget 200 ms.
pub fn builder(addr: &str, name: &str) -> Rebalanser {
    Rebalanser::builder()
        .registry(EmbeddedBackend::new(addr, "g"))
        .node_id(name)
        .ttl(Duration::from_millis(1500))
        .min_rebalance_interval(Duration::from_millis(100))
        .stop_budget(Duration::from_millis(200))
        .retry(Duration::from_millis(100))
}

/// Who accesses each resource now, and each double access seen.
type Accesses = (BTreeMap<ResourceId, BTreeSet<String>>, Vec<String>);

/// Who accesses each resource, and every moment two did at once.
#[derive(Clone, Default)]
pub struct Tracker {
    inner: Arc<Mutex<Accesses>>,
}

impl Tracker {
    pub fn start(&self, node: &str, r: &ResourceId) {
        let mut g = self.inner.lock().unwrap();
        let holders = g.0.entry(r.clone()).or_default();
        if !holders.is_empty() {
            let msg = format!("{node} started {r} while {holders:?} accessed it");
            g.1.push(msg);
        } else {
            holders.insert(node.to_string());
        }
    }

    pub fn stop(&self, node: &str, r: &ResourceId) {
        let mut g = self.inner.lock().unwrap();
        g.0.entry(r.clone()).or_default().remove(node);
    }

    pub fn doubles(&self) -> Vec<String> {
        self.inner.lock().unwrap().1.clone()
    }

    pub fn holders(&self, r: &ResourceId) -> BTreeSet<String> {
        self.inner
            .lock()
            .unwrap()
            .0
            .get(r)
            .cloned()
            .unwrap_or_default()
    }

    /// `builder` with handlers that record starts and stops here.
    pub fn node(&self, b: Rebalanser, name: &str) -> Rebalanser {
        let (t1, t2) = (self.clone(), self.clone());
        let (n1, n2) = (name.to_string(), name.to_string());
        b.on_start(move |r| {
            t1.start(&n1, &r);
            async { Ok::<(), String>(()) }
        })
        .on_stop(move |r| {
            t2.stop(&n2, &r);
            async { Ok::<(), String>(()) }
        })
    }
}

pub async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

pub fn r(name: &str) -> ResourceId {
    ResourceId::new(name)
}
