//! The command line.

use crate::output;
use clap::{Args, Parser, Subcommand, ValueEnum};
use model::check::{self, CheckOptions, Strategy};
use model::{ModelConfig, Start};
use protocol::Mutant;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Rebalanser: Kafka-style consumer groups over any resources, with a model-checked core.
///
/// Exit codes: 0 every property holds; 1 a property was violated (the output says which and
/// shows the counterexample); 2 bad usage or bad input.
#[derive(Parser, Debug)]
#[command(name = "rebalanser", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Model-check the resource-barrier protocol exhaustively (stateright) and report every
    /// property: always (safety), eventually (liveness, once faults stop) and sometimes
    /// (the model is not vacuous).
    Check(CheckArgs),
    /// Browse the same model interactively in stateright's Explorer (a local web page).
    Explore(ExploreArgs),
    /// List the deliberate defects, the property each breaks, and a configuration that shows it.
    Mutants(MutantsArgs),
}

/// What the model contains.
#[derive(Args, Debug, Clone)]
struct ModelArgs {
    /// Nodes in the group (1-5).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=5))]
    nodes: u8,
    /// Resources at the start (0-8); an admin change may add one more.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=8))]
    resources: u8,
    /// Budget: process crashes (each restarts later).
    #[arg(long, default_value_t = 1)]
    crashes: u8,
    /// Budget: request/reply failures, each at one of the eight steps (POST_REQUEST ...
    /// UPDATE_CLIENT_STATE), seen by the node as POST_FAILED, RETRYABLE, FATAL or UNKNOWN.
    #[arg(long, default_value_t = 1)]
    rpc_faults: u8,
    /// Budget: keep-alive lapses (a node's self-fencing deadline passes and its lease may
    /// expire); with --timing-assumption off, also leases expiring under a node that relies on
    /// them. Default: 0, or 1 with --timing-assumption off.
    #[arg(long)]
    expiries: Option<u8>,
    /// Budget: resources added or removed by the administrator.
    #[arg(long, default_value_t = 0)]
    admin_changes: u8,
    /// Budget: watch streams that break.
    #[arg(long, default_value_t = 0)]
    watch_breaks: u8,
    /// Budget: nodes leaving gracefully and joining again.
    #[arg(long, default_value_t = 0)]
    membership_changes: u8,
    /// Where exploration starts: a settled group, or every node just joining.
    #[arg(long, value_enum, default_value_t = StartArg::Settled)]
    start: StartArg,
    /// Turn off symmetry reduction over node names.
    #[arg(long)]
    no_symmetry: bool,
    /// Check a deliberate defect (see `rebalanser mutants`): its name or code (M1..M7).
    #[arg(long, value_parser = parse_mutant)]
    mutant: Option<Mutant>,
    /// The timing assumption (bounded drift, pauses and stop time). Off, a lease may expire
    /// under a node that still accesses resources, and the checker must find the damage.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    timing_assumption: OnOff,
}

#[derive(Args, Debug)]
struct CheckArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Search order: bfs finds shortest counterexamples, dfs uses less memory.
    #[arg(long, value_enum, default_value_t = StrategyArg::Bfs)]
    strategy: StrategyArg,
    /// Checker threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: u16,
    /// Stop after this many seconds (properties not yet decided are reported unknown).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: Option<u64>,
    /// Skip the liveness pass (the eventually-properties are then reported unknown).
    #[arg(long)]
    no_liveness: bool,
    /// Write the result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct ExploreArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 3000)]
    port: u16,
}

#[derive(Args, Debug)]
struct MutantsArgs {
    /// Write the catalogue as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum StartArg {
    Settled,
    Joining,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum OnOff {
    On,
    Off,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum StrategyArg {
    Bfs,
    Dfs,
}

fn parse_mutant(s: &str) -> Result<Mutant, String> {
    s.parse()
}

impl ModelArgs {
    fn config(&self) -> ModelConfig {
        ModelConfig {
            nodes: self.nodes.into(),
            resources: self.resources.into(),
            crashes: self.crashes,
            rpc_faults: self.rpc_faults,
            expiries: self
                .expiries
                .unwrap_or(matches!(self.timing_assumption, OnOff::Off).into()),
            admin_changes: self.admin_changes,
            watch_breaks: self.watch_breaks,
            membership_changes: self.membership_changes,
            symmetry: !self.no_symmetry,
            timing_assumption: matches!(self.timing_assumption, OnOff::On),
            mutant: self.mutant,
            start: match self.start {
                StartArg::Settled => Start::Settled,
                StartArg::Joining => Start::Joining,
            },
        }
    }
}

/// Run a parsed command line; `Err` is bad input (exit 2).
pub fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Check(args) => {
            let config = args.model.config();
            config.validate()?;
            if let Some(path) = &args.json {
                output::check_writable(path)?;
            }
            let options = CheckOptions {
                strategy: match args.strategy {
                    StrategyArg::Bfs => Strategy::Bfs,
                    StrategyArg::Dfs => Strategy::Dfs,
                },
                threads: args.threads.into(),
                timeout: args.timeout.map(Duration::from_secs),
                progress: !args.quiet,
                liveness: !args.no_liveness,
            };
            if !args.quiet {
                eprintln!("{}", output::describe_config(&config, &options));
            }
            let report = check::run(&config, &options);
            print!("{}", output::render_check(&report));
            if let Some(path) = &args.json {
                output::write_json(path, &report)?;
            }
            Ok(if report.violated() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Explore(args) => {
            let config = args.model.config();
            config.validate()?;
            let addr = format!("127.0.0.1:{}", args.port);
            // Say so plainly if the port is taken, rather than failing inside the server.
            std::net::TcpListener::bind(addr.as_str())
                .map_err(|e| format!("--port {}: cannot listen on {addr}: {e}", args.port))?;
            eprintln!("Explorer for this model on http://{addr}/ (Ctrl-C to stop)");
            use stateright::Model;
            model::RebalanceModel::new(config)
                .without_latches()
                .checker()
                .serve(addr.as_str());
            loop {
                std::thread::park();
            }
        }
        Command::Mutants(args) => {
            let catalogue = output::mutant_catalogue();
            print!("{}", output::render_mutants(&catalogue));
            if let Some(path) = &args.json {
                output::write_json(path, &catalogue)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
