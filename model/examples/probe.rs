#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use model::{ModelConfig, RebalanceModel};
use stateright::{Checker, Model};
fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let mut c = ModelConfig::default();
    c.nodes = args[0] as usize; c.resources = args[1] as usize; c.crashes = args[2] as u8; c.rpc_faults = args[3] as u8; c.expiries = args[4] as u8; c.admin_changes = args[5] as u8;
    c.symmetry = args.get(6).map_or(true, |v| *v == 1); if args.get(7) == Some(&1) { c.start = model::Start::Joining; }
    let t = std::time::Instant::now();
    let b = RebalanceModel::new(c).checker().threads(2).timeout(std::time::Duration::from_secs(std::env::var("SECS").map(|v| v.parse().unwrap()).unwrap_or(120))); let ch = if std::env::var("DFS").is_ok() { b.spawn_dfs().join() } else { b.spawn_bfs().join() };
    let secs = t.elapsed().as_secs_f64();
    println!("states {} unique {} depth {} secs {:.1} rate {:.0}", ch.state_count(), ch.unique_state_count(), ch.max_depth(), secs, ch.unique_state_count() as f64 / secs);
    for (name, path) in ch.discoveries() { println!("{name}: {} steps", path.clone().into_actions().len()); if name == "no_double_access" && std::env::var("DUMP").is_ok() { let v = path.into_vec(); for (s, a) in v { println!("  -> {:?}", a); for p in &s.processes { println!("     {} up={} phase={:?} lease={:?} res={:?} acc={:?} pend={:?} ch={:?}", p.node.id(), p.up, p.node.phase(), p.node.lease(), p.node.resources(), p.app.accessing, p.app.pending, ""); } } } }
}
#[allow(dead_code)]
fn dump(path: stateright::Path<model::State, model::Action>) {
    for (s, a) in path.into_vec() {
        if let Some(a) = a { println!("  -> {:?}", a); } else {
            for p in &s.processes { println!("     {} up={} phase={:?} lease={:?} res={:?} acc={:?} pend={:?}", p.node.id(), p.up, p.node.phase(), p.node.lease(), p.node.resources(), p.app.accessing, p.app.pending); }
        }
        let _ = s;
    }
}
