//! The model checker's results as `rebalanser check` prints them, and its command lines.

use super::number::thousands;
use model::check::{CheckOptions, CheckReport, Status};
use model::ModelConfig;
use std::fmt::Write as _;

/// One line on what is being checked.
pub fn describe_config(c: &ModelConfig, o: &CheckOptions) -> String {
    format!(
        "checking {} node(s) x {} resource(s), start {:?}; budgets: crashes {}, rpc-faults {}, \
         expiries {}, admin-changes {}, watch-breaks {}, membership-changes {}, late {}, \
         duplicates {}{}; symmetry {}; timing assumption {}; mutant {}; {:?} with {} thread(s)",
        c.nodes,
        c.resources,
        c.start,
        c.crashes,
        c.rpc_faults,
        c.expiries,
        c.admin_changes,
        c.watch_breaks,
        c.membership_changes,
        c.late,
        c.duplicates,
        if c.timed {
            format!(", delays {}; timed (clocks as counters)", c.delays)
        } else {
            String::new()
        },
        if c.symmetry { "on" } else { "off" },
        if c.timing_assumption { "on" } else { "off" },
        c.mutant.map_or("none".to_string(), |m| format!(
            "{} ({})",
            m.name(),
            m.code()
        )),
        o.strategy,
        o.threads
    )
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Holds => "holds",
        Status::Violated => "VIOLATED",
        Status::Reached => "reached",
        Status::NotReached => "NOT REACHED",
        Status::Unknown => "unknown",
    }
}

/// The human-readable summary.
pub fn render_check(r: &CheckReport) -> String {
    let f = &r.figures;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nstates: {} total, {} unique; depth {}; {:.1} s; {:.0} unique states/s; {}",
        f.total_states,
        f.unique_states,
        f.depth,
        f.seconds,
        f.unique_states_per_sec,
        if f.exhaustive {
            "exhaustive"
        } else {
            "NOT exhaustive (stopped early)"
        }
    );
    if f.liveness_states > 0 {
        let _ = writeln!(
            out,
            "liveness pass: {} states, {:.1} s",
            f.liveness_states, f.liveness_seconds
        );
    }
    let _ = writeln!(out, "\nproperties:");
    for p in &r.properties {
        let _ = writeln!(out, "  {:<10} {:<36} {}", p.kind, p.name, status(p.status));
    }
    for p in r.properties.iter().filter(|p| p.status == Status::Violated) {
        let _ = writeln!(out, "\n{} VIOLATED", p.name);
        if let Some(reason) = &p.reason {
            let _ = writeln!(out, "  {reason}");
        }
        if let Some(t) = &p.trace {
            let _ = writeln!(out, "  counterexample, {} steps:", t.steps.len());
            for s in &t.steps {
                let mark = if s.fault { " [fault]" } else { "" };
                let _ = writeln!(out, "  {:>3}. {}: {}{mark}", s.n, s.actor, s.action);
                for c in &s.changes {
                    let _ = writeln!(out, "         - {c}");
                }
            }
            let _ = writeln!(out, "  final state:");
            for l in &t.last_state {
                let _ = writeln!(out, "    {l}");
            }
        }
    }
    let verdict = if r.violated() {
        "VIOLATED: see the counterexample(s) above"
    } else if r
        .properties
        .iter()
        .any(|p| p.status == Status::Unknown && p.kind != "sometimes")
    {
        "no violation found, but not every property was decided (see above)"
    } else {
        "all properties hold"
    };
    let _ = writeln!(out, "\nverdict: {verdict}");
    let unreached: Vec<&str> = r
        .properties
        .iter()
        .filter(|p| p.status == Status::NotReached)
        .map(|p| p.name.as_str())
        .collect();
    if !unreached.is_empty() {
        let _ = writeln!(
            out,
            "note: not reached in this configuration: {} (raise the fault budgets to cover them)",
            unreached.join(", ")
        );
    }
    out
}

/// The portfolio's rows (one line per configuration), then the folded result.
pub fn render_portfolio(r: &CheckReport) -> String {
    let mut out = String::from("\nconfiguration   unique states   depth   seconds   verdict\n");
    for row in &r.rows {
        let f = &row.report.figures;
        let verdict = if row.report.violated() {
            let names: Vec<&str> = row
                .report
                .properties
                .iter()
                .filter(|p| p.status == Status::Violated)
                .map(|p| p.name.as_str())
                .collect();
            format!("VIOLATED ({})", names.join(", "))
        } else if !f.exhaustive
            || row
                .report
                .properties
                .iter()
                .any(|p| p.status == Status::Unknown && p.kind != "sometimes")
        {
            "undecided".to_string()
        } else {
            "holds".to_string()
        };
        let _ = writeln!(
            out,
            "{:<15} {:>13}   {:>5}   {:>7.1}   {verdict}",
            row.name,
            thousands(f.unique_states as u64),
            f.depth,
            f.seconds + f.liveness_seconds,
        );
    }
    // A run of the whole portfolio, or of its timed rows, stops at the first violation.
    let asked = if r.rows.iter().all(|row| row.report.config.timed) {
        model::portfolio::timed_entries().len()
    } else {
        model::portfolio::entries().len()
    };
    let skipped = asked.saturating_sub(r.rows.len());
    if skipped > 0 && r.rows.last().is_some_and(|row| row.report.violated()) {
        let _ = writeln!(
            out,
            "({skipped} more configuration(s) not run: the search stops at the first violation)"
        );
    }
    out.push_str(&render_check(r));
    out
}

/// The portfolio's configurations, for `check --list`.
pub fn render_portfolio_list() -> String {
    let mut out = String::from(
        "`rebalanser check` with no configuration flags runs every one of these (one verdict);\n\
         `check --config NAME` runs one. Each isolates a fault class on the smallest group \
         where it bites.\n",
    );
    for e in model::portfolio::entries() {
        let cmd = check_command(&e.config);
        let _ = writeln!(out, "\n  {:<12} {}\n  {:<12} {cmd}", e.name, e.covers, "");
    }
    out
}

/// The `rebalanser check` command line for a configuration.
pub fn check_command(c: &ModelConfig) -> String {
    let mut cmd = format!(
        "rebalanser check --nodes {} --resources {} --crashes {} --rpc-faults {} --expiries {} \
         --admin-changes {}",
        c.nodes, c.resources, c.crashes, c.rpc_faults, c.expiries, c.admin_changes
    );
    if c.watch_breaks > 0 {
        let _ = write!(cmd, " --watch-breaks {}", c.watch_breaks);
    }
    if c.membership_changes > 0 {
        let _ = write!(cmd, " --membership-changes {}", c.membership_changes);
    }
    if c.late > 0 {
        let _ = write!(cmd, " --late {}", c.late);
    }
    if c.duplicates > 0 {
        let _ = write!(cmd, " --duplicates {}", c.duplicates);
    }
    if c.delays > 0 {
        let _ = write!(cmd, " --delays {}", c.delays);
    }
    if c.start == model::Start::Joining {
        cmd.push_str(" --start joining");
    }
    if c.timed {
        cmd.push_str(" --timed");
    }
    if !c.timing_assumption {
        cmd.push_str(" --timing-assumption off");
    }
    if let Some(m) = c.mutant {
        let _ = write!(cmd, " --mutant {}", m.name());
    }
    cmd
}
