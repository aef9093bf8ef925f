//! A counterexample drawn as a sequence diagram in SVG: a lane per node and one for the
//! registry (and the administrator, or the spec for TLC's actions), an arrow per message
//! (requests to the registry, replies and watch events back), marks for faults, the
//! application's Start and Stop, and the violating step at the end. Each row carries the
//! step's words beside the lanes, so nothing needs a script to read.

use super::assemble::{Counterexample, Step};
use super::markup::escape;
use std::fmt::Write as _;

const LANE: i32 = 130;
const ROW: i32 = 26;
const TOP: i32 = 44;
const LEFT: i32 = 70;
const TEXT_WIDTH: i32 = 730;
const MAX_TEXT: usize = 96;

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

/// What a step draws.
enum Mark {
    /// A message from one lane to another (dashed: a watch event).
    Arrow {
        from: String,
        to: String,
        dashed: bool,
    },
    /// Something on one lane: a fault, Start/Stop, a timer, an expiry, a spec action.
    Dot { lane: String, kind: Dot },
}

#[derive(Clone, Copy, PartialEq)]
enum Dot {
    Fault,
    Start,
    Stop,
    Plain,
}

fn mark(step: &Step) -> Mark {
    let a = &step.action;
    let actor = step.actor.as_str();
    if actor == "registry" {
        if let (true, Some(n)) = (
            a.starts_with("handles "),
            a.rsplit_once(" from ").and_then(|(_, rest)| node_in(rest)),
        ) {
            return Mark::Arrow {
                from: n,
                to: "registry".into(),
                dashed: false,
            };
        }
        return Mark::Dot {
            lane: "registry".into(),
            kind: Dot::Plain,
        };
    }
    if actor == "admin" {
        return Mark::Arrow {
            from: "admin".into(),
            to: "registry".into(),
            dashed: false,
        };
    }
    if let Some(node) = actor.strip_prefix("app ") {
        let kind = if a.starts_with("starts") {
            Dot::Start
        } else {
            Dot::Stop
        };
        return Mark::Dot {
            lane: node.into(),
            kind,
        };
    }
    if actor == "fault" {
        let lane = node_in(a).unwrap_or_else(|| "registry".into());
        return Mark::Dot {
            lane,
            kind: Dot::Fault,
        };
    }
    if actor == "spec" {
        return Mark::Dot {
            lane: "spec".into(),
            kind: if step.fault { Dot::Fault } else { Dot::Plain },
        };
    }
    if a.starts_with("receives the reply") || a.starts_with("receives the outcome") {
        return Mark::Arrow {
            from: "registry".into(),
            to: actor.into(),
            dashed: false,
        };
    }
    if a.starts_with("receives watch event") || a.starts_with("learns that its watch") {
        return Mark::Arrow {
            from: "registry".into(),
            to: actor.into(),
            dashed: true,
        };
    }
    Mark::Dot {
        lane: actor.into(),
        kind: if step.fault { Dot::Fault } else { Dot::Plain },
    }
}

fn lanes(steps: &[Step], marks: &[Mark]) -> Vec<String> {
    let mut nodes: Vec<String> = Vec::new();
    let mut extra = Vec::new();
    let mut add = |name: &str| {
        if name.starts_with('n') && name[1..].chars().all(|c| c.is_ascii_digit()) && name.len() > 1
        {
            if !nodes.iter().any(|n| n == name) {
                nodes.push(name.to_string());
            }
        } else if name != "registry" && !extra.iter().any(|n: &String| n == name) {
            extra.push(name.to_string());
        }
    };
    for m in marks {
        match m {
            Mark::Arrow { from, to, .. } => {
                add(from);
                add(to);
            }
            Mark::Dot { lane, .. } => add(lane),
        }
    }
    nodes.sort_by_key(|n| n[1..].parse::<u32>().unwrap_or(0));
    let mut out: Vec<String> = extra
        .into_iter()
        .filter(|e| e == "admin" || e == "spec")
        .collect();
    // TLC's actions are the spec's alone: no registry lane of their own.
    if !steps.iter().all(|s| s.actor == "spec") {
        out.push("registry".into());
    }
    out.extend(nodes);
    out
}

fn short(text: &str) -> String {
    if text.chars().count() <= MAX_TEXT {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX_TEXT - 1).collect();
        format!("{cut}…")
    }
}

