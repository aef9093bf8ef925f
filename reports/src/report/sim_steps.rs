//! A simulator counterexample step by step: the result records only the failing seed, so the
//! seed's failure is shrunk (`rebalanser shrink`'s search) and the shrunk run is run with its
//! trace; the events that lead to the violation become the counterexample's steps: words
//! for the reader, and a mark for the sequence diagram from each event's typed fields.
//! Keep-alive traffic and lease checks that change nothing are left out.

use super::assemble::{ShrunkFrom, Step};
use super::sequence::{Lane, Mark, Tag};
use sim::shrink::ShrinkOptions;
use sim::trace::TraceStep;
use sim::{RunOptions, SimConfig};
use std::collections::HashMap;

/// Steps shown before the violation, at most.
const LAST: usize = 60;

// The trace does not type keep-alive traffic (the request, its reply, the timer): its words
// are all that tell it.
fn noise(t: &TraceStep) -> bool {
    let d = &t.detail;
    (t.event == "lease-check" && t.registry.is_empty())
        || d.contains("KeepAlive")
        || d.contains("kept alive")
        || d.starts_with("keep-alive timer")
}

/// The first node name (`n1`, `n12`) in a text.
fn node_in(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('n') {
        let before_ok = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let digits: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let after = text[i + 1 + digits.len()..].chars().next();
        let after_ok = after.is_none_or(|c| !c.is_ascii_alphanumeric());
        if before_ok && !digits.is_empty() && after_ok {
            return Some(format!("n{digits}"));
        }
    }
    None
}

/// The lane of the node called `name` in a run of `config`.
fn lane(config: &SimConfig, name: &str) -> Lane {
    let index = (0..config.nodes)
        .find(|&i| SimConfig::node_id(i).0 == name)
        .unwrap_or(usize::MAX);
    Lane::Node(index, name.to_string())
}

/// Step `t` of a run of `config`; `accessed` is what its node's application accessed before.
fn step(t: &TraceStep, config: &SimConfig, accessed: &[String]) -> Step {
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
        mark: mark(t, config, accessed),
        actor,
        action,
        fault,
    }
}

/// What step `t` draws, from its typed fields.
fn mark(t: &TraceStep, config: &SimConfig, accessed: &[String]) -> Mark {
    let on = |lane: Lane, tag: Tag| Mark::On { lane, tag };
    let Some(name) = t.node.as_deref() else {
        if t.event == "fault" {
            // A fault on several nodes (a cut) has no `node`; it names them in its words only.
            let lane = node_in(&t.detail).map_or(Lane::Registry, |n| lane(config, &n));
            return on(lane, Tag::Fault);
        }
        return on(Lane::Registry, Tag::Plain);
    };
    let node = lane(config, name);
    let from_registry = |node: Lane, watch: bool| Mark::Message {
        from: Lane::Registry,
        to: node,
        watch,
    };
    match t.event {
        "arrive" => Mark::Message {
            from: node,
            to: Lane::Registry,
            watch: false,
        },
        "reply" | "timeout" => from_registry(node, false),
        "watch" | "watch-broken" => from_registry(node, true),
        // What the application started or stopped shows in what it accesses after.
        "app" => {
            let now: &[String] = t.state.as_ref().map_or(&[], |s| &s.accessing);
            let tag = if now.iter().any(|r| !accessed.contains(r)) {
                Tag::Start
            } else if accessed.iter().any(|r| !now.contains(r)) {
                Tag::Stop
            } else {
                Tag::Plain
            };
            on(node, tag)
        }
        "fault" | "flap" | "restart" => on(node, Tag::Fault),
        _ => on(node, Tag::Plain),
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
    let mut accessing: HashMap<&str, &[String]> = HashMap::new();
    let mut shown: Vec<Step> = Vec::new();
    for (i, t) in run.trace[..=at].iter().enumerate() {
        let node = t.node.as_deref();
        if i == at || !noise(t) {
            let accessed = node.and_then(|n| accessing.get(n)).copied().unwrap_or(&[]);
            shown.push(step(t, &config, accessed));
        }
        if let (Some(n), Some(s)) = (node, &t.state) {
            accessing.insert(n, &s.accessing);
        }
    }
    let from = shown.len().saturating_sub(LAST);
    Some(Drawn {
        seed,
        events: run.trace[at].step + 1,
        steps: shown[from..].to_vec(),
        shrunk_from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_found_whole() {
        assert_eq!(node_in("keep-alives of n12 stop").as_deref(), Some("n12"));
        assert_eq!(node_in("txn succeeded @9 from n1:").as_deref(), Some("n1"));
        assert_eq!(node_in("nothing here, n, nx1"), None);
    }
}
