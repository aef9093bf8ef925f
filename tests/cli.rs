//! The command line: exit codes and messages on bad input, and the main commands' shape.

use std::process::Command;

fn rebalanser(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rebalanser"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_exits_2_naming_the_bad_value() {
    for (args, needle) in [
        (vec!["check", "--nodes", "0"], "0"),
        (vec!["check", "--mutant", "nosuch"], "nosuch"),
        (vec!["check", "--resources", "abc"], "abc"),
        (vec!["check", "--threads", "0"], "0"),
        (vec!["check", "--timing-assumption", "maybe"], "maybe"),
        (
            vec!["check", "--json", "/nonexistent-folder/x.json"],
            "nonexistent-folder",
        ),
    ] {
        let (code, _, err) = rebalanser(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: message does not name {needle}: {err}"
        );
    }
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
        assert!(out.contains(m.name()) && out.contains(m.breaks()), "{out}");
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
