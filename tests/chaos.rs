//! The chaos test with real processes: a registry, node processes reporting every real start and
//! stop to an access monitor, and faults by signal and socket: SIGKILL, SIGSTOP/SIGCONT within
//! the pause envelope (and once beyond it, where the double access is expected and labelled),
//! admin changes, cut registry connections, registry restarts. After each fault the group must
//! settle (every resource accessed by exactly one live node, balanced) within the liveness
//! bound, and within the envelope no resource may ever be accessed twice at once.
//!
//! Loopback only, bounded in time and count. `REBALANSER_CHAOS_CYCLES` (default 3) sets how
//! many rounds of every fault run: raise it for a soak.

use harness::cluster::{NodeProcess, Proxy, RegistryProcess};
use harness::monitor::Monitor;
use net::admin::Admin;
use net::{Backend, EmbeddedBackend};
use protocol::{NodeConfig, NodeId, ResourceId};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

const TTL: u64 = 2_000;
const STOP_BUDGET: u64 = 300;
const MIN_INTERVAL: u64 = 200;
const NODES: usize = 4;
const RESOURCES: u32 = 8;

enum Registry {
    Embedded(RegistryProcess),
    #[cfg(feature = "etcd")]
    Etcd(net::backend::etcd::LocalEtcd),
}

impl Registry {
    fn addr(&self) -> String {
        match self {
            Registry::Embedded(r) => r.addr().to_string(),
            #[cfg(feature = "etcd")]
            Registry::Etcd(e) => e.endpoint().trim_start_matches("http://").to_string(),
        }
    }

    fn scheme(&self) -> &'static str {
        match self {
            Registry::Embedded(_) => "embedded://",
            #[cfg(feature = "etcd")]
            Registry::Etcd(_) => "etcd://",
        }
    }

    /// Down for `down`, then up again; returns the address it is back on.
    async fn restart(&mut self, down: Duration) -> String {
        match self {
            Registry::Embedded(r) => {
                r.kill().await;
                tokio::time::sleep(down).await;
                r.restart().await.expect("the registry restarts");
            }
            #[cfg(feature = "etcd")]
            Registry::Etcd(e) => {
                e.kill();
                tokio::time::sleep(down).await;
                e.restart().await.expect("etcd restarts");
            }
        }
        self.addr()
    }

    fn admin_backend(&self, addr: &str) -> Box<dyn Backend> {
        match self {
            Registry::Embedded(_) => Box::new(EmbeddedBackend::new(addr, "chaos")),
            #[cfg(feature = "etcd")]
            Registry::Etcd(_) => {
                use net::backend::etcd::{EtcdBackend, EtcdConfig};
                let config = EtcdConfig::new([addr], "chaos");
                Box::new(EtcdBackend::new(config).expect("an etcd backend"))
            }
        }
    }
}

#[derive(Default, Debug)]
struct Figures {
    faults: BTreeMap<&'static str, u32>,
    failover_ms: Vec<u64>,
    settle_ms: Vec<u64>,
    breached_overlaps: usize,
}

struct Chaos {
    bin: PathBuf,
    monitor: Monitor,
    proxy: Proxy,
    registry: Registry,
    admin: Admin,
    node_args: Vec<String>,
    nodes: BTreeMap<String, NodeProcess>,
    resources: BTreeSet<ResourceId>,
    next_resource: u32,
    figures: Figures,
    log_dir: PathBuf,
}

fn config() -> NodeConfig {
    NodeConfig {
        ttl: TTL,
        stop_budget: STOP_BUDGET,
        min_rebalance_interval: MIN_INTERVAL,
        ..NodeConfig::default()
    }
}

/// How long every fault may take to heal: the lease must expire (a ttl), the leader notice and
/// wait out its interval, a new leader perhaps be elected (another ttl), and the barriers change
/// hands; generously rounded.
fn liveness_bound() -> Duration {
    Duration::from_millis(2 * TTL + 5_000)
}

/// The longest pause that stays in the envelope: the lease outlives it with room to spare even
/// if the last keep-alive went out a full interval before it began.
fn pause_within() -> Duration {
    let c = config();
    Duration::from_millis((c.fence_margin() - c.keepalive_interval()) / 2)
}

