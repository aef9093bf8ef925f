//! The command line.

use crate::output;
use clap::{Args, Parser, Subcommand, ValueEnum};
use model::check::{CheckOptions, Strategy};
use model::{ModelConfig, Start};
use protocol::Mutant;
use reports::report::Profile;
use reports::run::check::CheckRequest;
use reports::run::sim::{Seeds, SimRequest};
use reports::run::Outcome;
use serde::Serialize;
use sim::sweep::{SeedRange, Shard};
use sim::{FaultPlan, SimConfig};
use std::path::{Path, PathBuf};
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
    ///
    /// With no configuration flags it runs the portfolio (see --list): one configuration per
    /// fault class (crash, request/reply failure, lapse and expiry, admin changes, membership
    /// changes, watch breaks, late and duplicated requests) on the smallest group where it
    /// bites, plus the combined default, with one verdict. Any configuration flag
    /// (--nodes, --crashes, ...) checks exactly that one configuration instead, every unnamed
    /// part at its default. --mutant alone runs the portfolio with the defect.
    Check(CheckArgs),
    /// Browse the same model interactively in stateright's Explorer (a local web page).
    Explore(ExploreArgs),
    /// List the deliberate defects, the property each breaks, and a configuration that shows it.
    Mutants(MutantsArgs),
    /// Simulate the group through seeded fault schedules (deterministic: a seed replays bit for
    /// bit), checking every property after every event, then heal and require convergence.
    ///
    /// Default scenario: 3 nodes, 6 resources, 120 simulated seconds of every fault at its
    /// default rate (each of the eight request/reply steps fails 0.5% of requests; 2% of
    /// messages delayed up to 2 s, 1% of requests duplicated, links reordered; partitions,
    /// one-way cuts, isolations and crashes about once a minute each, flapping and registry
    /// restarts every two minutes, pauses, watch breaks and compactions twice a minute, admin
    /// changes three times, leaves/joins once; clocks drift within ±1%), then everything
    /// heals and the group must converge within the printed bound.
    Sim(SimArgs),
    /// Re-run a saved failure (see `sim --save-failures`) and check it reproduces the same
    /// trace hash.
    Replay(ReplayArgs),
    /// Minimise a saved failure (fewer faults, fewer events, shorter, fewer nodes and
    /// resources) while the same property still fails; saves the result as a replay file.
    Shrink(ShrinkArgs),
    /// Check the TLA+ spec in tla/spec/ with TLC (needs Java 17 and tla/setup.sh): the same
    /// properties and mutants as `check` and `sim`.
    Tla(TlaArgs),
    /// Run the checkers (or merge their JSON results) and write an invariant report for CI:
    /// report.json, report.md (also appended to $GITHUB_STEP_SUMMARY when set) and junit.xml.
    /// Exit 1 if any property is violated anywhere, 0 otherwise, 2 on bad input.
    Report(ReportArgs),
    /// Serve the embedded registry over TCP (zero-install; not replicated: use etcd in
    /// production). Prints `registry listening on ADDR`, runs until Ctrl-C or SIGTERM.
    Registry(crate::network::RegistryArgs),
    /// Run one node of a group against a registry (embedded or etcd) until Ctrl-C or SIGTERM,
    /// then leave gracefully. Logs joins, leadership, assignments, starts, stops and fences.
    Node(crate::network::NodeArgs),
    /// Add or remove a group's resources, or list the group.
    Resources(crate::network::ResourcesArgs),
    /// Start an embedded registry and N node processes on loopback, show who accesses what,
    /// kill a node and time the failover, restart it and time the rebalance back. Exit 1 on
    /// any double access.
    Demo(crate::network::DemoArgs),
}

