//! `rebalanser node`: one worker process of a group. It "accesses" its resources (reporting
//! each start and stop to an access monitor, when given one) and logs what happens.

use super::target::RegistryTarget;
use clap::Args;
use harness::monitor::{MonitorClient, Report};
use net::{NodeEvent, Rebalanser};
use protocol::NodeConfig;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run one node of a group until Ctrl-C or SIGTERM, then leave gracefully.
#[derive(Args, Debug)]
pub struct NodeArgs {
    /// This node's name, unique in the group.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    target: RegistryTarget,
    /// Lease time to live: a crashed node's resources move after about this long.
    #[arg(long, default_value = "3s", value_parser = crate::cli::parse_duration)]
    ttl: u64,
    /// The leader writes assignments at least this far apart.
    #[arg(long, default_value = "1s", value_parser = crate::cli::parse_duration)]
    min_rebalance_interval: u64,
    /// How long stopping a resource may take.
    #[arg(long, default_value = "500ms", value_parser = crate::cli::parse_duration)]
    stop_budget: u64,
    /// How long this worker takes to stop a resource (to try the stop budget).
    #[arg(long, default_value = "0ms", value_parser = crate::cli::parse_duration_or_zero)]
    stop_time: u64,
    /// Report every start and stop to the access monitor at this address (the demo and the
    /// chaos tests run one).
    #[arg(long)]
    monitor: Option<String>,
}

pub async fn run(args: NodeArgs) -> Result<ExitCode, String> {
    net::wire::valid_name("--name", &args.name)?;
    if let Some(m) = &args.monitor {
        super::target::check_host_port(m).map_err(|e| format!("--monitor {m}: {e}"))?;
    }
    let backend = args.target.backend()?;
    let monitor = match &args.monitor {
        Some(addr) => Some(Arc::new(
            MonitorClient::connect(addr, &protocol::NodeId::new(&args.name)).await?,
        )),
        None => None,
    };
    let (m1, m2) = (monitor.clone(), monitor);
    let stop_time = Duration::from_millis(args.stop_time);
    let config = NodeConfig {
        ttl: args.ttl,
        min_rebalance_interval: args.min_rebalance_interval,
        stop_budget: args.stop_budget,
        ..NodeConfig::default()
    };
    let handle = Rebalanser::builder()
        .registry(backend)
        .node_id(&args.name)
        .ttl(Duration::from_millis(config.ttl))
        .min_rebalance_interval(Duration::from_millis(config.min_rebalance_interval))
        .stop_budget(Duration::from_millis(config.stop_budget))
        .on_start(move |r| {
            let m = m1.clone();
            async move {
                match m {
                    Some(m) => m.report(Report::Start(r)).await,
                    None => Ok(()),
                }
            }
        })
        .on_stop(move |r| {
            let m = m2.clone();
            async move {
                tokio::time::sleep(stop_time).await;
                match m {
                    Some(m) => m.report(Report::Stop(r)).await,
                    None => Ok(()),
                }
            }
        })
        .on_aborted(|r, why| async move {
            eprintln!("aborted {r}: {why}");
        })
        .start()?;
    let origin = Instant::now();
    let mut events = handle.events();
    let name = args.name.clone();
    let log = tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            let what = match e {
                NodeEvent::Protocol(e) => e.to_string(),
                NodeEvent::Started(r) => format!("started {r}"),
                NodeEvent::Stopped(r) => format!("stopped {r}"),
                NodeEvent::Aborted(r, why) => format!("aborted {r}: {why}"),
            };
            println!("{:9.3}s {name}: {what}", origin.elapsed().as_secs_f64());
        }
    });
    super::terminated().await;
    let result = handle
        .shutdown(Duration::from_millis(config.shutdown_budget()))
        .await;
    log.abort();
    result.map(|()| ExitCode::SUCCESS)
}
