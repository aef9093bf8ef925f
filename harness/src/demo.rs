//! The demo scenario behind `rebalanser demo`: an embedded registry and N node processes on
//! loopback; a live table of who accesses what (from the access monitor, the ground truth), a
//! node killed and the failover timed, the node restarted and the rebalance back timed. It
//! prints as it goes and returns the figures and the verdict as a [`DemoReport`].

use crate::cluster::NodeProcess;
use crate::monitor::{Monitor, MonitorState, Overlap};
use net::admin::Admin;
use net::{EmbeddedBackend, Server, ServerConfig};
use protocol::{NodeConfig, NodeId, ResourceId};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

/// What the demo runs.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// The `rebalanser` binary whose `node` command the node processes run.
    pub bin: PathBuf,
    /// Node processes to start.
    pub nodes: u32,
    /// Resources in the group.
    pub resources: u32,
    /// The nodes' lease ttl, in milliseconds (their stop budget is derived from it).
    pub ttl_ms: u64,
    /// Longest wait for each step to settle.
    pub step_timeout: Duration,
}

/// Why the demo did not finish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DemoError {
    /// A step did not settle in time: the demo failed (the command exits 1).
    Unsettled(String),
    /// Something could not be set up or run (the command reports it as an error).
    Failed(String),
}

impl From<String> for DemoError {
    fn from(e: String) -> Self {
        DemoError::Failed(e)
    }
}

/// The figures and the verdict (what `rebalanser demo --json` writes).
#[derive(Clone, Debug, serde::Serialize)]
pub struct DemoReport {
    /// The version of this report's layout.
    pub schema_version: u32,
    /// What ran.
    pub config: DemoReportConfig,
    /// What was measured.
    pub figures: DemoFigures,
    /// Each property judged, with its violations.
    pub properties: Vec<DemoProperty>,
}

impl DemoReport {
    /// Whether every property held (the command exits 0 only then).
    pub fn passed(&self) -> bool {
        self.properties.iter().all(|p| p.violations.is_empty())
    }
}

/// The size and timing of the group that ran.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DemoReportConfig {
    /// Node processes.
    pub nodes: u32,
    /// Resources.
    pub resources: u32,
    /// Lease ttl, in milliseconds.
    pub ttl_ms: u64,
}

/// What the demo measured, in milliseconds of the monitor's clock and in counts.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DemoFigures {
    /// From the start until the group first settled.
    pub balanced_after_ms: u64,
    /// How many resources the killed node held.
    pub failed_over_resources: usize,
    /// From the kill until the last of them started elsewhere.
    pub failover_ms: u64,
    /// From the restart until the group settled again.
    pub rebalanced_back_ms: u64,
    /// Starts reported to the monitor.
    pub starts: u64,
    /// Stops reported to the monitor.
    pub stops: u64,
}

/// One property and what broke it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DemoProperty {
    /// Its name (`no_double_access`).
    pub name: &'static str,
    /// `holds` or `violated`.
    pub status: &'static str,
    /// Every violation seen.
    pub violations: Vec<Overlap>,
}

struct Demo {
    monitor: Monitor,
    names: Vec<String>,
    resources: BTreeSet<ResourceId>,
    step_timeout: Duration,
    last_table: String,
}