/// `report --profile`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProfileArg {
    /// Each checker's plain command on the clean protocol (or `--mutant`): the cross-check's
    /// row of it. Under a minute on 2 cores; fits a pull-request job.
    Quick,
    /// The nightly: the whole portfolio, more and swarm seeds, every CI and (unmutated)
    /// mutant configuration of TLC, and the cross-check's kill matrix.
    Full,
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// The folder to write the report into, e.g. `report` (created if missing; the checkers'
    /// own results and output go to its results/ and logs/).
    #[arg(long)]
    out: PathBuf,
    /// quick: check's combined default configuration (`check --config default`), sim on
    /// seeds 0..1000, TLC on ci and liveness (about a minute on 2 cores). full (nightly):
    /// check's whole portfolio, sim on 0..10000 and on 1,000,000 swarm seeds from a range
    /// that changes daily (YYYYMMDD000000 onwards, printed: any failure replays), TLC on every
    /// CI configuration and every mutant's configuration unmutated, and the cross-check's
    /// mutant kill matrix.
    #[arg(long, value_enum, default_value = "quick")]
    profile: ProfileArg,
    /// Merge these results (from `check`, `sim`, `tla` or `tla --cross-check` with --json;
    /// e.g. the shards of one sweep run on several machines) instead of running the checkers.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["profile", "mutant"])]
    from: Vec<PathBuf>,
    /// Run every checker with this deliberate defect (its name or code, M1..M12), each by its
    /// plain command (no configuration tailored to the defect): the report must then show it
    /// violated.
    #[arg(long, value_parser = parse_mutant)]
    mutant: Option<Mutant>,
    /// Threads (TLC workers) for each checker.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: u16,
    /// Earlier reports (report.json files, or folders holding one, as CI keeps them): the
    /// HTML report adds trend charts of each checker's throughput and every verdict.
    #[arg(long, value_name = "DIR")]
    history: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct TlaArgs {
    /// The configuration (tla/spec/NAME.cfg; see --list). Default: ci, or mutant-MN with --mutant.
    #[arg(long)]
    config: Option<String>,
    /// Check a deliberate defect: its name or code (M1..M8, M11, M12; M9 and M10 are outside TLC).
    #[arg(long, value_parser = parse_mutant)]
    mutant: Option<Mutant>,
    /// TLC worker threads (with --cross-check: every checker's threads).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: u16,
    /// Write the result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// List the configurations and what each covers.
    #[arg(long)]
    list: bool,
    /// Mutant parity: run the clean protocol and every mutant (M1..M12) through all three
    /// checkers (TLC, the model checker, the simulator on seeds 0..1000) and print a table of
    /// which checker kills which mutant, with the property, the counterexample's length and the
    /// time. Exit 0 only if the clean protocol holds under all three and every mutant is
    /// killed by all three, else 1. --workers sets every checker's threads. About two minutes
    /// on 2 cores.
    #[arg(long, conflicts_with_all = ["config", "mutant", "list"])]
    cross_check: bool,
    /// Trace validation: check that each simulator trace (NDJSON from `replay --trace-json` or
    /// `sim --seed N --trace-json`) is a behaviour of the spec. All files must come from one
    /// configuration; they are checked in one TLC run. Exit 0 if every trace is accepted, 1
    /// if one is rejected (the output names the trace, the event and the action the spec
    /// could not take), 2 if a file is not a trace.
    #[arg(long, value_name = "TRACE.ndjson", num_args = 1.., conflicts_with_all = ["config", "mutant", "list", "cross_check"])]
    validate_trace: Vec<PathBuf>,
    /// Counterexample replay: map TLC's counterexample back onto the Rust model and replay it
    /// through the protocol core, which must reach the same violation. For the replay TLC
    /// checks the spec as the code runs: watch streams delivered one revision at a time
    /// (tla/spec/RebalanserStepwise.tla) and `Hold = TRUE`. Exit 0 if the core reproduces the
    /// violation (or TLC finds nothing to replay), 1 if it does not (the output names the TLC
    /// state the core could not reach and how the two differ), 2 if the model cannot express
    /// the configuration (late requests, compacted watches, other names).
    #[arg(long, conflicts_with_all = ["list", "cross_check"])]
    replay: bool,
}

