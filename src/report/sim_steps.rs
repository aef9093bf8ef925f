//! A simulator counterexample step by step: the result records only the failing seed, so the
//! seed is run again (bit for bit the same run) with its trace, and the events that lead to the
//! violation become the counterexample's steps, in the words the sequence diagram reads.
//! Keep-alive traffic and lease checks that change nothing are left out.

use super::assemble::Step;
use serde_json::Value as Json;
use sim::trace::TraceStep;
use sim::{RunOptions, SimConfig};

/// Steps shown before the violation, at most.
const LAST: usize = 40;

fn noise(t: &TraceStep) -> bool {
    let d = &t.detail;
    (t.event == "lease-check" && t.registry.is_empty())
        || d.contains("KeepAlive")
        || d.contains("kept alive")
        || d.starts_with("keep-alive timer")
}

fn step(t: &TraceStep) -> Step {
    let node = t.node.clone().unwrap_or_else(|| "registry".into());
    let d = &t.detail;
    let after = |sep: &str| d.split_once(sep).map_or(d.as_str(), |(_, r)| r).to_string();
    let (actor, action, fault) = match t.event {
        "arrive" => {
            // "registry gets #12 Txn(...)"
            let what = d
                .strip_prefix("registry gets #")
                .and_then(|r| r.split_once(' '))
                .map_or(d.as_str(), |(_, w)| w);
            (
                "registry".to_string(),
                format!("handles {what} from {node}"),
                false,
            )
        }
        "reply" => (node, format!("receives the reply: {}", after(": ")), false),
        "timeout" => (
            node,
            "receives the outcome UNKNOWN (timed out)".into(),
            false,
        ),
        "watch" => (
            node,
            format!("receives watch event {}", after("watch ")),
            false,
        ),
        "watch-broken" => (node, "learns that its watch stream broke".into(), true),
        "timer" => (node, format!("its {d} fires"), false),
        "app" => {
            let action = if let Some(r) = d.strip_prefix("application starts ") {
                format!("starts accessing {r}")
            } else if let Some(r) = d.strip_prefix("application stops ") {
                format!("stops accessing {r}")
            } else {
                d.clone()
            };
            (format!("app {node}"), action, false)
        }
        "fault" => (
            "fault".to_string(),
            d.trim_start_matches("FAULT ").to_string(),
            true,
        ),
        "flap" | "restart" => (node, d.clone(), true),
        _ => (node, d.clone(), false),
    };
    let mut action = action;
    if !t.outputs.is_empty() {
        action = format!("{action} => {}", t.outputs.join("; "));
    }
    Step {
        actor,
        action,
        fault,
    }
}

/// The last events of `seed` up to its first violation of `property`, and the number of
/// events up to it; `None` if the configuration cannot be read or the run does not violate it.
pub fn steps(config: &Json, seed: u64, property: &str) -> Option<(u64, Vec<Step>)> {
    let config: SimConfig = serde_json::from_value(config.clone()).ok()?;
    let run = sim::run(&config, seed, RunOptions { trace: true });
    let at = run.trace.iter().position(|t| {
        t.violations
            .iter()
            .any(|v| v.split_once(':').is_some_and(|(p, _)| p == property))
    })?;
    let shown: Vec<Step> = run.trace[..=at]
        .iter()
        .enumerate()
        .filter(|(i, t)| *i == at || !noise(t))
        .map(|(_, t)| step(t))
        .collect();
    let from = shown.len().saturating_sub(LAST);
    Some((run.trace[at].step + 1, shown[from..].to_vec()))
}
