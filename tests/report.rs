//! `rebalanser report`: a clean report (from each checker's results) holds and writes every file
//! (the browser's view of report.html is `tests/report_browser.rs`); a
//! mutant makes it exit 1 with the broken property, its counterexample and the replay command
//! in the JUnit file and the Markdown; the JUnit file has the common schema's shape; two
//! shards of one sweep merge into the unsharded run's seeds, coverage and verdict; bad
//! `--from` files exit 2 naming the file. Needs Java 17 and `tla/setup.sh` (TLC runs too).

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rebalanser-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The JUnit file in the common schema's shape: testsuites > testsuite > testcase, counts
/// that add up, and a failure element with a message for each failing case.
fn check_junit(path: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("junit.xml is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let mut failures = Vec::new();
    let mut total = 0;
    for suite in root.children().filter(|n| n.is_element()) {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let name = suite.attribute("name").expect("a suite has a name");
        let cases: Vec<_> = suite.children().filter(|n| n.is_element()).collect();
        assert_eq!(
            suite.attribute("tests").unwrap().parse::<usize>().unwrap(),
            cases.len(),
            "{name}: tests counts its cases"
        );
        let mut failed = 0;
        for case in &cases {
            assert_eq!(case.tag_name().name(), "testcase");
            assert!(case
                .attribute("classname")
                .unwrap()
                .starts_with("rebalanser."));
            let property = case.attribute("name").unwrap().to_string();
            for child in case.children().filter(|n| n.is_element()) {
                match child.tag_name().name() {
                    "failure" => {
                        failed += 1;
                        let message = child.attribute("message").expect("a failure has a message");
                        assert!(message.contains(&property), "{message}");
                        failures.push((
                            name.to_string(),
                            property.clone(),
                            child.text().unwrap_or("").to_string(),
                        ));
                    }
                    "skipped" => assert!(child.attribute("message").is_some()),
                    "system-out" => {}
                    other => panic!("unexpected <{other}> in a testcase"),
                }
            }
        }
        assert_eq!(
            suite
                .attribute("failures")
                .unwrap()
                .parse::<usize>()
                .unwrap(),
            failed,
            "{name}: failures counts its failing cases"
        );
        total += cases.len();
    }
    assert_eq!(
        root.attribute("tests").unwrap().parse::<usize>().unwrap(),
        total
    );
    assert_eq!(
        root.attribute("failures")
            .unwrap()
            .parse::<usize>()
            .unwrap(),
        failures.len()
    );
    failures
}

/// The clean protocol's results from each checker make a report that holds, with every file.
/// The results come from small runs of each checker: the quick profile's own commands (the
/// combined default of `check`, TLC's `ci` and `liveness`) repeat what the cross-check runs
/// already, and running a profile is what the mutant test below does.
#[test]
fn a_clean_report_holds_and_writes_every_file() {
    common::require_tlc();
    let out = scratch("clean");
    let results = out.join("results");
    std::fs::create_dir_all(&results).unwrap();
    let mut files = Vec::new();
    for (name, args) in [
        (
            "check",
            &["check", "--config", "lapse-admin", "--quiet"][..],
        ),
        ("sim", &["sim", "--seeds", "0..200", "--quiet"][..]),
        ("tla-ci", &["tla", "--config", "ci"][..]),
    ] {
        let file = results.join(format!("{name}.json"));
        let mut all = args.to_vec();
        all.extend(["--json", file.to_str().unwrap()]);
        let (code, stdout, stderr) = common::rebalanser(&all);
        assert_eq!(code, 0, "{all:?}\n{stdout}\n{stderr}");
        files.push(file.to_str().unwrap().to_string());
    }
    let summary = out.join("summary.md");
    let out_s = out.to_str().unwrap();
    let mut args = vec!["report", "--out", out_s, "--from"];
    args.extend(files.iter().map(String::as_str));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rebalanser"))
        .args(&args)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["verdict"], "holds");
    for checker in r["checkers"].as_array().unwrap() {
        assert!(checker["runs"].as_u64().unwrap() >= 1, "{checker}");
        assert!(
            checker["figures"]["seconds"].as_f64().unwrap() > 0.0,
            "{checker}"
        );
    }
    // Every property of DESIGN.md §7 is checked by some checker and holds there.
    for row in r["properties"].as_array().unwrap().iter().take(7) {
        let statuses: Vec<&str> = row["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["status"].as_str().unwrap())
            .collect();
        assert!(statuses.contains(&"holds"), "{row}");
        assert!(!statuses.contains(&"violated"), "{row}");
    }
    assert!(r["coverage"]["rpc"].is_object());
    assert!(check_junit(&out.join("junit.xml")).is_empty());
    // One self-contained page: no script, nothing fetched (the SVG namespace is a name).
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("id=\"matrix\"") && html.contains("<svg class=\"heatmap\""));
    assert!(
        !html.contains("<script") && !html.contains("<link"),
        "self-contained"
    );
    let fetched = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!fetched.contains("http://") && !fetched.contains("https://"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Every property holds"), "{md}");
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), md);
}

