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

/// A lane of the diagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lane {
    Registry,
    Admin,
    /// TLC's actions.
    Spec,
    /// A node: its index (node lanes go in its order) and its name.
    Node(usize, String),
}

impl Lane {
    fn name(&self) -> &str {
        match self {
            Lane::Registry => "registry",
            Lane::Admin => "admin",
            Lane::Spec => "spec",
            Lane::Node(_, name) => name,
        }
    }
}

/// What a step draws, set from the checker's typed step (never from its words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A message from one lane to another; `watch`: on a watch stream (drawn dashed).
    Message { from: Lane, to: Lane, watch: bool },
    /// Something on one lane: a fault, Start/Stop, a timer, an expiry, a spec action.
    On { lane: Lane, tag: Tag },
}

impl Default for Mark {
    fn default() -> Self {
        Mark::On {
            lane: Lane::Registry,
            tag: Tag::Plain,
        }
    }
}

/// How a mark on one lane is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    Fault,
    Start,
    Stop,
    Plain,
}

impl Tag {
    /// A fault's cross, else a dot.
    pub fn fault_or_plain(fault: bool) -> Tag {
        if fault {
            Tag::Fault
        } else {
            Tag::Plain
        }
    }
}

fn lanes(steps: &[Step]) -> Vec<Lane> {
    let mut nodes: Vec<Lane> = Vec::new();
    let mut extra: Vec<Lane> = Vec::new();
    let mut add = |lane: &Lane| {
        let into = match lane {
            Lane::Registry => return,
            Lane::Node(..) => &mut nodes,
            Lane::Admin | Lane::Spec => &mut extra,
        };
        if !into.contains(lane) {
            into.push(lane.clone());
        }
    };
    for s in steps {
        match &s.mark {
            Mark::Message { from, to, .. } => {
                add(from);
                add(to);
            }
            Mark::On { lane, .. } => add(lane),
        }
    }
    nodes.sort_by_key(|n| match n {
        Lane::Node(i, _) => *i,
        _ => 0,
    });
    let mut out = extra;
    // TLC's actions are the spec's alone: no registry lane of their own.
    let spec_only = steps.iter().all(|s| {
        matches!(
            &s.mark,
            Mark::On {
                lane: Lane::Spec,
                ..
            }
        )
    });
    if !spec_only {
        out.push(Lane::Registry);
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
    let lanes = lanes(&cx.steps);
    let x = |lane: &Lane| {
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
            escape(lane.name())
        );
    }
    for (i, step) in cx.steps.iter().enumerate() {
        let y = TOP + i as i32 * ROW + ROW / 2;
        if i % 2 == 0 {
            let _ = write!(
                out,
                "<rect class=\"band\" x=\"0\" y=\"{}\" width=\"{width}\" height=\"{ROW}\"/>",
                y - ROW / 2
            );
        }
        match &step.mark {
            Mark::Message { from, to, watch } => {
                let (x1, x2) = (x(from), x(to));
                let cls = if *watch {
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
            Mark::On { lane, tag } => {
                let lx = x(lane);
                match tag {
                    Tag::Fault => {
                        let _ = write!(
                            out,
                            "<path class=\"fault\" d=\"M{} {} l12 12 m0 -12 l-12 12\"/>",
                            lx - 6,
                            y - 6
                        );
                    }
                    Tag::Start | Tag::Stop => {
                        let (cls, word) = if *tag == Tag::Start {
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
                    Tag::Plain => {
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

    fn step(actor: &str, action: &str, fault: bool, mark: Mark) -> Step {
        Step {
            actor: actor.into(),
            action: action.into(),
            fault,
            mark,
        }
    }

    fn node(i: usize) -> Lane {
        Lane::Node(i, format!("n{}", i + 1))
    }

    #[test]
    fn draws_lanes_messages_faults_and_the_violation() {
        let cx = Counterexample {
            length: Some(5),
            unit: "steps".into(),
            seed: None,
            steps: vec![
                step(
                    "admin",
                    "removes resource r1",
                    true,
                    Mark::Message {
                        from: Lane::Admin,
                        to: Lane::Registry,
                        watch: false,
                    },
                ),
                step(
                    "n1",
                    "receives watch event @7: delete resources/r1",
                    false,
                    Mark::Message {
                        from: Lane::Registry,
                        to: node(0),
                        watch: true,
                    },
                ),
                step(
                    "fault",
                    "keep-alives of n2 stop getting through",
                    true,
                    Mark::On {
                        lane: node(1),
                        tag: Tag::Fault,
                    },
                ),
                step(
                    "app n1",
                    "stops accessing r1",
                    false,
                    Mark::On {
                        lane: node(0),
                        tag: Tag::Stop,
                    },
                ),
                step(
                    "registry",
                    "handles Txn(put assignment) from n2: txn succeeded @9",
                    false,
                    Mark::Message {
                        from: node(1),
                        to: Lane::Registry,
                        watch: false,
                    },
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

    #[test]
    fn lanes_go_admin_registry_then_nodes_in_their_order_and_the_spec_alone_has_no_registry() {
        let on = |lane: Lane| {
            step(
                "x",
                "y",
                false,
                Mark::On {
                    lane,
                    tag: Tag::Plain,
                },
            )
        };
        let steps = [on(node(11)), on(Lane::Admin), on(node(1)), on(node(11))];
        let names: Vec<String> = lanes(&steps).iter().map(|l| l.name().to_string()).collect();
        assert_eq!(names, ["admin", "registry", "n2", "n12"]);
        let spec = [on(Lane::Spec), on(Lane::Spec)];
        assert_eq!(lanes(&spec), [Lane::Spec]);
    }
}