#[derive(Args, Debug)]
struct SimArgs {
    /// Run one seed.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Run a range of seeds, end exclusive (default 0..1000).
    #[arg(long, value_parser = parse_seeds)]
    seeds: Option<SeedRange>,
    /// Simulated length of the fault phase: 120s, 2m, 500ms, 1h.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    duration: u64,
    /// Nodes in the group (1-32).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=32))]
    nodes: u8,
    /// Resources at the start (0-256); the administrator may add two more.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u16).range(0..=256))]
    resources: u16,
    /// Faults to inject: all, none, rpc (the eight request/reply steps), or a comma-separated
    /// list of: post-request, deliver-request, validate-request, update-server-state,
    /// post-reply, deliver-reply, validate-reply, update-client-state, delay, reorder,
    /// duplicate, partition, one-way, isolate, flapping, crash, pause, registry-restart,
    /// watch-break, compaction, clock-drift, admin-churn, membership.
    #[arg(long, default_value = "all", value_parser = parse_faults)]
    faults: FaultPlan,
    /// Set one fault's rate, FAULT=RATE (repeatable; 0 turns it off). The eight steps, delay
    /// and duplicate take a probability per message (e.g. post-reply=0.02); scheduled faults
    /// take occurrences per simulated minute (e.g. crash=3); reorder and clock-drift are
    /// switches.
    #[arg(long = "rate", value_name = "FAULT=RATE")]
    rates: Vec<String>,
    /// Swarm testing: every seed draws its own fault mix and rates (printed per failing seed).
    #[arg(long, conflicts_with_all = ["faults", "rates"])]
    swarm: bool,
    /// Simulate a deliberate defect (see `rebalanser mutants`): its name or code (M1..M12).
    #[arg(long, value_parser = parse_mutant)]
    mutant: Option<Mutant>,
    /// Also inject faults outside the timing assumptions (pauses past the fencing margin,
    /// clocks drifting past the bound, slow stops); violations after one are labelled
    /// assumption-breached.
    #[arg(long)]
    breach_assumptions: bool,
    /// Skip the heal-and-converge check after the fault phase.
    #[arg(long)]
    no_liveness: bool,
    /// Worker threads (results are identical for any number). Default: every core.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Run only part I of N of the seed range (1 <= I <= N): seeds A+I-1, A+I-1+N, ...
    #[arg(long, value_parser = parse_shard, conflicts_with = "seed")]
    shard: Option<Shard>,
    /// Run every seed even after a failure (default: stop at the lowest failing seed).
    #[arg(long)]
    keep_going: bool,
    /// Save a replay file for each failing seed into this folder.
    #[arg(long, value_name = "DIR")]
    save_failures: Option<PathBuf>,
    /// Write the result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Print the readable event log (with --seed).
    #[arg(long)]
    trace: bool,
    /// Write the events as NDJSON, one per line, with the registry revisions and node state
    /// each changed (with --seed).
    #[arg(long, value_name = "FILE")]
    trace_json: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct ReplayArgs {
    /// A replay file written by `sim --save-failures` or `shrink`.
    file: PathBuf,
    /// Print the readable event log.
    #[arg(long)]
    trace: bool,
    /// Write the events as NDJSON.
    #[arg(long, value_name = "FILE")]
    trace_json: Option<PathBuf>,
    /// Write the result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ShrinkArgs {
    /// A replay file of a failing run.
    file: PathBuf,
    /// Where to save the shrunk run (default: FILE's name with .shrunk.json).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// The property that must keep failing (default: the run's first failure).
    #[arg(long)]
    property: Option<String>,
    /// Candidate runs of the failing seed to try at most.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Runs of other seeds to try at most when regrowing the failure in a smaller group (the
    /// reduced run is still long, see --regrow-above): seeds on fewer nodes and
    /// resources, shorter, with the run's fault kinds at higher rates, until one fails with
    /// the same cause (the property, and the last fault it needs: its kind, the request and
    /// the kind of key). 0: keep to the failing seed.
    #[arg(long, default_value_t = 100_000)]
    regrow_seeds: u32,
    /// Regrow only a reduced run of more events than this.
    #[arg(long, default_value_t = 100)]
    regrow_above: u64,
    /// Write the before/after figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn parse_seeds(s: &str) -> Result<SeedRange, String> {
    s.parse()
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

/// Parse a duration: `120s`, `2m`, `500ms`, `1h`.
pub(crate) fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration; expected e.g. 120s, 2m, 500ms, 1h"))?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" | "min" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "" => {
            return Err(format!(
                "'{s}' has no unit; add one: ms, s, m or h (e.g. 120s)"
            ))
        }
        other => return Err(format!("'{s}': unknown unit '{other}'; use ms, s, m or h")),
    };
    ms.filter(|ms| *ms > 0)
        .ok_or_else(|| format!("'{s}' must be between 1 ms and 24 h"))
}

