//! `report.html`: one self-contained file (inline CSS and SVG, no script, no font, no fetch of
//! any kind): a verdict banner, the property × checker matrix, the figures, the fault-coverage
//! heat map, and every counterexample as a sequence diagram with its replay command.

use super::assemble::{in_sentence, MutantRow, Report, CHECKERS};
use super::markup::escape;
use super::{heatmap, history, sequence};
use crate::text::number::thousands;
use std::fmt::Write as _;

const STYLE: &str = "
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
main { max-width: 1200px; margin: 0 auto; padding: 0 24px 48px; }
.banner { padding: 20px 24px; color: #fff; font-size: 20px; font-weight: 600; }
.banner.holds { background: #1a7f37; }
.banner.violated { background: #b42318; }
.banner small { display: block; font-weight: 400; font-size: 13px; opacity: .9; }
h2 { margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #ddd; padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.holds, td.reached { background: #e6f4ea; }
td.violated { background: #fde7e7; font-weight: 600; }
td.unknown, td.not_reached { background: #fff4d6; }
td.not_checked, td.not_run { color: #777; }
code, pre { font-family: ui-monospace, 'SFMono-Regular', Menlo, monospace; font-size: 12.5px; }
pre { background: #f3f3f3; padding: 8px 10px; overflow-x: auto; }
.figure { overflow-x: auto; background: #fff; border: 1px solid #ddd; padding: 8px; }
svg text { font: 12px ui-monospace, Menlo, monospace; fill: #1b1b1b; }
svg .lane { font-weight: 700; }
svg .lifeline { stroke: #999; stroke-dasharray: 2 3; }
svg .band { fill: #f6f8fa; }
svg .msg { stroke: #0b5cad; stroke-width: 1.6; }
svg .msg.watch { stroke-dasharray: 5 3; stroke: #5b8fc7; }
svg .msg.fault { stroke: #b42318; }
svg marker path { fill: #0b5cad; }
svg .fault { stroke: #b42318; stroke-width: 2.4; fill: none; }
svg .faulty { fill: #b42318; }
svg .start { fill: #1a7f37; }
svg .stop { fill: #b54708; }
svg .tag { fill: #fff; font-size: 10.5px; font-weight: 700; }
svg .dot { fill: #444; }
svg .violation { fill: #fde7e7; }
svg .violated { fill: #b42318; font-weight: 700; }
svg .axis { font-size: 11.5px; }
svg .cell { stroke: #fff; }
svg .bar { fill: #5b8fc7; }
svg .line { stroke: #0b5cad; stroke-width: 1.6; }
svg .ok { fill: #1a7f37; }
svg .bad { fill: #b42318; }
";

fn label(status: &str) -> &'static str {
    match status {
        "holds" => "holds",
        "violated" => "VIOLATED",
        "reached" => "reached",
        "not_reached" => "not reached",
        "unknown" => "unknown",
        "not_run" => "not run",
        _ => "–",
    }
}

/// The page; `history` (earlier reports, oldest first) adds the trend charts.
pub fn render(r: &Report, history: &[history::Point]) -> String {
    let mut out = String::new();
    let violated: Vec<&str> = r
        .properties
        .iter()
        .filter(|p| p.cells.iter().any(|c| c.status == "violated"))
        .map(|p| p.name.as_str())
        .collect();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Rebalanser invariant report: {}</title><style>{STYLE}</style></head><body>",
        if violated.is_empty() {
            "holds"
        } else {
            "VIOLATED"
        }
    );
    let scope = format!(
        "{}{}, rebalanser {}",
        if r.profile == "from" {
            format!("merged from {} results", r.sources.len())
        } else {
            format!("{} profile", r.profile)
        },
        r.mutant
            .as_deref()
            .map_or(String::new(), |m| format!(", mutant {m}")),
        r.version
    );
    if violated.is_empty() && r.parity == Some(false) {
        let _ = write!(
            out,
            "<div class=\"banner violated\" id=\"verdict\">NO MUTANT PARITY<small>{}</small></div>",
            escape(&scope)
        );
    } else if violated.is_empty() {
        let _ = write!(
            out,
            "<div class=\"banner holds\" id=\"verdict\">Every property holds under every checker \
             that ran<small>{}</small></div>",
            escape(&scope)
        );
    } else {
        let _ = write!(
            out,
            "<div class=\"banner violated\" id=\"verdict\">VIOLATED: {}<small>{}</small></div>",
            escape(&violated.join(", ")),
            escape(&scope)
        );
    }
    out.push_str("<main>");
    matrix(&mut out, r);
    figures(&mut out, r);
    if let Some(rows) = &r.mutants {
        mutant_matrix(&mut out, rows, r.parity);
    }
    if let Some(c) = &r.coverage {
        let _ = write!(
            out,
            "<h2>Fault coverage (simulator)</h2><div class=\"figure\">{}</div>",
            heatmap::svg(c)
        );
        if c.assumption_breaches > 0 {
            let _ = write!(
                out,
                "<p>{} faults outside the timing envelope (breach runs).</p>",
                c.assumption_breaches
            );
        }
    }
    if !history.is_empty() {
        let mut points = history.to_vec();
        points.push(history::Point::of(r));
        let _ = write!(
            out,
            "<h2>Trend over {} earlier reports</h2><div class=\"figure\" id=\"trend\">{}</div>",
            history.len(),
            history::svg(&points)
        );
    }
    counterexamples(&mut out, r);
    let _ = writeln!(
        out,
        "<h2>Sources</h2><ul>{}</ul></main></body></html>",
        r.sources
            .iter()
            .map(|s| format!("<li><code>{}</code></li>", escape(s)))
            .collect::<String>()
    );
    out
}

fn matrix(out: &mut String, r: &Report) {
    out.push_str("<h2>Properties × checkers</h2><table id=\"matrix\"><thead><tr><th>property</th><th>kind</th>");
    for (_, title) in CHECKERS {
        let _ = write!(out, "<th>{title}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for p in &r.properties {
        let _ = write!(
            out,
            "<tr><td title=\"{}\"><code>{}</code></td><td>{}</td>",
            escape(&p.statement),
            escape(&p.name),
            escape(&p.kind)
        );
        for c in &p.cells {
            let link = if c.status == "violated" && c.counterexample.is_some() {
                format!(
                    " <a href=\"#cx-{}-{}\">counterexample</a>",
                    p.name, c.checker
                )
            } else {
                String::new()
            };
            let _ = write!(
                out,
                "<td class=\"{}\" title=\"{}\">{}{link}</td>",
                escape(&c.status),
                escape(c.detail.as_deref().unwrap_or("")),
                label(&c.status)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

/// The cross-check's kill matrix: every subject under every checker.
fn mutant_matrix(out: &mut String, rows: &[MutantRow], parity: Option<bool>) {
    let _ = write!(
        out,
        "<h2>Mutant kill matrix</h2><p>{}</p><table id=\"mutants\"><thead><tr><th>subject</th>\
         <th>TLC</th><th>model checker</th><th>simulator</th><th>TLC → core replay</th></tr>\
         </thead><tbody>",
        match parity {
            Some(true) =>
                "Parity: the clean protocol holds under every checker and every \
                           checker kills every mutant.",
            _ => "NO PARITY: some checker disagrees (red below).",
        }
    );
    for row in rows {
        let _ = write!(
            out,
            "<tr><td><b>{}</b> {}</td>",
            escape(&row.subject),
            escape(&row.name)
        );
        for key in ["tlc", "model", "sim", "replay"] {
            match row.cells.iter().find(|c| c.checker == key) {
                Some(c) => {
                    let detail = match (&c.property, c.length, &c.unexplored) {
                        (Some(p), Some(n), _) => format!(" <code>{}</code> ({n})", escape(p)),
                        (Some(p), None, _) => format!(" <code>{}</code>", escape(p)),
                        (None, _, Some(u)) => format!(": {}", escape(u)),
                        _ => String::new(),
                    };
                    let _ = write!(
                        out,
                        "<td class=\"{}\">{}{detail}</td>",
                        if c.agrees() { "holds" } else { "violated" },
                        escape(&c.verdict.replace('_', " "))
                    );
                }
                None => out.push_str("<td class=\"not_checked\">–</td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn figures(out: &mut String, r: &Report) {
    out.push_str(
        "<h2>Figures</h2><table id=\"figures\"><thead><tr><th>checker</th><th>what ran</th>\
         <th>states</th><th>states/s</th><th>seeds</th><th>seeds/s</th><th>events</th>\
         <th>simulated s</th><th>seconds</th></tr></thead><tbody>",
    );
    for c in &r.checkers {
        let f = &c.figures;
        let opt_u = |v: Option<u64>| v.map_or("–".to_string(), thousands);
        let opt_f = |v: Option<f64>| v.map_or("–".to_string(), |x| thousands(x.round() as u64));
        let ran = match &c.not_run {
            Some(why) => format!("not run: {}", escape(why)),
            None => c
                .configs
                .iter()
                .map(|s| format!("<code>{}</code>", escape(s)))
                .collect::<Vec<_>>()
                .join("<br>"),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{ran}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{:.1}</td></tr>",
            escape(&c.title),
            opt_u(f.states),
            opt_f(f.states_per_sec),
            opt_u(f.seeds),
            opt_f(f.seeds_per_sec),
            opt_u(f.events),
            opt_f(f.simulated_seconds),
            f.seconds
        );
    }
    out.push_str("</tbody></table>");
}

fn counterexamples(out: &mut String, r: &Report) {
    let mut any = false;
    for p in &r.properties {
        for (c, (_, title)) in p.cells.iter().zip(CHECKERS) {
            if c.status != "violated" {
                continue;
            }
            if !any {
                out.push_str("<h2>Counterexamples</h2>");
                any = true;
            }
            let _ = write!(
                out,
                "<section class=\"counterexample\" id=\"cx-{}-{}\"><h3><code>{}</code> under {}</h3>\
                 <p>{}.</p>",
                p.name,
                c.checker,
                escape(&p.name),
                in_sentence(title),
                escape(&p.statement)
            );
            if let Some(d) = &c.detail {
                let _ = write!(out, "<p><b>Why:</b> {}</p>", escape(d));
            }
            if let Some(cx) = &c.counterexample {
                let _ = write!(out, "<p>{}</p>", escape(&cx.extent()));
                if !cx.steps.is_empty() {
                    let _ = write!(
                        out,
                        "<div class=\"figure\">{}</div>",
                        sequence::svg(cx, &p.name)
                    );
                }
            }
            if let Some(cmd) = &c.replay {
                let _ = write!(out, "<p>Replay:</p><pre>{}</pre>", escape(cmd));
            }
            out.push_str("</section>");
        }
    }
}
