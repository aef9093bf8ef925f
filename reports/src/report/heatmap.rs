//! The simulator's fault coverage as a heat map in SVG: the eight failure steps of a
//! request/reply × the registry's operation kinds, shaded by how often each was injected (a
//! cell never hit stands out), and the environment faults beside it.

use super::markup::escape;
use sim::coverage::CoverageReport;
use std::fmt::Write as _;

const CELL_W: i32 = 86;
const CELL_H: i32 = 26;
const LEFT: i32 = 190;
const TOP: i32 = 40;

/// A shade from pale to deep for `n` of at most `max` (log scale); grey for none.
fn shade(n: u64, max: u64) -> String {
    if n == 0 {
        return "#d9d9d9".into();
    }
    let t = ((n as f64).ln_1p() / (max.max(1) as f64).ln_1p()).clamp(0.0, 1.0);
    // From #e8f1fb to #08519c.
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(232.0, 8.0),
        mix(241.0, 81.0),
        mix(251.0, 156.0)
    )
}

/// The heat map of `c`.
pub fn svg(c: &CoverageReport) -> String {
    let steps: Vec<&str> = protocol::FailureStep::ALL
        .iter()
        .map(|s| s.name())
        .collect();
    let mut ops: Vec<&String> = c.rpc.values().flat_map(|row| row.keys()).collect();
    ops.sort();
    ops.dedup();
    let max = c
        .rpc
        .values()
        .flat_map(|r| r.values())
        .copied()
        .max()
        .unwrap_or(0);
    let env_max = c.environment.values().copied().max().unwrap_or(0);
    let grid_w = LEFT + ops.len() as i32 * CELL_W;
    let env_x = grid_w + 40;
    let width = env_x + 330;
    let rows = steps.len().max(c.environment.len()) as i32;
    let height = TOP + rows * CELL_H + 20;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"fault coverage heat map\">\
         <text class=\"axis\" x=\"{LEFT}\" y=\"14\">request/reply failures injected, by step × operation</text>"
    );
    for (j, op) in ops.iter().enumerate() {
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            LEFT + j as i32 * CELL_W + CELL_W / 2,
            TOP - 8,
            escape(op)
        );
    }
    for (i, step) in steps.iter().enumerate() {
        let y = TOP + i as i32 * CELL_H;
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{step}</text>",
            LEFT - 8,
            y + CELL_H / 2 + 4
        );
        for (j, op) in ops.iter().enumerate() {
            let n = c
                .rpc
                .get(*step)
                .and_then(|r| r.get(*op))
                .copied()
                .unwrap_or(0);
            let x = LEFT + j as i32 * CELL_W;
            let fill = shade(n, max);
            let ink = if n > 0 && (n as f64).ln_1p() / (max.max(1) as f64).ln_1p() > 0.55 {
                "#ffffff"
            } else {
                "#1b1b1b"
            };
            let _ = write!(
                out,
                "<rect class=\"cell\" x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"{fill}\">\
                 <title>{step} × {}: {n}</title></rect>\
                 <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{ink}\">{n}</text>",
                CELL_W - 2,
                CELL_H - 2,
                escape(op),
                x + CELL_W / 2,
                y + CELL_H / 2 + 4
            );
        }
    }
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"{env_x}\" y=\"14\">environment faults injected</text>"
    );
    for (i, (fault, n)) in c.environment.iter().enumerate() {
        let y = TOP + i as i32 * CELL_H;
        let w = if env_max == 0 {
            0
        } else {
            (*n as f64 / env_max as f64 * 160.0).round() as i32
        };
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{w}\" height=\"{}\"/>\
             <text x=\"{}\" y=\"{}\">{n}</text>",
            env_x + 120,
            y + CELL_H / 2 + 4,
            escape(fault),
            env_x + 128,
            y + 4,
            CELL_H - 8,
            env_x + 134 + w,
            y + CELL_H / 2 + 4
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_a_row_and_unhit_cells_stand_out() {
        let mut c = CoverageReport {
            rpc: Default::default(),
            environment: Default::default(),
            assumption_breaches: 0,
        };
        c.rpc
            .entry("POST_REQUEST".into())
            .or_default()
            .insert("txn".into(), 40);
        c.rpc
            .entry("POST_REPLY".into())
            .or_default()
            .insert("grant".into(), 0);
        c.environment.insert("crash".into(), 3);
        let svg = svg(&c);
        for step in protocol::FailureStep::ALL {
            assert!(
                svg.contains(&format!(">{}<", step.name())),
                "{}",
                step.name()
            );
        }
        assert!(svg.contains("#d9d9d9"), "a never-hit cell is grey");
        assert!(svg.contains("POST_REQUEST × txn: 40"));
        assert!(svg.contains(">crash<"));
        assert_eq!(shade(10, 10), "#08519c");
    }
}
