//! Throughput of the protocol core's `handle` and of model checking a fixed configuration.
//!
//! `cargo bench` runs both; figures go in the README.

// The CLI's allocator, so the figures match what `rebalanser check` does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use model::check::{self, CheckOptions};
use model::ModelConfig;
use protocol::{Input, Node, NodeConfig, NodeId, Outcome, Output, Registry, ResourceId, Time};

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

criterion_group!(benches, bench_handle, bench_check);
criterion_main!(benches);
