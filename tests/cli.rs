//! The command line: exit codes and messages on bad input, and the main commands' shape.

mod common;

use common::{assert_bad_input, rebalanser};

#[test]
fn bad_input_exits_2_naming_the_bad_value() {
    for (args, needle) in [
        (vec!["check", "--nodes", "0"], "0"),
        (vec!["check", "--mutant", "nosuch"], "nosuch"),
        (vec!["check", "--resources", "abc"], "abc"),
        (vec!["check", "--threads", "0"], "0"),
        (vec!["check", "--timing-assumption", "maybe"], "maybe"),
        (vec!["check", "--late", "-1"], "-1"),
        (vec!["check", "--duplicates", "x"], "x"),
        (vec!["check", "--config", "nosuch"], "nosuch"),
        (
            vec!["check", "--config", "late", "--nodes", "3"],
            "--config late",
        ),
        (
            vec!["check", "--json", "/nonexistent-folder/x.json"],
            "nonexistent-folder",
        ),
        (vec!["check", "--delays", "1"], "--timed"),
        (vec!["check", "--delays", "x", "--timed"], "x"),
        (
            vec!["check", "--timed", "--config", "default"],
            "--config default",
        ),
        (vec!["tla", "--mutant", "M10"], "no clocks"),
    ] {
        assert_bad_input(&args, needle);
    }
}

