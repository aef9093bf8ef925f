//! `report.md`: the report as a pull-request comment or a GitHub job summary: the verdict,
//! the property × checker matrix, the figures, and each violation with its counterexample and
//! replay command.

use super::assemble::{Report, CHECKERS};
use crate::text::number::thousands;
use std::fmt::Write as _;

fn mark(status: &str) -> &'static str {
    match status {
        "holds" => "✅ holds",
        "violated" => "❌ **violated**",
        "reached" => "✅ reached",
        "not_reached" => "⚠️ not reached",
        "unknown" => "❔ unknown",
        "not_run" => "– not run",
        _ => "– not checked",
    }
}

/// The Markdown of a report.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let violated: Vec<String> = r
        .properties
        .iter()
        .filter(|p| p.cells.iter().any(|c| c.status == "violated"))
        .map(|p| format!("`{}`", p.name))
        .collect();
    let _ = writeln!(out, "## Rebalanser invariant report\n");
    if violated.is_empty() {
        let _ = writeln!(
            out,
            "**✅ Every property holds** under every checker that ran ({} profile{}).\n",
            r.profile,
            r.mutant
                .as_deref()
                .map_or(String::new(), |m| format!(", mutant {m}"))
        );
    } else {
        let _ = writeln!(
            out,
            "**❌ Violated: {}** ({} profile{}).\n",
            violated.join(", "),
            r.profile,
            r.mutant
                .as_deref()
                .map_or(String::new(), |m| format!(", mutant {m}"))
        );
    }
    let _ = write!(out, "| property | kind |");
    for (_, title) in CHECKERS {
        let _ = write!(out, " {title} |");
    }
    let _ = writeln!(out, "\n|---|---|{}", "---|".repeat(CHECKERS.len()));
    for p in &r.properties {
        let _ = write!(out, "| `{}` | {} |", p.name, p.kind);
        for c in &p.cells {
            let _ = write!(out, " {} |", mark(&c.status));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "\n| checker | ran | figures |\n|---|---|---|");
    for c in &r.checkers {
        let f = &c.figures;
        let mut figures = Vec::new();
        if let Some(n) = f.states {
            figures.push(format!(
                "{} states ({} /s)",
                thousands(n),
                thousands(f.states_per_sec.unwrap_or(0.0) as u64)
            ));
        }
        if let Some(n) = f.seeds {
            figures.push(format!(
                "{} seeds ({:.0} /s), {} events, {:.0} simulated s",
                thousands(n),
                f.seeds_per_sec.unwrap_or(0.0),
                thousands(f.events.unwrap_or(0)),
                f.simulated_seconds.unwrap_or(0.0)
            ));
        }
        if c.runs > 0 {
            figures.push(format!("{:.1} s", f.seconds));
        }
        let ran = match (&c.not_run, c.runs) {
            (Some(why), _) => format!("not run: {why}"),
            (None, 0) => "not run".to_string(),
            (None, _) => c.configs.join("; "),
        };
        let _ = writeln!(out, "| {} | {} | {} |", c.title, ran, figures.join(", "));
    }
    if let Some(rows) = &r.mutants {
        let _ = writeln!(
            out,
            "\n**Mutant kill matrix** ({}):\n\n| subject | TLC | model checker | simulator | \
             TLC → core replay |\n|---|---|---|---|---|",
            if r.parity == Some(true) {
                "parity"
            } else {
                "❌ NO PARITY"
            }
        );
        for row in rows {
            let _ = write!(out, "| {} |", row.subject);
            for key in ["tlc", "model", "sim", "replay"] {
                let cell = row.cells.iter().find(|c| c.checker == key).map_or_else(
                    || "–".to_string(),
                    |c| {
                        format!(
                            "{}{}",
                            if c.agrees() { "" } else { "❌ " },
                            c.verdict.replace('_', " ")
                        ) + &c
                            .property
                            .as_deref()
                            .map_or(String::new(), |p| format!(" `{p}`"))
                            + &c.unexplored
                                .as_deref()
                                .map_or(String::new(), |u| format!(": {u}"))
                    },
                );
                let _ = write!(out, " {cell} |");
            }
            let _ = writeln!(out);
        }
    }
    for p in &r.properties {
        for (c, (_, title)) in p.cells.iter().zip(CHECKERS) {
            if c.status != "violated" {
                continue;
            }
            let _ = writeln!(
                out,
                "\n### ❌ `{}` under {}\n",
                p.name,
                super::assemble::in_sentence(title)
            );
            let _ = writeln!(out, "{}.", p.statement);
            if let Some(d) = &c.detail {
                let _ = writeln!(out, "\n**Why:** {d}");
            }
            if let Some(cx) = c.counterexample.as_ref().filter(|cx| !cx.steps.is_empty()) {
                let _ = writeln!(
                    out,
                    "\n<details><summary>Counterexample: {}</summary>\n\n```",
                    cx.extent()
                );
                for (i, s) in cx.steps.iter().enumerate() {
                    let _ = writeln!(out, "{}", s.line(i + 1));
                }
                let _ = writeln!(out, "```\n</details>");
            }
            if let Some(cmd) = &c.replay {
                let _ = writeln!(out, "\nReplay:\n\n```sh\n{cmd}\n```");
            }
        }
    }
    out
}