/// A duration that may be zero (`0ms`, `0s`).
pub(crate) fn parse_duration_or_zero(s: &str) -> Result<u64, String> {
    let zero = ["ms", "s", "m", "h"]
        .iter()
        .any(|unit| s.trim().strip_suffix(unit) == Some("0"));
    if zero {
        return Ok(0);
    }
    parse_duration(s)
}

fn parse_faults(s: &str) -> Result<FaultPlan, String> {
    FaultPlan::parse(s)
}

/// What the model contains. Every field is optional so that `check` can tell a configuration
/// the user spelled out (any of these flags: exactly that one configuration, the rest at its
/// default) from none at all (the portfolio).
#[derive(Args, Debug, Clone)]
struct ModelArgs {
    /// Nodes in the group (1-5). Default 2.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
    nodes: Option<u8>,
    /// Resources at the start (0-8); an admin change may add one more. Default 2.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=8))]
    resources: Option<u8>,
    /// Budget: process crashes (each restarts later). Default 1.
    #[arg(long, allow_negative_numbers = true)]
    crashes: Option<u8>,
    /// Budget: request/reply failures, each at one of the eight steps (POST_REQUEST ...
    /// UPDATE_CLIENT_STATE), seen by the node as POST_FAILED, RETRYABLE, FATAL or UNKNOWN.
    /// Default 1.
    #[arg(long, allow_negative_numbers = true)]
    rpc_faults: Option<u8>,
    /// Budget: keep-alive lapses (a node's self-fencing deadline passes and its lease may
    /// expire); with --timing-assumption off, also leases expiring under a node that relies on
    /// them. Default: 0, or 1 with --timing-assumption off.
    #[arg(long, allow_negative_numbers = true)]
    expiries: Option<u8>,
    /// Budget: resources added or removed by the administrator. Default 0.
    #[arg(long, allow_negative_numbers = true)]
    admin_changes: Option<u8>,
    /// Budget: watch streams that break. Default 0.
    #[arg(long, allow_negative_numbers = true)]
    watch_breaks: Option<u8>,
    /// Budget: nodes leaving gracefully and joining again. Default 0.
    #[arg(long, allow_negative_numbers = true)]
    membership_changes: Option<u8>,
    /// Budget: requests the node gives up on (a timeout: it sees UNKNOWN) while they are still
    /// on their way; they may land later. Default 0.
    #[arg(long, allow_negative_numbers = true)]
    late: Option<u8>,
    /// Budget: requests the network hands the registry twice (the copy may land later).
    /// Default 0.
    #[arg(long, allow_negative_numbers = true)]
    duplicates: Option<u8>,
    /// Budget (timed model): replies the network delays, up to the request time-out.
    /// Default 0.
    #[arg(long, allow_negative_numbers = true)]
    delays: Option<u8>,
    /// Where exploration starts: a settled group, or every node just joining. Default settled.
    #[arg(long, value_enum)]
    start: Option<StartArg>,
    /// Turn off symmetry reduction over node names.
    #[arg(long)]
    no_symmetry: bool,
    /// Check a deliberate defect (see `rebalanser mutants`): its name or code (M1..M12).
    #[arg(long, value_parser = parse_mutant)]
    mutant: Option<Mutant>,
    /// The timed model: each machine's clock and the registry's are bounded counters that
    /// ticks advance, timers fire at their armed time, clocks drift within the bound, and the
    /// rebalance interval is judged (safety only; the untimed model judges liveness). Alone,
    /// `check --timed` runs the portfolio's timed configurations; with configuration flags,
    /// that one configuration, timed.
    #[arg(long)]
    timed: bool,
    /// The timing assumption (bounded drift, pauses and stop time). Off, a lease may expire
    /// under a node that still accesses resources, and the checker must find the damage.
    /// Default on.
    #[arg(long, value_enum)]
    timing_assumption: Option<OnOff>,
}