/// Run the scenario, printing the live table and the figures as it goes.
pub async fn run(args: &DemoConfig) -> Result<DemoReport, DemoError> {
    let mut figures = DemoFigures::default();
    let bin = &args.bin;
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("an address"),
        ..ServerConfig::default()
    };
    let server = Server::start(config).await?;
    let monitor = Monitor::start()
        .await
        .map_err(|e| format!("cannot start the access monitor: {e}"))?;
    let registry = server.local_addr().to_string();
    println!(
        "embedded registry on {registry}, access monitor on {}; {} nodes, {} resources, ttl {} ms",
        monitor.addr(),
        args.nodes,
        args.resources,
        args.ttl_ms
    );
    let backend = EmbeddedBackend::new(&registry, "demo");
    let mut admin = Admin::open(&backend);
    let resources: BTreeSet<ResourceId> = (0..args.resources)
        .map(|i| ResourceId::new(format!("r{i}")))
        .collect();
    for r in &resources {
        admin.add_resource(r).await?;
    }
    let node_args: Vec<String> = [
        "--registry",
        &registry,
        "--group",
        "demo",
        "--monitor",
        &monitor.addr().to_string(),
        "--ttl",
        &format!("{}ms", args.ttl_ms),
        "--min-rebalance-interval",
        "200ms",
        "--stop-budget",
        &format!("{}ms", NodeConfig::stop_budget_for(args.ttl_ms)),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let names: Vec<String> = (0..args.nodes).map(|i| format!("node-{i}")).collect();
    let spawn = |name: &str| {
        NodeProcess::spawn(bin, name, &node_args, None)
            .map_err(|e| format!("cannot start {name}: {e}"))
    };
    let mut procs = Vec::new();
    for n in &names {
        procs.push(spawn(n)?);
    }
    let mut demo = Demo {
        monitor,
        names: names.clone(),
        resources,
        step_timeout: args.step_timeout,
        last_table: String::new(),
    };

    println!("\n== {} nodes join", args.nodes);
    let live: BTreeSet<NodeId> = names.iter().map(NodeId::new).collect();
    let t = demo.until_balanced(&live).await?;
    println!("balanced after {:.2} s", t as f64 / 1000.0);
    figures.balanced_after_ms = t;

    let victim = names[0].clone();
    println!("\n== SIGKILL {victim}");
    let before = demo.monitor.state().by_node();
    let orphans = before
        .get(&NodeId::new(&victim))
        .cloned()
        .unwrap_or_default();
    let killed_at = demo.monitor.now_ms();
    procs[0].kill().await?;
    let mut survivors = live.clone();
    survivors.remove(&NodeId::new(&victim));
    demo.until_balanced(&survivors).await?;
    let failover = demo.taken_over(&orphans, &victim, killed_at);
    figures.failover_ms = failover;
    figures.failed_over_resources = orphans.len();
    println!(
        "failover: {} resources of {victim} started elsewhere {:.2} s after the kill \
         (lease ttl {:.2} s)",
        orphans.len(),
        failover as f64 / 1000.0,
        args.ttl_ms as f64 / 1000.0
    );

    println!("\n== restart {victim}");
    let restarted_at = demo.monitor.now_ms();
    procs[0] = spawn(&victim)?;
    let t = demo.until_balanced(&live).await?;
    figures.rebalanced_back_ms = t - restarted_at;
    println!(
        "rebalanced back {:.2} s after the restart",
        (t - restarted_at) as f64 / 1000.0
    );

    println!("\n== all nodes leave");
    for p in procs.iter_mut() {
        p.terminate().await?;
    }
    server.shutdown().await;
    let s = demo.monitor.state();
    println!(
        "{} starts, {} stops, {} double accesses",
        s.starts,
        s.stops,
        s.overlaps.len()
    );
    for o in &s.overlaps {
        println!(
            "DOUBLE ACCESS of {} by {:?} at {} ms",
            o.resource, o.nodes, o.at_ms
        );
    }
    figures.starts = s.starts;
    figures.stops = s.stops;
    let status = if s.overlaps.is_empty() {
        "holds"
    } else {
        "violated"
    };
    Ok(DemoReport {
        schema_version: 1,
        config: DemoReportConfig {
            nodes: args.nodes,
            resources: args.resources,
            ttl_ms: args.ttl_ms,
        },
        figures,
        properties: vec![DemoProperty {
            name: "no_double_access",
            status,
            violations: s.overlaps,
        }],
    })
}

impl Demo {
    /// Print the table whenever it changes, until every resource is accessed by exactly one of
    /// `live`, balanced. Returns the monitor time it happened.
    async fn until_balanced(&mut self, live: &BTreeSet<NodeId>) -> Result<u64, DemoError> {
        let start = self.monitor.now_ms();
        loop {
            let s = self.monitor.state();
            self.print_table(&s);
            if s.settled(live, &self.resources) {
                return Ok(self.monitor.now_ms());
            }
            if self.monitor.now_ms() - start > self.step_timeout.as_millis() as u64 {
                return Err(DemoError::Unsettled(format!(
                    "the group did not settle within {} s",
                    self.step_timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn print_table(&mut self, s: &MonitorState) {
        let by_node = s.by_node();
        let mut cells = Vec::new();
        for n in &self.names {
            let rs: Vec<String> = by_node
                .get(&NodeId::new(n))
                .map(|rs| rs.iter().map(|r| r.to_string()).collect())
                .unwrap_or_default();
            let shown = if rs.len() > 8 {
                format!("{} resources", rs.len())
            } else {
                rs.join(" ")
            };
            cells.push(format!("{n}: {shown:<12}"));
        }
        let idle = self.resources.len() - s.holders.len().min(self.resources.len());
        let table = format!("{} | unassigned: {idle}", cells.join(" | "));
        if table != self.last_table {
            println!("{:7.2}s  {table}", self.monitor.now_ms() as f64 / 1000.0);
            self.last_table = table;
        }
    }

    /// When the last of `orphans` was started by another node after `since`.
    fn taken_over(&self, orphans: &BTreeSet<ResourceId>, victim: &str, since: u64) -> u64 {
        let s = self.monitor.state();
        let mut last = since;
        for r in orphans {
            let started = s.log.iter().find(|a| {
                a.at_ms >= since && a.resource == *r && a.start == Some(true) && a.node.0 != victim
            });
            if let Some(a) = started {
                last = last.max(a.at_ms);
            }
        }
        last - since
    }
}
