//! `rebalanser demo`: an embedded registry and N node processes on loopback; a live table of who
//! accesses what (from the access monitor, the ground truth), a node killed and the failover
//! timed, the node restarted and the rebalance back timed.

use clap::Args;
use net::admin::Admin;
use net::cluster::NodeProcess;
use net::monitor::{Monitor, MonitorState};
use net::{EmbeddedBackend, Server, ServerConfig};
use protocol::{NodeId, ResourceId};
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

/// Show the group at work on this machine: no install, nothing but loopback.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Node processes to start (2-16).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=16))]
    nodes: u32,
    /// Resources in the group (1-1000).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=1000))]
    resources: u32,
    /// Lease time to live: the failover takes about this long.
    #[arg(long, default_value = "2s", value_parser = crate::cli::parse_duration)]
    ttl: u64,
    /// Longest wait for each step before the demo gives up (exit 1).
    #[arg(long, default_value = "30s", value_parser = crate::cli::parse_duration)]
    step_timeout: u64,
    /// Also write the figures and the verdict as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// What `--json` writes.
#[derive(serde::Serialize)]
struct DemoResult {
    schema_version: u32,
    config: DemoConfig,
    figures: DemoFigures,
    properties: Vec<DemoProperty>,
}

#[derive(serde::Serialize)]
struct DemoConfig {
    nodes: u32,
    resources: u32,
    ttl_ms: u64,
}

#[derive(serde::Serialize, Default)]
struct DemoFigures {
    balanced_after_ms: u64,
    failed_over_resources: usize,
    failover_ms: u64,
    rebalanced_back_ms: u64,
    starts: u64,
    stops: u64,
}

#[derive(serde::Serialize)]
struct DemoProperty {
    name: &'static str,
    status: &'static str,
    violations: Vec<net::monitor::Overlap>,
}

struct Demo {
    monitor: Monitor,
    names: Vec<String>,
    resources: BTreeSet<ResourceId>,
    step_timeout: Duration,
    last_table: String,
}

/// Marks a step that did not settle: the demo failed (exit 1), it was not bad input (exit 2).
const UNSETTLED: &str = "unsettled: ";

pub async fn run(args: DemoArgs) -> Result<ExitCode, String> {
    match scenario(args).await {
        Err(e) if e.starts_with(UNSETTLED) => {
            eprintln!("demo failed: {}", &e[UNSETTLED.len()..]);
            Ok(ExitCode::from(1))
        }
        other => other,
    }
}

async fn scenario(args: DemoArgs) -> Result<ExitCode, String> {
    if let Some(path) = &args.json {
        crate::output::check_writable(path)?;
    }
    let mut figures = DemoFigures::default();
    let bin = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
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
        args.ttl
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
        &format!("{}ms", args.ttl),
        "--min-rebalance-interval",
        "200ms",
        "--stop-budget",
        &format!("{}ms", (args.ttl / 4).max(100)),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let names: Vec<String> = (0..args.nodes).map(|i| format!("node-{i}")).collect();
    let spawn = |name: &str| {
        NodeProcess::spawn(&bin, name, &node_args, None)
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
        step_timeout: Duration::from_millis(args.step_timeout),
        last_table: String::new(),
    };

    println!("\n== {} nodes join", args.nodes);
    let live: BTreeSet<String> = names.iter().cloned().collect();
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
    survivors.remove(&victim);
    demo.until_balanced(&survivors).await?;
    let failover = demo.taken_over(&orphans, &victim, killed_at);
    figures.failover_ms = failover;
    figures.failed_over_resources = orphans.len();
    println!(
        "failover: {} resources of {victim} started elsewhere {:.2} s after the kill \
         (lease ttl {:.2} s)",
        orphans.len(),
        failover as f64 / 1000.0,
        args.ttl as f64 / 1000.0
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
    if let Some(path) = &args.json {
        figures.starts = s.starts;
        figures.stops = s.stops;
        let status = if s.overlaps.is_empty() {
            "holds"
        } else {
            "violated"
        };
        let result = DemoResult {
            schema_version: 1,
            config: DemoConfig {
                nodes: args.nodes,
                resources: args.resources,
                ttl_ms: args.ttl,
            },
            figures,
            properties: vec![DemoProperty {
                name: "no_double_access",
                status,
                violations: s.overlaps.clone(),
            }],
        };
        crate::output::write_json(path, &result)?;
    }
    Ok(if s.overlaps.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

impl Demo {
    /// Print the table whenever it changes, until every resource is accessed by exactly one of
    /// `live`, balanced. Returns the monitor time it happened.
    async fn until_balanced(&mut self, live: &BTreeSet<String>) -> Result<u64, String> {
        let start = self.monitor.now_ms();
        loop {
            let s = self.monitor.state();
            self.print_table(&s);
            if s.settled(live, &self.resources) {
                return Ok(self.monitor.now_ms());
            }
            if self.monitor.now_ms() - start > self.step_timeout.as_millis() as u64 {
                return Err(format!(
                    "{UNSETTLED}the group did not settle within {} s",
                    self.step_timeout.as_secs()
                ));
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
