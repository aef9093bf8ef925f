//! Trace validation: simulator traces are behaviours of the TLA+ spec; a corrupted trace and the
//! trace of every mutant are not; a file that is not a trace exits 2. Needs Java 17 and
//! `tla/setup.sh`.

mod common;

use std::path::{Path, PathBuf};

/// Fault-heavy: every fault kind several times a minute and every request/reply step failing
/// 2% of the time, for 20 simulated seconds.
const HEAVY: &[&str] = &[
    "--duration",
    "20s",
    "--rate",
    "crash=6",
    "--rate",
    "partition=4",
    "--rate",
    "one-way=4",
    "--rate",
    "isolate=4",
    "--rate",
    "flapping=3",
    "--rate",
    "pause=8",
    "--rate",
    "watch-break=8",
    "--rate",
    "compaction=6",
    "--rate",
    "registry-restart=3",
    "--rate",
    "admin-churn=8",
    "--rate",
    "membership=4",
    "--rate",
    "post-request=0.02",
    "--rate",
    "deliver-request=0.02",
    "--rate",
    "validate-request=0.02",
    "--rate",
    "update-server-state=0.02",
    "--rate",
    "post-reply=0.02",
    "--rate",
    "deliver-reply=0.02",
    "--rate",
    "validate-reply=0.02",
    "--rate",
    "update-client-state=0.02",
    "--rate",
    "delay=0.1",
    "--rate",
    "duplicate=0.05",
];

/// Seeds validated in CI, sized to CI's time budget; a longer validation is
/// `rebalanser tla --validate-trace` over any number of `sim --trace` files.
const SEEDS: u64 = 12;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rebalanser-trace-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Simulate one seed and write its trace; returns the file.
fn trace(dir: &Path, seed: u64, extra: &[&str]) -> PathBuf {
    let file = dir.join(format!("seed-{seed}.ndjson"));
    let seed = seed.to_string();
    let mut args = vec!["sim", "--seed", &seed, "-q", "--trace-json"];
    args.push(file.to_str().unwrap());
    args.extend_from_slice(extra);
    let (code, out, err) = common::rebalanser(&args);
    assert!(
        code == 0 || code == 1,
        "{args:?}: exit {code}\n{out}\n{err}"
    );
    assert!(file.is_file(), "{args:?} wrote no trace\n{err}");
    file
}

/// Validate `files`: exit code and the JSON result.
fn validate(dir: &Path, files: &[PathBuf]) -> (i32, serde_json::Value, String) {
    let json = dir.join("result.json");
    let mut args: Vec<String> = vec!["tla".into(), "--validate-trace".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["--json".into(), json.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = common::rebalanser(&args);
    assert!(code == 0 || code == 1, "exit {code}\n{out}\n{err}");
    let v = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (code, v, out)
}

#[test]
fn the_fault_heavy_seeds_are_behaviours_of_the_spec() {
    common::require_tlc();
    let dir = scratch("heavy");
    let files: Vec<PathBuf> = (0..SEEDS).map(|seed| trace(&dir, seed, HEAVY)).collect();
    let (code, v, out) = validate(&dir, &files);
    assert_eq!(code, 0, "{out}\n{v}");
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["traces"].as_array().unwrap().len() as u64, SEEDS);
    let actions: u64 = v["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["actions"].as_u64().unwrap())
        .sum();
    assert!(actions > SEEDS * 100, "too few spec actions: {v}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupted_trace_is_rejected_where_it_was_corrupted() {
    common::require_tlc();
    let dir = scratch("corrupt");
    let good = trace(&dir, 3, HEAVY);
    let text = std::fs::read_to_string(&good).unwrap();
    // Halfway through, one node's application claims a resource it never started.
    let lines: Vec<&str> = text.lines().collect();
    let mut corrupted_step = None;
    let mut out = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        let has_actions = v["spec"]["actions"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
        if corrupted_step.is_none() && k > lines.len() / 2 && has_actions {
            let set = v["spec"]["state"]["nodes"][0]["process"]["app"]["accessing"]
                .as_array_mut()
                .unwrap();
            set.push(serde_json::json!("r8"));
            corrupted_step = v["step"].as_u64();
        }
        out.push(v.to_string());
    }
    let bad = dir.join("corrupted.ndjson");
    std::fs::write(&bad, out.join("\n")).unwrap();
    let (code, v, out) = validate(&dir, std::slice::from_ref(&bad));
    assert_eq!(code, 1, "{out}");
    assert_eq!(v["verdict"], "rejected");
    assert_eq!(v["rejection"]["step"].as_u64(), corrupted_step, "{v}");
    // The trace it came from passes.
    let (code, _, out) = validate(&dir, &[good]);
    assert_eq!(code, 0, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_mutant_trace_is_rejected() {
    common::require_tlc();
    let dir = scratch("mutants");
    // M9 is outside the spec's abstraction, traces included (they carry no time): the
    // catalogue says so, and its trace is a behaviour of the spec. M10 is outside TLC's model
    // checking (no invariant of the spec is about time), but its missing hold is logged state.
    for m in protocol::Mutant::ALL {
        let mutant = m.code().to_string();
        if m == protocol::Mutant::FenceFromReply {
            let file = trace(&dir, 0, &["--mutant", &mutant]);
            let (code, v, out) = validate(&dir, &[file]);
            assert_eq!(
                code, 0,
                "{mutant}: the spec has no clocks to reject it by\n{out}"
            );
            assert_eq!(v["verdict"], "accepted", "{mutant}: {v}");
            continue;
        }
        let file = trace(&dir, 0, &["--mutant", &mutant]);
        let (code, v, out) = validate(&dir, &[file]);
        assert_eq!(code, 1, "{mutant}: the spec accepted its trace\n{out}");
        assert_eq!(v["verdict"], "rejected", "{mutant}");
        assert!(v["rejection"]["step"].as_u64().is_some(), "{mutant}: {v}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_that_is_not_a_trace_exits_2() {
    let dir = scratch("malformed");
    let cases = [
        ("not-json.ndjson", "{\"step\": 0, \"spec\": \n"),
        ("no-spec.ndjson", "{\"step\": 0, \"event\": \"start\"}\n"),
        ("empty.ndjson", ""),
        ("not-a-trace.ndjson", "{\"hello\": 1}\n"),
    ];
    for (name, text) in cases {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let (code, _, err) =
            common::rebalanser(&["tla", "--validate-trace", file.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(
            err.contains(name),
            "{name}: the error names the file: {err}"
        );
    }
    let missing = dir.join("missing.ndjson");
    let (code, _, err) =
        common::rebalanser(&["tla", "--validate-trace", missing.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