/// The diagram of `cx`, which ends in a violation of `property`.
pub fn svg(cx: &Counterexample, property: &str) -> String {
    let marks: Vec<Mark> = cx.steps.iter().map(mark).collect();
    let lanes = lanes(&cx.steps, &marks);
    let x = |lane: &str| {
        let i = lanes.iter().position(|l| l == lane).unwrap_or(0) as i32;
        LEFT + i * LANE
    };
    let rows = cx.steps.len() as i32 + 1;
    let text_x = LEFT + (lanes.len() as i32 - 1) * LANE + 60;
    let width = text_x + TEXT_WIDTH;
    let height = TOP + rows * ROW + 16;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"sequence\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"sequence diagram of the counterexample for {}\">",
        escape(property)
    );
    let bottom = TOP + rows * ROW;
    for lane in &lanes {
        let lx = x(lane);
        let _ = write!(
            out,
            "<text class=\"lane\" x=\"{lx}\" y=\"20\" text-anchor=\"middle\">{}</text>\
             <line class=\"lifeline\" x1=\"{lx}\" y1=\"28\" x2=\"{lx}\" y2=\"{bottom}\"/>",
            escape(lane)
        );
    }
    for (i, (step, m)) in cx.steps.iter().zip(&marks).enumerate() {
        let y = TOP + i as i32 * ROW + ROW / 2;
        if i % 2 == 0 {
            let _ = write!(
                out,
                "<rect class=\"band\" x=\"0\" y=\"{}\" width=\"{width}\" height=\"{ROW}\"/>",
                y - ROW / 2
            );
        }
        match m {
            Mark::Arrow { from, to, dashed } => {
                let (x1, x2) = (x(from), x(to));
                let cls = if *dashed {
                    "msg watch"
                } else if step.fault {
                    "msg fault"
                } else {
                    "msg"
                };
                let _ = write!(
                    out,
                    "<line class=\"{cls}\" x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" \
                     marker-end=\"url(#arrow)\"/>"
                );
            }
            Mark::Dot { lane, kind } => {
                let lx = x(lane);
                match kind {
                    Dot::Fault => {
                        let _ = write!(
                            out,
                            "<path class=\"fault\" d=\"M{} {} l12 12 m0 -12 l-12 12\"/>",
                            lx - 6,
                            y - 6
                        );
                    }
                    Dot::Start | Dot::Stop => {
                        let (cls, word) = if *kind == Dot::Start {
                            ("start", "Start")
                        } else {
                            ("stop", "Stop")
                        };
                        let _ = write!(
                            out,
                            "<rect class=\"{cls}\" x=\"{}\" y=\"{}\" width=\"44\" height=\"16\" rx=\"3\"/>\
                             <text class=\"tag\" x=\"{lx}\" y=\"{}\" text-anchor=\"middle\">{word}</text>",
                            lx - 22,
                            y - 8,
                            y + 4
                        );
                    }
                    Dot::Plain => {
                        let _ = write!(
                            out,
                            "<circle class=\"dot\" cx=\"{lx}\" cy=\"{y}\" r=\"4\"/>"
                        );
                    }
                }
            }
        }
        let who = if step.fault {
            format!("{} (fault)", step.actor)
        } else {
            step.actor.clone()
        };
        let _ = write!(
            out,
            "<text class=\"step{}\" x=\"{text_x}\" y=\"{}\"><title>{}</title>{:>3}. {}: {}</text>",
            if step.fault { " faulty" } else { "" },
            y + 4,
            escape(&step.action),
            i + 1,
            escape(&who),
            escape(&short(&step.action))
        );
    }
    let y = TOP + (rows - 1) * ROW + ROW / 2;
    let _ = write!(
        out,
        "<rect class=\"violation\" x=\"0\" y=\"{}\" width=\"{width}\" height=\"{ROW}\"/>\
         <text class=\"violated\" x=\"{text_x}\" y=\"{}\">✗ {} violated</text>",
        y - ROW / 2,
        y + 4,
        escape(property)
    );
    let _ = write!(
        out,
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\"/></marker></defs></svg>"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(actor: &str, action: &str, fault: bool) -> Step {
        Step {
            actor: actor.into(),
            action: action.into(),
            fault,
        }
    }

    #[test]
    fn node_names_are_found_whole() {
        assert_eq!(node_in("keep-alives of n12 stop").as_deref(), Some("n12"));
        assert_eq!(node_in("txn succeeded @9 from n1:").as_deref(), Some("n1"));
        assert_eq!(node_in("nothing here, n, nx1"), None);
    }

    #[test]
    fn draws_lanes_messages_faults_and_the_violation() {
        let cx = Counterexample {
            length: Some(5),
            unit: "steps".into(),
            seed: None,
            steps: vec![
                step("admin", "removes resource r1", true),
                step("n1", "receives watch event @7: delete resources/r1", false),
                step("fault", "keep-alives of n2 stop getting through", true),
                step("app n1", "stops accessing r1", false),
                step(
                    "registry",
                    "handles Txn(put assignment) from n2: txn succeeded @9",
                    false,
                ),
            ],
            shrunk_from: None,
        };
        let svg = svg(&cx, "fenced_writes");
        for lane in [">admin<", ">registry<", ">n1<", ">n2<"] {
            assert!(svg.contains(lane), "{lane}");
        }
        assert_eq!(
            svg.matches("class=\"msg").count(),
            3,
            "admin, watch, request"
        );
        assert!(svg.contains("class=\"msg watch\""));
        assert!(svg.contains("class=\"fault\""));
        assert!(svg.contains(">Stop<"));
        assert!(svg.contains("✗ fenced_writes violated"));
        assert!(!svg.contains("<script"));
    }
}
