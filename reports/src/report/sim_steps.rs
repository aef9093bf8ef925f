//! A simulator counterexample step by step: the result records only the failing seed, so the
//! seed's failure is shrunk (`rebalanser shrink`'s search) and the shrunk run is run with its
//! trace; the events that lead to the violation become the counterexample's steps: the
//! simulator's words for the reader, and a mark for the sequence diagram from each event's
//! typed flow (`sim::trace::Flow`), never from its words.
//! Keep-alive traffic and lease checks that change nothing are left out.

use super::assemble::{ShrunkFrom, Step};
use super::sequence::{Lane, Mark, Tag};
use sim::shrink::ShrinkOptions;
use sim::trace::{Flow, TraceStep};
use sim::{RunOptions, SimConfig};

/// Steps shown before the violation, at most.
const LAST: usize = 60;

/// Keep-alive traffic, and lease checks that expire nothing.
fn noise(t: &TraceStep) -> bool {
    t.flow.keep_alive() || (t.event == "lease-check" && t.registry.is_empty())
}

/// The lane of the node called `name`.
fn lane(name: &str) -> Lane {
    let index = protocol::NodeId::new(name).number().unwrap_or(usize::MAX);
    Lane::Node(index, name.to_string())
}

/// Step `t`: who acts and the simulator's own words for what happened, with what the node
/// asked for in return.
fn step(t: &TraceStep) -> Step {
    let node = t.node.clone().unwrap_or_else(|| "registry".into());
    let (actor, fault) = match &t.flow {
        Flow::Request { .. } => ("registry".to_string(), false),
        Flow::App { .. } => (format!("app {node}"), false),
        Flow::Fault { .. } | Flow::Admin => ("fault".to_string(), true),
        _ => (node, matches!(t.event, "watch-broken" | "restart")),
    };
    let mut action = t.detail.clone();
    if !t.outputs.is_empty() {
        action = format!("{action} => {}", t.outputs.join("; "));
    }
    Step {
        mark: mark(t),
        actor,
        action,
        fault,
    }
}

/// What step `t` draws, from its typed flow.
fn mark(t: &TraceStep) -> Mark {
    let on = |lane: Lane, tag: Tag| Mark::On { lane, tag };
    let node = t.node.as_deref().map(lane);
    let from_registry = |to: Lane, watch: bool| Mark::Message {
        from: Lane::Registry,
        to,
        watch,
    };
    match (&t.flow, node) {
        (Flow::Admin, _) => Mark::Message {
            from: Lane::Admin,
            to: Lane::Registry,
            watch: false,
        },
        // A fault on several nodes (a cut) is drawn on the first.
        (Flow::Fault { nodes }, _) => on(
            nodes.first().map_or(Lane::Registry, |n| lane(n)),
            Tag::Fault,
        ),
        (Flow::Request { .. }, Some(n)) => Mark::Message {
            from: n,
            to: Lane::Registry,
            watch: false,
        },
        (Flow::Outcome { .. }, Some(n)) => from_registry(n, false),
        (Flow::Watch, Some(n)) => from_registry(n, true),
        (Flow::App { start, .. }, Some(n)) => on(n, if *start { Tag::Start } else { Tag::Stop }),
        (_, Some(n)) => on(n, Tag::fault_or_plain(t.event == "restart")),
        (_, None) => on(Lane::Registry, Tag::Plain),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain run, drawn: each kind of step gets its mark from the simulator's typed flow.
    #[test]
    fn a_run_is_drawn_from_its_typed_flow() {
        let config = SimConfig::default();
        let run = sim::run(&config, 0, RunOptions { trace: true });
        let marks: Vec<Mark> = run
            .trace
            .iter()
            .filter(|t| !noise(t))
            .map(|t| step(t).mark)
            .collect();
        let n1 = Lane::Node(0, "n1".into());
        let has = |m: &Mark| marks.contains(m);
        assert!(has(&Mark::Message {
            from: n1.clone(),
            to: Lane::Registry,
            watch: false
        }));
        assert!(has(&Mark::Message {
            from: Lane::Registry,
            to: n1.clone(),
            watch: false
        }));
        assert!(has(&Mark::Message {
            from: Lane::Registry,
            to: n1.clone(),
            watch: true
        }));
        assert!(has(&Mark::On {
            lane: n1.clone(),
            tag: Tag::Start
        }));
        // Keep-alives are typed as such, and left out.
        assert!(run.trace.iter().any(|t| t.flow.keep_alive()));
        assert!(run
            .trace
            .iter()
            .filter(|t| !noise(t))
            .all(|t| !t.detail.contains("KeepAlive")));
    }
}