#[derive(Args, Debug)]
struct CheckArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Run one configuration of the portfolio by name, or `all` (the default without
    /// configuration flags). See --list.
    #[arg(long, value_name = "NAME|all")]
    config: Option<String>,
    /// List the portfolio's configurations, what each covers and its command, and exit.
    #[arg(long)]
    list: bool,
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
    /// Whether the user named any part of the configuration (`--mutant` aside).
    fn explicit(&self) -> bool {
        let budgets = [
            self.nodes,
            self.resources,
            self.crashes,
            self.rpc_faults,
            self.expiries,
            self.admin_changes,
            self.watch_breaks,
            self.membership_changes,
            self.late,
            self.duplicates,
            self.delays,
        ];
        budgets.iter().any(Option::is_some)
            || self.start.is_some()
            || self.no_symmetry
            || self.timing_assumption.is_some()
    }

    /// The one configuration these flags describe, every unnamed part at its default.
    fn config(&self) -> ModelConfig {
        let d = ModelConfig::default();
        let timing = !matches!(self.timing_assumption, Some(OnOff::Off));
        ModelConfig {
            nodes: self.nodes.map_or(d.nodes, usize::from),
            resources: self.resources.map_or(d.resources, usize::from),
            crashes: self.crashes.unwrap_or(d.crashes),
            rpc_faults: self.rpc_faults.unwrap_or(d.rpc_faults),
            expiries: self.expiries.unwrap_or((!timing).into()),
            admin_changes: self.admin_changes.unwrap_or(d.admin_changes),
            watch_breaks: self.watch_breaks.unwrap_or(d.watch_breaks),
            membership_changes: self.membership_changes.unwrap_or(d.membership_changes),
            late: self.late.unwrap_or(d.late),
            duplicates: self.duplicates.unwrap_or(d.duplicates),
            delays: self.delays.unwrap_or(d.delays),
            symmetry: !self.no_symmetry,
            timing_assumption: timing,
            mutant: self.mutant,
            start: match self.start {
                None => d.start,
                Some(StartArg::Settled) => Start::Settled,
                Some(StartArg::Joining) => Start::Joining,
            },
            timed: self.timed,
        }
    }
}

/// `rebalanser check`: the portfolio, one of its configurations, or the configuration the
/// flags spell out.
fn check(args: CheckArgs) -> Result<ExitCode, String> {
    if args.list {
        print!("{}", reports::text::check::render_portfolio_list());
        return Ok(ExitCode::SUCCESS);
    }
    let entries = match (&args.config, args.model.explicit()) {
        (Some(name), true) => {
            return Err(format!(
                "--config {name} names a whole configuration: give it alone, or give \
                 configuration flags (--nodes, --crashes, ...) without --config"
            ))
        }
        (Some(name), false) if args.model.timed => {
            return Err(format!(
                "--config {name} names a whole configuration (timed or not): give it without \
                 --timed, or give --timed alone for the portfolio's timed configurations"
            ))
        }
        (Some(name), false) if name == "all" => model::portfolio::entries(),
        (Some(name), false) => vec![model::portfolio::find(name)?],
        (None, false) if args.model.timed => model::portfolio::timed_entries(),
        (None, false) => model::portfolio::entries(),
        (None, true) => Vec::new(),
    };
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
    let request = if entries.is_empty() {
        CheckRequest::One(config)
    } else {
        CheckRequest::Portfolio(entries, args.model.mutant)
    };
    finish(
        reports::run::check::check(&request, &options),
        args.json.as_deref(),
    )
}

/// Carry out what an [`Outcome`] asks of its caller: print, write the JSON, fail or exit.
fn finish<R: Serialize>(outcome: Outcome<R>, json: Option<&Path>) -> Result<ExitCode, String> {
    print!("{}", outcome.text);
    if let Some(path) = json {
        output::write_json(path, &outcome.result)?;
    }
    match outcome.error {
        Some(e) => Err(e),
        None => Ok(outcome.exit_code()),
    }
}