#[test]
fn check_timed_runs_the_timed_rows_and_judges_the_interval() {
    let (code, out, err) = rebalanser(&["check", "--timed", "--quiet"]);
    assert_eq!(code, 0, "{out}\n{err}");
    for row in ["timed-lapse", "timed-admin", "timed-crash"] {
        assert!(out.contains(row), "{row} missing:\n{out}");
    }
    assert!(
        !out.contains("bootstrap") && !out.contains("not run"),
        "{out}"
    );
    assert!(out.contains("min_interval_respected"), "{out}");
    assert!(
        !out.contains("eventually"),
        "the timed rows judge safety only:\n{out}"
    );
    assert!(out.contains("verdict: all properties hold"), "{out}");
    // A timing mutant, by the plain command: the timed rows kill it.
    let (code, out, _) = rebalanser(&["check", "--mutant", "M10", "--quiet"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("timed-admin") && out.contains("min_interval_respected"),
        "{out}"
    );
}

#[test]
fn a_mutant_exits_1_with_a_counterexample_and_json() {
    let dir = std::env::temp_dir().join(format!("rebalanser-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("m3.json");
    let (code, out, _) = rebalanser(&[
        "check",
        "--nodes",
        "1",
        "--resources",
        "1",
        "--crashes",
        "0",
        "--rpc-faults",
        "0",
        "--admin-changes",
        "1",
        "--mutant",
        "M3",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("access_holds_barrier VIOLATED"), "{out}");
    assert!(out.contains("counterexample"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["schema_version"], 1);
    let p = v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "access_holds_barrier")
        .unwrap();
    assert_eq!(p["status"], "violated");
    assert!(!p["trace"]["steps"].as_array().unwrap().is_empty());
}

#[test]
fn a_clean_small_check_exits_0() {
    let (code, out, _) = rebalanser(&[
        "check",
        "--nodes",
        "2",
        "--resources",
        "2",
        "--crashes",
        "1",
        "--rpc-faults",
        "0",
        "--admin-changes",
        "0",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verdict: all properties hold"), "{out}");
}

#[test]
fn mutants_lists_every_mutant_with_its_property() {
    let (code, out, _) = rebalanser(&["mutants"]);
    assert_eq!(code, 0);
    for m in protocol::Mutant::ALL {
        assert!(
            out.contains(m.name()) && out.contains(m.breaks().name()),
            "{out}"
        );
    }
}

#[test]
fn explore_on_a_taken_port_exits_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, err) = rebalanser(&["explore", "--port", &port]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&port), "{err}");
}

#[test]
fn timing_assumption_off_exits_1_with_a_breach_and_a_double_access() {
    let (code, out, _) = rebalanser(&["check", "--timing-assumption", "off", "--quiet"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no_double_access VIOLATED"), "{out}");
    assert!(out.contains("BREACHING the timing assumption"), "{out}");
}

/// A fresh temporary folder for one test.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rebalanser-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run seed 0 of the M7 mutant for 5 s and save its replay file into `dir`: the path. (Seed 0
/// fails there; seed 3 happens not to within 5 s: no node joins late enough to be left empty.)
fn saved_m7_failure(dir: &std::path::Path) -> std::path::PathBuf {
    let (code, out, err) = rebalanser(&[
        "sim",
        "--seed",
        "0",
        "--duration",
        "5s",
        "--mutant",
        "M7",
        "--save-failures",
        dir.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    let file = dir.join("seed-0.json");
    assert!(file.exists(), "{out}\n{err}");
    file
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

#[test]
fn sim_bad_input_exits_2_naming_the_bad_value() {
    for (args, needle) in [
        (vec!["sim", "--seeds", "10..5"], "10..5"),
        (vec!["sim", "--seeds", "abc"], "abc"),
        (vec!["sim", "--faults", "crash,nosuch"], "nosuch"),
        (vec!["sim", "--shard", "3/2"], "3/2"),
        (vec!["sim", "--shard", "0/2"], "0/2"),
        (vec!["sim", "--duration", "120"], "120"),
        (vec!["sim", "--duration", "5parsecs"], "parsecs"),
        (vec!["sim", "--rate", "crash=-1"], "crash=-1"),
        (vec!["sim", "--rate", "post-reply=2"], "post-reply=2"),
        (vec!["sim", "--mutant", "nosuch"], "nosuch"),
        (vec!["sim", "--seed", "1", "--seeds", "0..10"], "--seeds"),
        (vec!["sim", "--seeds", "0..10", "--trace"], "--trace"),
        (vec!["replay", "/nonexistent/x.json"], "/nonexistent/x.json"),
    ] {
        assert_bad_input(&args, needle);
    }
}

#[test]
fn replay_rejects_bad_files_with_exit_2() {
    let dir = temp_dir("bad-replays");
    let real = saved_m7_failure(&dir);
    let text = std::fs::read_to_string(&real).unwrap();
    let hash = read_json(&real)["hash"].as_str().unwrap().to_string();
    assert!(text.contains("\"nodes\": 3"), "{text}");
    assert!(text.contains(&format!("\"{hash}\"")), "{text}");
    let half = {
        let mut end = text.len() / 2;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    };
    for (name, content, needle) in [
        ("empty.json", String::new(), "truncated"),
        ("half.json", half.to_string(), "truncated"),
        ("other.json", r#"{"format":"other"}"#.to_string(), "other"),
        ("garbage.json", "not json".to_string(), "not valid JSON"),
        (
            "no-nodes.json",
            text.replacen("\"nodes\": 3", "\"nodes\": 0", 1),
            "nodes",
        ),
        (
            "bad-hash.json",
            text.replacen(&format!("\"{hash}\""), "\"xyz\"", 1),
            "hash",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let (code, out, err) = rebalanser(&["replay", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {out}\n{err}");
        assert!(
            err.contains(needle),
            "{name}: message does not name {needle}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn saved_failure_replays_to_the_same_hash() {
    let dir = temp_dir("replay");
    let file = saved_m7_failure(&dir);
    let hash = read_json(&file)["hash"].as_str().unwrap().to_string();
    let (code, out, err) = rebalanser(&["replay", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("identical to the saved run"), "{out}");
    assert!(out.contains(&hash), "{hash} not in: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shrink_reduces_a_mutant_failure() {
    let dir = temp_dir("shrink");
    let file = saved_m7_failure(&dir);
    let out_file = dir.join("shrunk.json");
    let json = dir.join("shrink-report.json");
    let (code, out, err) = rebalanser(&[
        "shrink",
        file.to_str().unwrap(),
        "--out",
        out_file.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out_file.exists(), "{out}");
    let report = read_json(&json);
    let (before, after) = (&report["before"], &report["after"]);
    let n = |v: &serde_json::Value, k: &str| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing from {report}"))
    };
    assert!(n(after, "faults") <= n(before, "faults"), "{report}");
    assert!(n(after, "events") <= n(before, "events"), "{report}");
    assert!(
        ["faults", "events", "nodes", "resources", "duration"]
            .iter()
            .any(|k| n(after, k) < n(before, k)),
        "nothing shrank: {report}"
    );
    let (code, out, err) = rebalanser(&["replay", out_file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sim_json_has_schema_and_figures() {
    let dir = temp_dir("sim-json");
    let json = dir.join("sim.json");
    let (code, out, err) = rebalanser(&[
        "sim",
        "--seeds",
        "0..20",
        "--duration",
        "10s",
        "--json",
        json.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v = read_json(&json);
    assert_eq!(v["schema_version"], 1, "{v}");
    assert_eq!(v["figures"]["seeds"], 20, "{v}");
    assert!(v["figures"]["events"].as_u64().unwrap() > 0, "{v}");
    let props = v["properties"].as_array().unwrap();
    assert_eq!(props.len(), protocol::Property::ALL.len(), "{v}");
    assert!(props.iter().all(|p| p["status"] == "holds"), "{v}");
    assert_eq!(v["coverage"]["rpc"].as_object().unwrap().len(), 8, "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}
