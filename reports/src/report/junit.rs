//! `junit.xml`: one test case per property × checker, in the common JUnit XML shape
//! (`testsuites` / `testsuite` per checker / `testcase`), so that CI systems show a broken
//! property in their own test view. A violation is a `failure` carrying the explanation, the
//! counterexample and the replay command; a property a checker did not check is `skipped`.
//! With a cross-check among the inputs, its kill matrix is one more suite: a case per subject ×
//! checker, failing where parity is not met (a survivor, an inconclusive clean run).

use super::assemble::{MutantCell, Report, CHECKERS};
use super::markup::escape;
use std::fmt::Write as _;

/// The JUnit XML of a report.
pub fn render(r: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let parity: Vec<(String, &MutantCell)> = r
        .mutants
        .iter()
        .flatten()
        .flat_map(|row| {
            row.cells
                .iter()
                .map(move |c| (format!("{}/{}", row.subject, c.checker), c))
        })
        .collect();
    let parity_failed = parity.iter().filter(|(_, c)| !c.agrees()).count();
    let total: usize = CHECKERS.len() * r.properties.len() + parity.len();
    let failures = r
        .properties
        .iter()
        .flat_map(|p| &p.cells)
        .filter(|c| c.status == "violated")
        .count()
        + parity_failed;
    let seconds: f64 = r.checkers.iter().map(|c| c.figures.seconds).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"rebalanser\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\" \
         time=\"{seconds:.3}\">"
    );
    for (column, (key, title)) in CHECKERS.iter().enumerate() {
        let summary = r.checkers.iter().find(|c| c.checker == *key);
        let cells: Vec<_> = r.properties.iter().map(|p| (p, &p.cells[column])).collect();
        let failed = cells.iter().filter(|(_, c)| c.status == "violated").count();
        let skipped = cells
            .iter()
            .filter(|(_, c)| matches!(c.status.as_str(), "not_checked" | "not_run"))
            .count();
        let time = summary.map_or(0.0, |s| s.figures.seconds);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" \
             skipped=\"{skipped}\" time=\"{time:.3}\">",
            escape(title),
            cells.len()
        );
        for (p, c) in cells {
            let _ = write!(
                out,
                "    <testcase classname=\"rebalanser.{key}\" name=\"{}\"",
                escape(&p.name)
            );
            match c.status.as_str() {
                "violated" => {
                    let message = format!(
                        "{} violated under {}: {}",
                        p.name,
                        super::assemble::in_sentence(title),
                        c.detail.as_deref().unwrap_or(&p.statement)
                    );
                    let mut body = String::new();
                    let _ = writeln!(body, "{}: {}", p.name, p.statement);
                    if let Some(d) = &c.detail {
                        let _ = writeln!(body, "why: {d}");
                    }
                    if let Some(cx) = &c.counterexample {
                        let _ = writeln!(body, "counterexample ({}):", cx.extent());
                        for (i, s) in cx.steps.iter().enumerate() {
                            let _ = writeln!(body, "  {}", s.line(i + 1));
                        }
                    }
                    if let Some(cmd) = &c.replay {
                        let _ = writeln!(body, "replay: {cmd}");
                    }
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"violated\">{}</failure>\n    \
                         </testcase>",
                        escape(&message),
                        escape(&body)
                    );
                }
                "not_checked" | "not_run" => {
                    let why = c.detail.clone().unwrap_or_else(|| {
                        format!(
                            "{} does not check {} in this run",
                            super::assemble::in_sentence(title),
                            p.name
                        )
                    });
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(&why)
                    );
                }
                other => {
                    let _ = writeln!(
                        out,
                        ">\n      <system-out>{}</system-out>\n    </testcase>",
                        escape(other)
                    );
                }
            }
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    if r.mutants.is_some() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"mutant parity\" tests=\"{}\" failures=\"{parity_failed}\" \
             errors=\"0\" skipped=\"0\" time=\"0.000\">",
            parity.len()
        );
        for (name, c) in &parity {
            let _ = write!(
                out,
                "    <testcase classname=\"rebalanser.parity\" name=\"{}\"",
                escape(name)
            );
            let verdict = c.verdict.replace('_', " ");
            if c.agrees() {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    escape(&verdict)
                );
                continue;
            }
            let mut message = format!("{name}: {verdict}");
            if let Some(p) = &c.property {
                let _ = write!(message, " ({p})");
            }
            if let Some(u) = &c.unexplored {
                let _ = write!(message, ": {u}");
            }
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"{}\"/>\n    </testcase>",
                escape(&message),
                escape(&c.verdict)
            );
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}
