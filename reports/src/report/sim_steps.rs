//! A simulator counterexample step by step: the result records only the failing seed, so the
//! seed's failure is shrunk (`rebalanser shrink`'s search) and the shrunk run is run with its
//! trace; the events that lead to the violation become the counterexample's steps, in the
//! words the sequence diagram reads.
//! Keep-alive traffic and lease checks that change nothing are left out.

use super::assemble::{ShrunkFrom, Step};
use sim::shrink::ShrinkOptions;
use sim::trace::TraceStep;
use sim::{RunOptions, SimConfig};

/// Steps shown before the violation, at most.
const LAST: usize = 60;

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

/// A simulator counterexample, drawn.
pub struct Drawn {
    /// The seed of the run drawn.
    pub seed: u64,
    /// Its events up to and including the violation.
    pub events: u64,
    /// The events shown (the last [`LAST`], without keep-alive traffic).
    pub steps: Vec<Step>,
    /// What it was shrunk from, if it was.
    pub shrunk_from: Option<ShrunkFrom>,
}

/// How hard the report shrinks a failure: the shrinker's defaults, with fewer seeds tried
/// when regrowing (a report draws every violated property).
const SHRINK: ShrinkOptions = ShrinkOptions {
    max_attempts: 5_000,
    regrow_seeds: 20_000,
    regrow_above: 100,
};

/// The failing run of `seed` for `property`, shrunk (or as it is, if it does not shrink), up to
/// the violation; `None` if the configuration cannot be read or the run does not violate it.
pub fn steps(config: &SimConfig, seed: u64, property: &str) -> Option<Drawn> {
    let (config, seed, shrunk_from) =
        match sim::shrink::shrink(config, seed, Some(property), SHRINK) {
            Ok(s) => {
                let from = ShrunkFrom {
                    seed,
                    events: s.before.events,
                    faults: s.before.faults,
                    shrunk_faults: s.after.faults,
                    regrown: s.regrown,
                };
                (s.config, s.seed, Some(from))
            }
            Err(_) => (config.clone(), seed, None),
        };
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
    Some(Drawn {
        seed,
        events: run.trace[at].step + 1,
        steps: shown[from..].to_vec(),
        shrunk_from,
    })
}