#[test]
fn a_mutant_fails_the_report_with_its_counterexample_and_replay_command() {
    common::require_tlc();
    let out = scratch("m4");
    let (code, stdout, stderr) =
        common::rebalanser(&["report", "--mutant", "M4", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["verdict"], "violated");
    assert_eq!(r["mutant"], "M4");
    let fenced = r["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "fenced_writes")
        .unwrap();
    for cell in fenced["cells"].as_array().unwrap() {
        if cell["checker"] == "sim" {
            continue; // the simulator meets min_interval_respected first
        }
        assert_eq!(cell["status"], "violated", "{cell}");
        assert!(
            cell["replay"].as_str().unwrap().contains("M4")
                || cell["replay"].as_str().unwrap().contains("unfenced"),
            "{cell}"
        );
        assert!(
            cell["counterexample"]["steps"].as_array().unwrap().len() >= 2,
            "{cell}"
        );
    }
    // The simulator's result keeps the seed only; the report shrinks its failure and runs the
    // shrunk run for its events.
    let interval = r["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "min_interval_respected")
        .unwrap();
    let sim = &interval["cells"][1];
    assert_eq!(sim["status"], "violated", "{sim}");
    let cx = &sim["counterexample"];
    let (length, from) = (cx["length"].as_u64().unwrap(), &cx["shrunk_from"]);
    assert!(cx["seed"].is_u64() && length > 3, "{cx}");
    assert!(
        from["events"].as_u64().unwrap() > length
            && from["faults"].as_u64().unwrap() > from["shrunk_faults"].as_u64().unwrap(),
        "the run drawn is the failure shrunk: {cx}"
    );
    let steps = cx["steps"].as_array().unwrap();
    assert!(steps.len() >= 3 && steps.len() as u64 <= length, "{cx}");
    assert!(
        steps.last().unwrap()["action"]
            .as_str()
            .unwrap()
            .contains("assignment"),
        "the last event is the write that breaks the interval: {cx}"
    );
    let failures = check_junit(&out.join("junit.xml"));
    let model = failures
        .iter()
        .find(|(suite, property, _)| suite == "model checker" && property == "fenced_writes")
        .expect("the model checker's fenced_writes case fails");
    assert!(model.2.contains("counterexample"), "{}", model.2);
    assert!(model.2.contains("replay: rebalanser check"), "{}", model.2);
    assert!(
        failures
            .iter()
            .any(|(suite, _, body)| suite == "simulator" && body.contains("rebalanser sim --seed")),
        "{failures:?}"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Violated: `fenced_writes`"), "{md}");
    assert!(
        md.contains("rebalanser tla --config mutant-M4 --mutant M4"),
        "{md}"
    );
    assert!(md.contains("Counterexample"), "{md}");
}

#[test]
fn two_shards_merge_into_the_unsharded_run() {
    let dir = scratch("shards");
    let path = |n: &str| dir.join(n).to_str().unwrap().to_string();
    for (name, shard) in [
        ("a.json", Some("1/2")),
        ("b.json", Some("2/2")),
        ("all.json", None),
    ] {
        let p = path(name);
        let mut args = vec![
            "sim",
            "--seeds",
            "0..2000",
            "--keep-going",
            "--quiet",
            "--json",
            &p,
        ];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        let (code, stdout, stderr) = common::rebalanser(&args);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
    }
    let merge = |files: &[&str], out: &str| {
        let out = path(out);
        let mut args = vec!["report", "--out", &out, "--from"];
        let files: Vec<String> = files.iter().map(|f| path(f)).collect();
        args.extend(files.iter().map(String::as_str));
        let (code, stdout, stderr) = common::rebalanser(&args);
        // TLC and the model checker have no result here: they show as not run.
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        read_json(&dir.join(out).join("report.json"))
    };
    let sharded = merge(&["a.json", "b.json"], "merged");
    let whole = merge(&["all.json"], "whole");
    let sim = |r: &Value| r["checkers"][1].clone();
    assert_eq!(sim(&sharded)["figures"]["seeds"], 2000);
    assert_eq!(
        sim(&sharded)["figures"]["seeds"],
        sim(&whole)["figures"]["seeds"]
    );
    assert_eq!(
        sim(&sharded)["figures"]["events"],
        sim(&whole)["figures"]["events"]
    );
    assert_eq!(sharded["coverage"], whole["coverage"]);
    assert_eq!(sharded["verdict"], whole["verdict"]);
    assert_eq!(sharded["properties"], whole["properties"]);
    assert_eq!(
        sharded["checkers"][0]["not_run"],
        "no result of it among --from"
    );

    // Those two reports as history: the next report's page draws the trend.
    let history = dir.join("history");
    for (k, name) in ["merged", "whole"].iter().enumerate() {
        let to = history.join(format!("run-{k}"));
        std::fs::create_dir_all(&to).unwrap();
        std::fs::copy(dir.join(name).join("report.json"), to.join("report.json")).unwrap();
    }
    let out = path("trended");
    let all = path("all.json");
    let h = history.to_str().unwrap().to_string();
    let (code, stdout, stderr) =
        common::rebalanser(&["report", "--out", &out, "--history", &h, "--from", &all]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let html = std::fs::read_to_string(dir.join("trended").join("report.html")).unwrap();
    assert!(html.contains("Trend over 2 earlier reports"), "no trend");
    assert_eq!(html.matches("<svg class=\"trend\"").count(), 3);
    // History is input too: a file that is not a report is named, and nothing is written.
    std::fs::write(history.join("stray.json"), "{\"command\": \"sim\"}").unwrap();
    let out = path("refused");
    let (code, _, err) =
        common::rebalanser(&["report", "--out", &out, "--history", &h, "--from", &all]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stray.json"), "{err}");
    assert!(!dir.join("refused").join("report.json").exists());
}

#[test]
fn bad_from_files_exit_2_naming_the_file() {
    let dir = scratch("bad");
    let cases = [
        ("missing.json", None, "missing.json"),
        ("empty.json", Some(""), "empty"),
        ("garbage.json", Some("not json {"), "not JSON"),
        (
            "other.json",
            Some("{\"command\": \"shrink\", \"schema_version\": 1}"),
            "shrink",
        ),
        ("nocmd.json", Some("{\"a\": 1}"), "no \"command\""),
        (
            "future.json",
            Some("{\"command\": \"sim\", \"schema_version\": 99}"),
            "schema_version 99",
        ),
        (
            "partial.json",
            Some("{\"command\": \"check\", \"schema_version\": 1}"),
            "without",
        ),
    ];
    for (name, contents, expected) in cases {
        let file = dir.join(name);
        if let Some(c) = contents {
            std::fs::write(&file, c).unwrap();
        }
        let out = dir.join("out");
        let (code, _, err) = common::rebalanser(&[
            "report",
            "--out",
            out.to_str().unwrap(),
            "--from",
            file.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(
            err.contains(name) && err.contains(expected),
            "{name}: {err}"
        );
        assert!(
            !out.join("report.json").exists(),
            "{name}: no report from bad input"
        );
    }
    let (code, _, err) = common::rebalanser(&["report", "--profile", "nightly"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nightly"), "{err}");
}

#[test]
fn a_cross_check_result_adds_the_kill_matrix_and_a_break_of_parity_fails_the_report() {
    let dir = scratch("kills");
    let cell = |verdict: &str, property: Option<&str>| serde_json::json!({"verdict": verdict, "property": property, "length": 3, "seconds": 1.0});
    // The simulator's cell also says how many seeds it ran.
    let sim = |verdict: &str, property: Option<&str>| {
        let mut c = cell(verdict, property);
        c["seed"] = property.map_or(serde_json::Value::Null, |_| 4.into());
        c["seeds_run"] = 1000.into();
        c["events"] = 500_000.into();
        c
    };
    let cross_check = |clean_model: &serde_json::Value, m2: &str, all_agree: bool| {
        serde_json::json!({
            "schema_version": 1,
            "command": "tla --cross-check",
            "all_agree": all_agree,
            "seconds": 9.0,
            "rows": [
                {"subject": "clean", "name": "clean protocol",
                 "cells": {"tlc": cell("holds", None), "model": clean_model,
                           "sim": sim("holds", None)}},
                {"subject": "M2", "name": "start-before-barrier",
                 "cells": {"tlc": cell("killed", Some("access_holds_barrier")),
                           "model": cell(m2, Some("access_holds_barrier")),
                           "sim": sim("killed", Some("access_holds_barrier")),
                           "replay": {"reproduced": true, "property": "access_holds_barrier",
                                      "tlc_states": 16, "core_steps": 15, "seconds": 1.2}}}
            ]
        })
    };
    let holds = cell("holds", None);
    let mut inconclusive = cell("inconclusive", None);
    inconclusive["unexplored"] = "lapse is not exhaustive (a bound or time-out stopped it)".into();
    for (name, clean_model, m2, agree, expected) in [
        ("parity", &holds, "killed", true, 0),
        ("survivor", &holds, "survived", false, 1),
        ("inconclusive", &inconclusive, "killed", false, 1),
    ] {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, cross_check(clean_model, m2, agree).to_string()).unwrap();
        let out = dir.join(format!("out-{name}"));
        let (code, stdout, stderr) = common::rebalanser(&[
            "report",
            "--out",
            out.to_str().unwrap(),
            "--from",
            file.to_str().unwrap(),
        ]);
        assert_eq!(code, expected, "{name}: {stdout}\n{stderr}");
        let r = read_json(&out.join("report.json"));
        assert_eq!(r["parity"], agree, "{name}");
        let rows = r["mutants"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["cells"][3]["verdict"], "reproduced");
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.contains("id=\"mutants\""), "{name}");
        assert_eq!(html.contains("NO MUTANT PARITY"), !agree, "{name}");
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(md.contains("Mutant kill matrix"), "{name}");
        // JUnit shows parity too: a failing case for the cell that breaks it.
        let failures = check_junit(&out.join("junit.xml"));
        let broken: Vec<&str> = failures
            .iter()
            .filter(|(suite, _, _)| suite == "mutant parity")
            .map(|(_, case, _)| case.as_str())
            .collect();
        let expected_broken: &[&str] = match name {
            "survivor" => &["M2/model"],
            "inconclusive" => &["clean/model"],
            _ => &[],
        };
        assert_eq!(broken, expected_broken, "{name}");
        if name == "inconclusive" {
            assert_eq!(rows[0]["cells"][1]["verdict"], "inconclusive");
            assert!(
                html.contains("inconclusive: lapse is not exhaustive"),
                "{html}"
            );
            assert!(
                md.contains("❌ inconclusive: lapse is not exhaustive"),
                "{md}"
            );
        }
    }
}

#[test]
fn a_checker_that_cannot_run_is_shown_as_not_run_never_as_a_result() {
    let out = scratch("no-java");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rebalanser"))
        .args(["report", "--mutant", "M2", "--out", out.to_str().unwrap()])
        .env("JAVA", "/no/such/java")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The model checker and the simulator still kill the mutant.
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let r = read_json(&out.join("report.json"));
    let tlc = &r["checkers"][2];
    assert_eq!(tlc["runs"], 0, "{tlc}");
    assert!(tlc["not_run"].as_str().unwrap().contains("Java"), "{tlc}");
    for row in r["properties"].as_array().unwrap() {
        assert_eq!(row["cells"][2]["status"], "not_run", "{row}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("not run: "), "{md}");
    assert!(stdout.contains("TLC: not run"), "{stdout}");
}
