//! Throughput of the protocol core's `handle`, of model checking a fixed configuration, and of
//! the deterministic simulator.
//!
//! `cargo bench` runs them all; figures go in the README.

// The CLI's allocator, so the figures match what `rebalanser check` does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use model::check::{self, CheckOptions};
use model::ModelConfig;
use protocol::{Input, Node, NodeConfig, NodeId, Outcome, Output, Registry, ResourceId, Time};
use sim::{RunOptions, SimConfig};
use std::hint::black_box;
use std::time::Instant;

/// One node joins a group of 8 resources and runs them all: every input it handles, in order.
fn join_and_run() -> usize {
    let mut registry = Registry::new();
    for i in 0..8 {
        registry.txn(&protocol::admin::add_resource(&ResourceId::new(format!(
            "r{i}"
        ))));
    }
    let me = NodeId::new("n1");
    let mut node = Node::new(me.clone(), NodeConfig::default(), None);
    let mut inbox = vec![Input::Join];
    let mut handled = 0;
    while let Some(input) = inbox.pop() {
        handled += 1;
        for output in node.handle(Time(0), input) {
            match output {
                Output::Send { req, request } => {
                    let (response, events) = registry.handle(Time(0), &me, &request);
                    inbox.push(Input::Reply {
                        req,
                        outcome: Outcome::Success(response),
                    });
                    inbox.extend(events.into_iter().map(|(_, e)| Input::Watch(e)));
                }
                Output::Start(r) => inbox.push(Input::Started(r)),
                Output::Stop(r) => inbox.push(Input::Stopped(r)),
                _ => {}
            }
        }
    }
    handled
}

fn bench_handle(c: &mut Criterion) {
    let inputs = join_and_run();
    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Elements(inputs as u64));
    g.bench_function("node_handle_join_and_run_8_resources", |b| {
        b.iter(join_and_run)
    });
    g.finish();
}

fn bench_check(c: &mut Criterion) {
    let config = ModelConfig {
        nodes: 2,
        resources: 2,
        crashes: 1,
        rpc_faults: 0,
        expiries: 0,
        admin_changes: 0,
        ..ModelConfig::default()
    };
    let options = CheckOptions::quiet(false);
    let states = check::run(&config, &options).figures.unique_states;
    let mut g = c.benchmark_group("model");
    g.sample_size(10);
    g.throughput(Throughput::Elements(states as u64));
    g.bench_function("check_2x2_crash1_bfs_2threads", |b| {
        b.iter(|| check::run(&config, &options))
    });
    g.finish();
}

/// Seeds of the default scenario run once, on this thread, for the printed figures.
const FIGURE_SEEDS: u64 = 200;

/// Print the simulator's figures on one thread: simulated protocol events per second per core
/// and simulated-to-real time, summed over [`FIGURE_SEEDS`] seeds of the default scenario.
fn print_sim_figures() {
    let config = SimConfig::default();
    let (mut events, mut sim_ms, mut failing) = (0u64, 0u64, 0usize);
    let started = Instant::now();
    for seed in 0..FIGURE_SEEDS {
        let r = sim::run(&config, seed, RunOptions::default());
        events += r.events;
        sim_ms += r.sim_ms;
        failing += usize::from(!r.violations.is_empty());
    }
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "sim figures, default scenario, seeds 0..{FIGURE_SEEDS} on 1 thread: {events} events, \
         {:.1} simulated s in {wall:.2} s wall: {:.0} events/s per core, {:.0}x real time, \
         {:.1} seeds/s, {failing} failing seed(s)",
        sim_ms as f64 / 1000.0,
        events as f64 / wall,
        sim_ms as f64 / 1000.0 / wall,
        FIGURE_SEEDS as f64 / wall,
    );
}

fn bench_sim(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.sample_size(20);
    // A different seed each iteration, deterministically: the figure is the mean over seeds.
    let config = SimConfig::default();
    let mut seed = 0u64;
    g.bench_function("default_scenario_seed", |b| {
        b.iter(|| {
            seed += 1;
            black_box(sim::run(&config, seed, RunOptions::default()))
        })
    });
    let short = SimConfig {
        duration: 10_000,
        ..SimConfig::default()
    };
    let mut seed = 0u64;
    g.bench_function("short_run_10s", |b| {
        b.iter(|| {
            seed += 1;
            black_box(sim::run(&short, seed, RunOptions::default()))
        })
    });
    g.finish();
}

/// Whether this is a `cargo bench` run whose filter (if any) selects the `sim` group, so that
/// `cargo test --benches` and filters for other groups skip the figures.
fn sim_figures_wanted() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    args.iter().any(|a| a == "--bench")
        && (filters.is_empty() || filters.iter().any(|f| f.contains("sim")))
}

fn sim_benches(c: &mut Criterion) {
    if sim_figures_wanted() {
        print_sim_figures();
    }
    bench_sim(c);
}

criterion_group!(benches, bench_handle, bench_check, sim_benches);
criterion_main!(benches);
