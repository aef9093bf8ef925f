//! `rebalanser demo`: the demo scenario of `harness::demo` on this machine, with its figures
//! optionally written as JSON.

use clap::Args;
use harness::demo::{DemoConfig, DemoError};
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

pub async fn run(args: DemoArgs) -> Result<ExitCode, String> {
    if let Some(path) = &args.json {
        crate::output::check_writable(path)?;
    }
    let config = DemoConfig {
        bin: std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?,
        nodes: args.nodes,
        resources: args.resources,
        ttl_ms: args.ttl,
        step_timeout: Duration::from_millis(args.step_timeout),
    };
    match harness::demo::run(&config).await {
        // A step that did not settle: the demo failed (exit 1), it was not bad input (exit 2).
        Err(DemoError::Unsettled(why)) => {
            eprintln!("demo failed: {why}");
            Ok(ExitCode::from(1))
        }
        Err(DemoError::Failed(e)) => Err(e),
        Ok(report) => {
            if let Some(path) = &args.json {
                crate::output::write_json(path, &report)?;
            }
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
