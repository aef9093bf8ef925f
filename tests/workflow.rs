//! The GitHub Actions workflow (`.github/workflows/report.yml`): the quick profile on pushes
//! with the report uploaded, a nightly sweep sharded over a matrix and merged by a job that
//! needs it; and every `rebalanser` command it runs uses only options the CLI has.

mod common;

use yaml_rust2::{Yaml, YamlLoader};

fn workflow() -> (String, Yaml) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows/report.yml");
    let text = std::fs::read_to_string(path).unwrap();
    let doc = YamlLoader::load_from_str(&text).expect("the workflow is YAML");
    (text, doc[0].clone())
}

fn runs(job: &Yaml) -> String {
    job["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn uses(job: &Yaml) -> Vec<String> {
    job["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|s| s["uses"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn quick_on_pushes_and_a_sharded_nightly_merged_into_one_report() {
    let (_, w) = workflow();
    let on = &w["on"];
    assert!(
        !on["push"].is_badvalue() && !on["schedule"].is_badvalue(),
        "{on:?}"
    );
    let jobs = &w["jobs"];
    let quick = &jobs["quick"];
    assert!(runs(quick).contains("report --profile quick --out report"));
    assert!(uses(quick)
        .iter()
        .any(|u| u.starts_with("actions/upload-artifact")));
    let sweep = &jobs["sweep"];
    let shards = sweep["strategy"]["matrix"]["shard"].as_vec().unwrap().len();
    assert_eq!(
        w["env"]["SHARDS"].as_str().unwrap(),
        shards.to_string(),
        "the matrix covers every shard"
    );
    assert!(runs(sweep).contains("--shard \"${{ matrix.shard }}/$SHARDS\""));
    let nightly = &jobs["nightly"];
    assert_eq!(nightly["needs"].as_str(), Some("sweep"));
    assert!(uses(nightly)
        .iter()
        .any(|u| u.starts_with("actions/download-artifact")));
    assert!(runs(nightly).contains("report --out report-nightly"));
    assert!(runs(nightly).contains("--from shards/sim-shard-*.json"));
}

#[test]
fn every_command_uses_options_the_cli_has() {
    let (text, _) = workflow();
    // Commands may continue over lines ending in a backslash.
    let joined = text.replace("\\\n", " ");
    let mut checked = 0;
    for line in joined.lines() {
        let Some((_, rest)) = line.split_once("cargo run --release -- ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let sub = words.next().unwrap();
        let (code, help, err) = common::rebalanser(&[sub, "--help"]);
        assert_eq!(code, 0, "{sub}: {err}");
        for flag in words.filter(|w| w.starts_with("--")) {
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "rebalanser {sub} has no {flag}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} options found");
}