impl Chaos {
    async fn new(registry: Registry, tag: &str) -> Chaos {
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_rebalanser"));
        let log_dir =
            std::env::temp_dir().join(format!("rebalanser-chaos-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&log_dir).unwrap();
        let monitor = Monitor::start().await.unwrap();
        let proxy = Proxy::start(&registry.addr()).await.unwrap();
        let admin = Admin::open(&*registry.admin_backend(&registry.addr()));
        let node_args = [
            "--registry".to_string(),
            format!("{}{}", registry.scheme(), proxy.addr()),
            "--group".into(),
            "chaos".into(),
            "--monitor".into(),
            monitor.addr().to_string(),
            "--ttl".into(),
            format!("{TTL}ms"),
            "--stop-budget".into(),
            format!("{STOP_BUDGET}ms"),
            "--min-rebalance-interval".into(),
            format!("{MIN_INTERVAL}ms"),
            "--stop-time".into(),
            "20ms".into(),
        ]
        .to_vec();
        let mut c = Chaos {
            bin,
            monitor,
            proxy,
            registry,
            admin,
            node_args,
            nodes: BTreeMap::new(),
            resources: BTreeSet::new(),
            next_resource: 0,
            figures: Figures::default(),
            log_dir,
        };
        for _ in 0..RESOURCES {
            c.add_resource().await;
        }
        for i in 0..NODES {
            c.spawn(&NodeId::numbered(i).0);
        }
        c.settle("the group forms").await;
        c
    }

    fn spawn(&mut self, name: &str) {
        let log = self.log_dir.join(format!("{name}.log"));
        let p = NodeProcess::spawn(&self.bin, name, &self.node_args, Some(&log)).unwrap();
        self.nodes.insert(name.to_string(), p);
    }

    async fn add_resource(&mut self) {
        let r = ResourceId::new(format!("r{}", self.next_resource));
        self.next_resource += 1;
        self.admin.add_resource(&r).await.unwrap();
        self.resources.insert(r);
    }

    fn count(&mut self, fault: &'static str) {
        *self.figures.faults.entry(fault).or_default() += 1;
    }

    fn assert_no_double_access(&self, what: &str) {
        let s = self.monitor.state();
        let within: Vec<_> = s.overlaps.iter().collect();
        assert!(
            within.len() == self.figures.breached_overlaps,
            "double access within the envelope after {what}: {:?} (node logs in {})",
            &within[self.figures.breached_overlaps..],
            self.log_dir.display()
        );
    }

    /// After a quiet ttl (whatever the fault set in motion has happened), wait until every
    /// resource is accessed by exactly one live node, balanced. Returns the time from the fault.
    async fn settle(&mut self, what: &str) -> u64 {
        let live: BTreeSet<NodeId> = self.nodes.keys().map(NodeId::new).collect();
        let start = self.monitor.now_ms();
        tokio::time::sleep(Duration::from_millis(TTL)).await;
        let bound = liveness_bound().as_millis() as u64;
        loop {
            let s = self.monitor.state();
            if s.settled(&live, &self.resources) {
                let t = self.monitor.now_ms() - start;
                self.figures.settle_ms.push(t);
                self.assert_no_double_access(what);
                return t;
            }
            assert!(
                self.monitor.now_ms() - start < bound,
                "after {what} the group did not settle within the liveness bound of {bound} ms: \
                 holders {:?}, live {live:?} (node logs in {})",
                s.holders,
                self.log_dir.display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn kill_and_restart(&mut self, victim: &str) {
        self.count("SIGKILL");
        let orphans = self
            .monitor
            .state()
            .by_node()
            .remove(&NodeId::new(victim))
            .unwrap_or_default();
        let at = self.monitor.now_ms();
        self.nodes.get_mut(victim).unwrap().kill().await.unwrap();
        self.nodes.remove(victim);
        self.settle(&format!("SIGKILL of {victim}")).await;
        let s = self.monitor.state();
        let taken = orphans.iter().filter_map(|r| {
            s.log
                .iter()
                .find(|a| {
                    a.at_ms >= at && a.resource == *r && a.start == Some(true) && a.node.0 != victim
                })
                .map(|a| a.at_ms - at)
        });
        if let Some(latency) = taken.max() {
            self.figures.failover_ms.push(latency);
        }
        self.spawn(victim);
        self.settle(&format!("the restart of {victim}")).await;
    }

    async fn pause(&mut self, victim: &str, pause: Duration) {
        let p = &self.nodes[victim];
        p.pause().unwrap();
        tokio::time::sleep(pause).await;
        self.nodes[victim].resume().unwrap();
    }

    async fn cycle(&mut self, round: usize) {
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        let victim = names[round % names.len()].clone();
        self.kill_and_restart(&victim).await;

        let victim = names[(round + 1) % names.len()].clone();
        self.count("SIGSTOP within the envelope");
        self.pause(&victim, pause_within()).await;
        self.settle(&format!("a pause of {victim}")).await;

        self.count("resource added");
        self.add_resource().await;
        self.settle("a resource added").await;

        self.count("resource removed");
        let gone = self
            .resources
            .iter()
            .nth(round % self.resources.len())
            .unwrap()
            .clone();
        self.admin.remove_resource(&gone).await.unwrap();
        self.resources.remove(&gone);
        self.settle("a resource removed").await;

        self.count("registry connections cut");
        self.proxy.cut();
        self.settle("cut registry connections").await;

        self.count("registry restart");
        let addr = self.registry.restart(Duration::from_millis(300)).await;
        self.proxy.set_upstream(&addr);
        self.proxy.cut();
        self.admin = Admin::open(&*self.registry.admin_backend(&addr));
        self.settle("a registry restart").await;
    }

    /// A pause far beyond the envelope: the lease expires under a node that still accesses its
    /// resources. The monitor must see the double access; it is labelled assumption-breached.
    async fn breach(&mut self) -> usize {
        let victim = self.nodes.keys().next().unwrap().clone();
        let before = self.monitor.state().overlaps.len();
        self.count("SIGSTOP beyond the envelope (assumption-breached)");
        self.pause(&victim, Duration::from_millis(2 * TTL + 1_500))
            .await;
        let s = self.monitor.state();
        let breached = s.overlaps.len() - before;
        for o in &s.overlaps[before..] {
            eprintln!(
                "assumption-breached: {} accessed by {:?} at {} ms (the paused node's lease expired under it)",
                o.resource, o.nodes, o.at_ms
            );
        }
        self.figures.breached_overlaps += breached;
        self.settle("the breach").await;
        breached
    }

    async fn finish(mut self, tag: &str) {
        let view = self.admin.view().await.unwrap();
        let epoch = view.assignment.as_ref().map_or(0, |a| a.epoch);
        for p in self.nodes.values_mut() {
            let code = p.terminate().await.unwrap();
            assert_eq!(code, Some(0), "{} did not leave cleanly", p.name);
        }
        let s = self.monitor.state();
        let f = &self.figures;
        eprintln!(
            "chaos[{tag}]: faults {:?}; {} assignment writes (rebalances); {} starts, {} stops; \
             double accesses within the envelope: {}; assumption-breached: {}; failover ms {:?} \
             (p50 {} p99 {}, ttl {TTL}); settle ms p50 {} max {}",
            f.faults,
            epoch,
            s.starts,
            s.stops,
            s.overlaps.len() - f.breached_overlaps,
            f.breached_overlaps,
            f.failover_ms,
            percentile(&f.failover_ms, 50),
            percentile(&f.failover_ms, 99),
            percentile(&f.settle_ms, 50),
            f.settle_ms.iter().max().unwrap_or(&0),
        );
        let _ = std::fs::remove_dir_all(&self.log_dir);
    }
}

fn percentile(xs: &[u64], p: usize) -> u64 {
    let mut v = xs.to_vec();
    v.sort();
    if v.is_empty() {
        return 0;
    }
    v[((v.len() - 1) * p).div_ceil(100)]
}

fn cycles() -> usize {
    match std::env::var("REBALANSER_CHAOS_CYCLES") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("REBALANSER_CHAOS_CYCLES={v} is not a number")),
        Err(_) => 3,
    }
}

async fn run(registry: Registry, tag: &str) {
    let mut chaos = Chaos::new(registry, tag).await;
    for round in 0..cycles() {
        chaos.cycle(round).await;
    }
    let breached = chaos.breach().await;
    assert!(
        breached > 0,
        "a pause beyond the envelope must show a double access: the monitor saw none"
    );
    chaos.finish(tag).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_against_the_embedded_registry() {
    let data = std::env::temp_dir().join(format!("rebalanser-chaos-{}.state", std::process::id()));
    let _ = std::fs::remove_file(&data);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_rebalanser"));
    let registry = RegistryProcess::start(&bin, &data).await.unwrap();
    run(Registry::Embedded(registry), "embedded").await;
    let _ = std::fs::remove_file(&data);
}

#[cfg(feature = "etcd")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_against_etcd() {
    let etcd = net::backend::etcd::LocalEtcd::start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    run(Registry::Etcd(etcd), "etcd").await;
}
