//! A separate process gives the same runs as this one: 200 seeds, on one thread and on two.

use sim::sweep::{self, SweepOptions};
use sim::SimConfig;
use std::process::Command;

fn combined_hash_from_cli(threads: &str, json: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rebalanser"))
        .args([
            "sim",
            "--seeds",
            "0..200",
            "--threads",
            threads,
            "-q",
            "--json",
        ])
        .arg(json)
        .output()
        .expect("the binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(report["figures"]["seeds"], 200);
    report["combined_hash"].as_str().unwrap().to_string()
}

#[test]
fn a_separate_process_reproduces_200_seeds_on_any_number_of_threads() {
    let dir = std::env::temp_dir().join(format!("rebalanser-sim-process-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seeds: Vec<u64> = (0..200).collect();
    let options = SweepOptions {
        threads: 1,
        keep_going: false,
    };
    let here = sweep::sweep(&SimConfig::default(), &seeds, options, None);
    let here = sim::replay::hex(here.combined_hash);
    assert_eq!(combined_hash_from_cli("1", &dir.join("one.json")), here);
    assert_eq!(combined_hash_from_cli("2", &dir.join("two.json")), here);
    let _ = std::fs::remove_dir_all(&dir);
}