/// Run a parsed command line; `Err` is bad input (exit 2).
pub fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Check(args) => check(args),
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
        Command::Sim(args) => {
            let mut config = SimConfig {
                nodes: args.nodes.into(),
                resources: args.resources.into(),
                duration: args.duration,
                faults: args.faults.clone(),
                swarm: args.swarm,
                mutant: args.mutant,
                breach_assumptions: args.breach_assumptions,
                liveness: !args.no_liveness,
                ..SimConfig::default()
            };
            for spec in &args.rates {
                config.faults.set_rate(spec)?;
            }
            let seeds = match (args.seed, args.seeds) {
                (Some(seed), _) => Seeds::One(seed),
                (None, range) => Seeds::Range(
                    range.unwrap_or(SeedRange {
                        start: 0,
                        end: 1000,
                    }),
                    args.shard,
                ),
            };
            let threads = args
                .threads
                .map(usize::from)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            if let Some(path) = &args.json {
                output::check_writable(path)?;
            }
            let outcome = reports::run::sim::sim(&SimRequest {
                config,
                seeds,
                threads,
                keep_going: args.keep_going,
                save_failures: args.save_failures,
                trace: args.trace,
                trace_json: args.trace_json,
                quiet: args.quiet,
            })?;
            finish(outcome, args.json.as_deref())
        }
        Command::Replay(args) => {
            if let Some(path) = &args.json {
                output::check_writable(path)?;
            }
            let outcome =
                reports::run::sim::replay(&args.file, args.trace, args.trace_json.as_deref())?;
            finish(outcome, args.json.as_deref())
        }
        Command::Shrink(args) => {
            if let Some(path) = &args.json {
                output::check_writable(path)?;
            }
            let outcome = reports::run::sim::shrink(
                &args.file,
                args.out.as_deref(),
                args.property.as_deref(),
                sim::shrink::ShrinkOptions {
                    max_attempts: args.max_attempts,
                    regrow_seeds: args.regrow_seeds,
                    regrow_above: args.regrow_above,
                },
            )?;
            finish(outcome, args.json.as_deref())
        }
        Command::Tla(args) if !args.validate_trace.is_empty() => {
            tla::command::validate_traces(&args.validate_trace, args.workers, args.json.as_deref())
        }
        Command::Tla(args) if args.cross_check => {
            if let Some(path) = &args.json {
                output::check_writable(path)?;
            }
            let outcome = reports::run::cross_check::cross_check(args.workers)?;
            finish(outcome, args.json.as_deref())
        }
        Command::Tla(args) => tla::command::run(tla::TlaRequest {
            config: args.config,
            mutant: args.mutant,
            workers: args.workers,
            json: args.json,
            list: args.list,
            replay: args.replay,
        }),
        Command::Report(args) => {
            let outcome = reports::report::run(reports::report::ReportRequest {
                out: args.out,
                profile: match args.profile {
                    ProfileArg::Quick => Profile::Quick,
                    ProfileArg::Full => Profile::Full,
                },
                from: args.from,
                mutant: args.mutant,
                workers: args.workers,
                history: args.history,
            })?;
            finish(outcome, None)
        }
        Command::Registry(args) => crate::network::registry(args),
        Command::Node(args) => crate::network::node(args),
        Command::Resources(args) => crate::network::resources(args),
        Command::Demo(args) => crate::network::demo(args),
        Command::Mutants(args) => {
            let catalogue = reports::result::mutants::mutant_catalogue();
            print!("{}", reports::result::mutants::render_mutants(&catalogue));
            if let Some(path) = &args.json {
                output::write_json(path, &catalogue)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cross-check runs the clean protocol on `ModelConfig::default()` as the configuration
    /// `rebalanser check` checks without flags.
    #[test]
    fn check_without_flags_checks_the_default_model() {
        let cli = Cli::try_parse_from(["rebalanser", "check"]).expect("parses");
        let Command::Check(args) = cli.command else {
            panic!("not check: {:?}", cli.command)
        };
        assert_eq!(args.model.config(), ModelConfig::default());
    }
}
