//! The HTML report in a real browser: headless Chromium loads `report.html` from disk, logs no
//! console message and makes no network request, and finds the matrix and a sequence diagram;
//! it takes a screenshot (`target/report-screenshot.png`) for a person to look at. A control
//! page with a console error and a fetch shows that the harness catches both. Needs Debian's
//! `chromium` (`./setup.sh` installs it) and TLC (the report runs it).

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "chromium";

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("rebalanser-browser-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Chromium, headless and quiet, with a fresh profile in `dir`, and `extra` arguments.
fn chromium(dir: &Path, extra: &[String]) -> std::process::Output {
    let profile = dir.join("profile");
    let _ = std::fs::remove_dir_all(&profile);
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot start {CHROMIUM} ({e}): run ./setup.sh (it installs Debian's chromium)")
        })
}

/// What the page did: its DOM after loading, its console messages, and the network requests
/// it made (the browser's own background requests are not the page's).
struct Visit {
    dom: String,
    console: Vec<String>,
    requests: Vec<String>,
}

fn visit(page: &Path, dir: &Path) -> Visit {
    let netlog = dir.join("netlog.json");
    let out = chromium(
        dir,
        &[
            "--enable-logging=stderr".into(),
            "--v=0".into(),
            format!("--log-net-log={}", netlog.display()),
            "--dump-dom".into(),
            format!("file://{}", page.display()),
        ],
    );
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&netlog).unwrap())
        .expect("chromium wrote its net log");
    let mut requests = Vec::new();
    for e in log["events"].as_array().unwrap() {
        let p = &e["params"];
        let (Some(url), Some(key)) = (p["url"].as_str(), p["network_isolation_key"].as_str())
        else {
            continue;
        };
        // A request made for the page is keyed by the page's site, file://.
        if key.starts_with("file://") && !url.starts_with("file:") {
            requests.push(url.to_string());
        }
    }
    requests.sort();
    requests.dedup();
    Visit {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
        requests,
    }
}

#[test]
fn the_harness_catches_console_errors_and_requests() {
    let dir = scratch("control");
    let page = dir.join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p id=\"x\">x</p><script>console.error('boom');</script>\
         <img src=\"http://example.invalid/pixel.png\"></body></html>",
    )
    .unwrap();
    let v = visit(&page, &dir);
    assert!(v.dom.contains("id=\"x\""));
    assert!(
        v.console.iter().any(|l| l.contains("boom")),
        "{:?}",
        v.console
    );
    assert_eq!(v.requests, ["http://example.invalid/pixel.png"]);
}

#[test]
fn the_html_report_is_self_contained_and_shows_the_matrix_and_a_sequence_diagram() {
    common::require_tlc();
    let dir = scratch("report");
    let out = dir.join("report");
    let (code, stdout, stderr) =
        common::rebalanser(&["report", "--mutant", "M4", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let page = out.join("report.html");
    let v = visit(&page, &dir);
    assert!(v.console.is_empty(), "console: {:?}", v.console);
    assert!(v.requests.is_empty(), "requests: {:?}", v.requests);
    assert!(v.dom.contains("id=\"matrix\""), "no matrix");
    assert!(v.dom.contains("id=\"verdict\""), "no verdict banner");
    assert!(
        v.dom.contains("VIOLATED: fenced_writes"),
        "the banner names the property"
    );
    assert!(
        v.dom.contains("<svg class=\"sequence\""),
        "no sequence diagram"
    );
    assert!(
        v.dom.contains("<svg class=\"heatmap\""),
        "no coverage heat map"
    );
    // A picture for a person: the whole page.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let s = chromium(
        &dir,
        &[
            "--window-size=1300,2600".into(),
            "--hide-scrollbars".into(),
            format!("--screenshot={}", shot.display()),
            format!("file://{}", page.display()),
        ],
    );
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}
