//! Trends over earlier reports (`--history DIR`): every `report.json` under DIR (directly or
//! one folder down, as CI keeps report folders), ordered by when each was made, and the
//! current one last; drawn as small SVG charts of each checker's throughput with each
//! report's verdict marked.

use super::assemble::Report;
use super::markup::escape;
use std::fmt::Write as _;
use std::path::Path;

/// One earlier (or the current) report, as the trend shows it.
#[derive(Clone, Debug)]
pub struct Point {
    /// Unix seconds when it was made.
    pub at: u64,
    /// Whether every property held.
    pub holds: bool,
    /// Model-checker states per second.
    pub model: Option<f64>,
    /// Simulator seeds per second.
    pub sim: Option<f64>,
    /// TLC states per second.
    pub tlc: Option<f64>,
}

impl Point {
    /// The trend's view of a report.
    pub fn of(r: &Report) -> Point {
        let rate = |key: &str, seeds: bool| {
            r.checkers
                .iter()
                .find(|c| c.checker == key && c.runs > 0)
                .and_then(|c| {
                    if seeds {
                        c.figures.seeds_per_sec
                    } else {
                        c.figures.states_per_sec
                    }
                })
        };
        Point {
            at: r.generated_at,
            holds: !r.violated(),
            model: rate("model", false),
            sim: rate("sim", true),
            tlc: rate("tlc", false),
        }
    }
}

/// The earlier reports under `dir`, oldest first. A file that is not a report of this schema
/// is an error naming it: history is input like any other.
pub fn read(dir: &Path) -> Result<Vec<Point>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("--history {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            let inner = path.join("report.json");
            if inner.is_file() {
                files.push(inner);
            }
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    let mut points = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).map_err(|e| format!("--history {}: {e}", f.display()))?;
        let r: Report = serde_json::from_str(&text).map_err(|e| {
            format!(
                "--history {}: not a report.json of this version ({e})",
                f.display()
            )
        })?;
        if r.command != "report" || r.schema_version != super::assemble::SCHEMA_VERSION {
            return Err(format!(
                "--history {}: not a report.json of schema {}",
                f.display(),
                super::assemble::SCHEMA_VERSION
            ));
        }
        points.push(Point::of(&r));
    }
    points.sort_by_key(|p| p.at);
    Ok(points)
}

const W: f64 = 360.0;
const H: f64 = 150.0;
const PAD: f64 = 36.0;

fn chart(title: &str, unit: &str, points: &[Point], value: fn(&Point) -> Option<f64>) -> String {
    let values: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| value(p).map(|v| (i, v)))
        .collect();
    let max = values.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1e-9);
    let n = points.len().max(2) as f64 - 1.0;
    let x = |i: usize| PAD + (W - 2.0 * PAD) * i as f64 / n;
    let y = |v: f64| H - PAD + 8.0 - (H - PAD - 8.0) * v / max;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">\
         <text class=\"axis\" x=\"{PAD}\" y=\"14\">{} ({})</text>\
         <line class=\"lifeline\" x1=\"{PAD}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
        escape(title),
        escape(title),
        escape(unit),
        H - PAD + 8.0,
        W - PAD,
        H - PAD + 8.0
    );
    let path: Vec<String> = values
        .iter()
        .map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v)))
        .collect();
    if path.len() > 1 {
        let _ = write!(
            out,
            "<polyline class=\"line\" fill=\"none\" points=\"{}\"/>",
            path.join(" ")
        );
    }
    for (i, v) in &values {
        let cls = if points[*i].holds { "ok" } else { "bad" };
        let _ = write!(
            out,
            "<circle class=\"{cls}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"><title>{:.0} {}</title></circle>",
            x(*i),
            y(*v),
            v,
            escape(unit)
        );
    }
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"{PAD}\" y=\"{}\">{} reports; last {:.0}</text></svg>",
        H - 6.0,
        points.len(),
        values.last().map_or(0.0, |(_, v)| *v)
    );
    out
}

/// The trend charts, the current report last among `points`.
pub fn svg(points: &[Point]) -> String {
    [
        chart("model checker", "states/s", points, |p| p.model),
        chart("simulator", "seeds/s", points, |p| p.sim),
        chart("TLC", "states/s", points, |p| p.tlc),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_mark_each_verdict() {
        let p = |at, holds, sim| Point {
            at,
            holds,
            model: Some(1000.0),
            sim: Some(sim),
            tlc: None,
        };
        let svg = svg(&[p(1, true, 500.0), p(2, false, 700.0), p(3, true, 900.0)]);
        assert_eq!(svg.matches("<svg class=\"trend\"").count(), 3);
        assert_eq!(
            svg.matches("class=\"bad\"").count(),
            2,
            "model and sim mark report 2"
        );
        assert!(svg.contains("last 900"));
    }
}
