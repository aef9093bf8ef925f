//! Trace validation: simulator traces (`replay --trace-json`, `sim --trace-json`) become a TLA+
//! module (`TraceData`), and TLC checks with `spec/RebalanserTrace.tla` that each is a
//! behaviour of the spec. The simulator records every event's spec actions and a snapshot of the
//! state after them as typed data (`sim::SpecStep`); here they are read in the spec's variables
//! ([`crate::spec`]) and rendered.

use crate::spec;
use crate::tlc::{self, TlcJob};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sim::SpecStep;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One run's trace in the spec's terms.
#[derive(Debug)]
pub struct SpecTrace {
    /// Where it came from.
    pub file: PathBuf,
    /// The state after every node asked to join.
    obs0: Json,
    /// The registry at the start.
    reg0: Json,
    /// Every spec action, with the simulator step it belongs to.
    acts: Vec<(u64, Json)>,
    /// After each action: the state the spec must be in (after an event's last action).
    obs: Vec<Option<Json>>,
    nodes: BTreeSet<String>,
    resources: BTreeSet<String>,
}

impl SpecTrace {
    /// Spec actions in the trace.
    pub fn actions(&self) -> usize {
        self.acts.len()
    }

    /// The simulator step and the action at 0-based action index `k`.
    pub fn action_at(&self, k: usize) -> Option<(u64, &Json)> {
        self.acts.get(k).map(|(s, a)| (*s, a))
    }
}

fn bad(file: &Path, line: usize, what: impl std::fmt::Display) -> String {
    format!("{}: line {line}: {what}", file.display())
}

/// Read an NDJSON trace. Errors name the file, the line and what is wrong.
pub fn load(file: &Path) -> Result<SpecTrace, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut obs0 = None;
    let mut acts = Vec::new();
    let mut obs = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let line_no = k + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: Json = serde_json::from_str(line)
            .map_err(|e| bad(file, line_no, format!("not JSON ({e})")))?;
        let step = v
            .get("step")
            .and_then(Json::as_u64)
            .ok_or_else(|| bad(file, line_no, "no \"step\" number: not a simulator trace"))?;
        let Some(spec) = v.get("spec") else {
            continue;
        };
        let spec: SpecStep = serde_json::from_value(spec.clone())
            .map_err(|e| bad(file, line_no, format!("\"spec\" is not a spec step ({e})")))?;
        let state = spec::observed(&spec.state);
        let actions: Vec<Json> = spec.actions.iter().flat_map(spec::actions).collect();
        if obs0.is_some() && actions.is_empty() {
            continue; // nothing the spec has (an orphan keep-alive)
        }
        if obs0.is_none() {
            if !actions.is_empty() {
                return Err(bad(file, line_no, "the first spec step must be the start"));
            }
            obs0 = Some(state.clone());
            continue;
        }
        let last = actions.len() - 1;
        for (j, a) in actions.into_iter().enumerate() {
            acts.push((step, a));
            obs.push((j == last).then(|| state.clone()));
        }
    }
    let obs0 = obs0.ok_or_else(|| {
        format!(
            "{}: no spec states: write traces with `rebalanser replay --trace-json` or \
             `sim --seed N --trace-json` of this version",
            file.display()
        )
    })?;
    let reg0 = obs0["reg"].clone();
    let keys = |v: &Json| -> BTreeSet<String> {
        v.get("$fn")
            .and_then(Json::as_array)
            .map(|pairs| {
                pairs
                    .iter()
                    .filter_map(|p| p.get(0).and_then(Json::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let nodes = keys(&obs0["nd"]);
    let resources = keys(&reg0["bar"]);
    if nodes.is_empty() {
        return Err(bad(file, 1, "the start state has no nodes"));
    }
    Ok(SpecTrace {
        file: file.to_path_buf(),
        obs0,
        reg0,
        acts,
        obs,
        nodes,
        resources,
    })
}

/// A JSON value of the simulator's encoding as a TLA+ expression.
fn tla(v: &Json, out: &mut String) -> Result<(), String> {
    match v {
        Json::Null => out.push_str("NONE"),
        Json::Bool(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        Json::Number(n) => {
            let n = n
                .as_u64()
                .ok_or_else(|| format!("{n}: only natural numbers occur in the spec"))?;
            let _ = write!(out, "{n}");
        }
        Json::String(s) => {
            if s.contains(['"', '\\', '\n']) {
                return Err(format!("{s:?}: not a name the spec uses"));
            }
            let _ = write!(out, "\"{s}\"");
        }
        Json::Array(items) => {
            out.push_str("<<");
            list(items, out)?;
            out.push_str(">>");
        }
        Json::Object(map) => {
            if let Some(items) = map.get("$set") {
                let items = items.as_array().ok_or("\"$set\" must be a list")?;
                out.push('{');
                list(items, out)?;
                out.push('}');
            } else if let Some(pairs) = map.get("$fn") {
                let pairs = pairs.as_array().ok_or("\"$fn\" must be a list")?;
                if pairs.is_empty() {
                    out.push_str("[x \\in {} |-> NONE]");
                    return Ok(());
                }
                out.push('(');
                for (k, p) in pairs.iter().enumerate() {
                    let [key, value] = p.as_array().map(Vec::as_slice).unwrap_or_default() else {
                        return Err("\"$fn\" holds [key, value] pairs".to_string());
                    };
                    if k > 0 {
                        out.push_str(" @@ ");
                    }
                    tla(key, out)?;
                    out.push_str(" :> ");
                    tla(value, out)?;
                }
                out.push(')');
            } else {
                out.push('[');
                for (k, (name, value)) in map.iter().enumerate() {
                    if !name.chars().all(|c| c.is_ascii_alphanumeric()) || name.is_empty() {
                        return Err(format!("{name:?}: not a record field"));
                    }
                    if k > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{name} |-> ");
                    tla(value, out)?;
                }
                out.push(']');
            }
        }
    }
    Ok(())
}

fn list(items: &[Json], out: &mut String) -> Result<(), String> {
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        tla(item, out)?;
    }
    Ok(())
}

fn names(set: &BTreeSet<String>) -> String {
    let quoted: Vec<String> = set.iter().map(|s| format!("\"{s}\"")).collect();
    format!("{{{}}}", quoted.join(", "))
}

/// `Err` unless there are traces and they share nodes and resources (one module can hold them).
pub fn same_configuration(traces: &[SpecTrace]) -> Result<(), String> {
    let first = traces.first().ok_or("no traces to validate")?;
    for t in traces {
        if t.nodes != first.nodes || t.resources != first.resources {
            return Err(format!(
                "{}: its nodes and resources differ from {}'s; validate runs of one \
                 configuration together",
                t.file.display(),
                first.file.display()
            ));
        }
    }
    Ok(())
}

/// The `TraceData` module holding `traces` (which must share nodes and resources).
pub fn module(traces: &[SpecTrace]) -> Result<String, String> {
    same_configuration(traces)?;
    let first = &traces[0];
    let initial: BTreeSet<String> = first.reg0["res"]["$set"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect();
    let mut out = String::new();
    out.push_str("---- MODULE TraceData ----\nEXTENDS Rebalanser, TLC\n");
    let _ = writeln!(out, "TraceNodes == {}", names(&first.nodes));
    let _ = writeln!(out, "TraceRes == {}", names(&first.resources));
    let _ = writeln!(out, "TraceInitialRes == {}", names(&initial));
    out.push_str("T == <<\n");
    for (k, t) in traces.iter().enumerate() {
        let err = |e: String| format!("{}: {e}", t.file.display());
        if k > 0 {
            out.push_str(",\n");
        }
        // The registry as the spec keeps it: the lease counter and watchers start empty.
        let mut reg0 = t.reg0.clone();
        reg0["next"] = serde_json::json!(1);
        reg0["watchers"] = serde_json::json!({ "$set": [] });
        out.push_str("[reg0 |-> ");
        tla(&reg0, &mut out).map_err(err)?;
        out.push_str(",\n obs0 |-> ");
        tla(&t.obs0, &mut out).map_err(err)?;
        out.push_str(",\n acts |-> <<");
        for (j, (_, a)) in t.acts.iter().enumerate() {
            if j > 0 {
                out.push_str(",\n  ");
            }
            tla(a, &mut out).map_err(err)?;
        }
        out.push_str(">>,\n obs |-> <<");
        for (j, o) in t.obs.iter().enumerate() {
            if j > 0 {
                out.push_str(",\n  ");
            }
            match o {
                Some(o) => tla(o, &mut out).map_err(err)?,
                None => out.push_str("NONE"),
            }
        }
        out.push_str(">>]");
    }
    out.push_str("\n>>\n====\n");
    Ok(out)
}

/// The TLC configuration for validating traces: the clean spec, under the timing assumption,
/// with the minimum rebalance interval, unbounded faults, and every choice open.
pub const CONFIG: &str = "\\* Trace validation (rebalanser tla --validate-trace).
CONSTANTS
    Nodes <- TraceNodes
    Res <- TraceRes
    InitialRes <- TraceInitialRes
    Start = \"joining\"
    Mutant = \"none\"
    TimingAssumption = TRUE
    Hold = TRUE
    MaxCrashes = 1000000
    MaxRpcFaults = 1000000
    MaxExpiries = 1000000
    MaxAdmin = 1000000
    MaxMembership = 1000000
    MaxLate = 1000000
    MaxWatchBreaks = 1000000
    NONE = NONE
    Pick <- AllOf
INIT TraceInit
NEXT TraceNext
";

/// SANY's parsing grows faster than the module: TLC checks the traces in runs of at most this
/// many actions (a 20 s fault-heavy trace has a few hundred).
const BATCH_ACTIONS: usize = 2_500;

/// Consecutive traces, in runs of at most [`BATCH_ACTIONS`] actions (a longer trace alone).
fn batches(traces: &[SpecTrace]) -> Vec<&[SpecTrace]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut actions = 0;
    for (k, t) in traces.iter().enumerate() {
        if k > start && actions + t.actions() > BATCH_ACTIONS {
            out.push(&traces[start..k]);
            start = k;
            actions = 0;
        }
        actions += t.actions();
    }
    out.push(&traces[start..]);
    out
}

/// Where TLC's depth `depth` (states on the longest path) leaves the traces: the trace and the
/// 0-based index of the first action it could not take (`None`: it stopped at a run's start).
pub fn locate(traces: &[SpecTrace], depth: u64) -> (usize, Option<usize>) {
    // The path: the first start, each action, one step into each next run.
    let mut left = depth.saturating_sub(1) as usize;
    for (k, t) in traces.iter().enumerate() {
        if left < t.acts.len() {
            return (k, Some(left));
        }
        left -= t.acts.len();
        if k + 1 < traces.len() {
            if left == 0 {
                return (k + 1, None);
            }
            left -= 1;
        }
    }
    (traces.len() - 1, None)
}

/// The JSON layout of trace validation results.
pub const SCHEMA_VERSION: u32 = 1;

/// A trace validation's outcome.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ValidationReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `tla --validate-trace`.
    pub command: String,
    /// `accepted` or `rejected`.
    pub verdict: String,
    /// The traces validated, in order.
    pub traces: Vec<TraceFigures>,
    /// Where the spec could not follow.
    pub rejection: Option<Rejection>,
    /// States TLC explored (every option at a choice, the logged one and the others).
    pub distinct_states: u64,
    /// Seconds of the TLC runs in all.
    pub seconds: f64,
}

impl ValidationReport {
    /// Whether the spec took every trace.
    pub fn accepted(&self) -> bool {
        self.rejection.is_none()
    }
}

/// One validated trace.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct TraceFigures {
    /// The trace's file.
    pub file: String,
    /// Its spec actions.
    pub actions: usize,
}

/// Where the spec could not follow a trace.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Rejection {
    /// The trace's file.
    pub file: String,
    /// The simulator step (`step` in the NDJSON) whose actions the spec could not take.
    pub step: Option<u64>,
    /// The action, as logged.
    pub action: Option<Json>,
    /// Its index among the trace's actions, from 0.
    pub index: Option<usize>,
}

/// Have TLC check that each of `traces` is a behaviour of the spec in `dir` (the spec folder,
/// [`tlc::spec_dir`]), in runs of at most [`BATCH_ACTIONS`] actions, saying on standard error
/// how far it is. `Err` if the traces do not share a configuration or TLC cannot run.
pub fn validate(
    dir: &Path,
    traces: &[SpecTrace],
    workers: u16,
) -> Result<ValidationReport, String> {
    same_configuration(traces)?;
    let spec_path = dir.join(tlc::SPEC);
    let spec =
        std::fs::read_to_string(&spec_path).map_err(|e| format!("{}: {e}", spec_path.display()))?;
    let total: usize = traces.iter().map(SpecTrace::actions).sum();
    let batches = batches(traces);
    eprintln!(
        "TLC validates {} trace(s), {total} spec actions in all, in {} run(s)",
        traces.len(),
        batches.len()
    );
    let mut states = 0;
    let mut seconds = 0.0;
    let mut rejection = None;
    for (k, batch) in batches.iter().enumerate() {
        let job = TlcJob {
            label: format!("trace-validation-{}", k + 1),
            module: "RebalanserTrace.tla".to_string(),
            files: vec![
                (tlc::SPEC.to_string(), spec.clone()),
                ("TraceData.tla".to_string(), module(batch)?),
            ],
            cfg: CONFIG.to_string(),
            workers,
        };
        let report = tlc::run_tlc(dir, &job)?;
        states += report.distinct_states();
        seconds += report.seconds();
        // Every state on the one path matched its logged state: the depth says how far it got.
        let actions: usize = batch.iter().map(SpecTrace::actions).sum();
        let full = 1 + actions as u64 + batch.len() as u64 - 1;
        eprintln!(
            "  run {}/{}: {} trace(s), {actions} actions, {:.1} s",
            k + 1,
            batches.len(),
            batch.len(),
            report.seconds()
        );
        if report.violated_property().is_none() && report.depth() == full {
            continue;
        }
        let (t, index) = locate(batch, report.depth());
        let t = &batch[t];
        let at = index.and_then(|j| t.action_at(j));
        rejection = Some(Rejection {
            file: t.file.display().to_string(),
            step: at.map(|(s, _)| s),
            action: at.map(|(_, a)| a.clone()),
            index,
        });
        break;
    }
    Ok(ValidationReport {
        schema_version: SCHEMA_VERSION,
        command: "tla --validate-trace".to_string(),
        verdict: if rejection.is_none() {
            "accepted"
        } else {
            "rejected"
        }
        .to_string(),
        traces: traces
            .iter()
            .map(|t| TraceFigures {
                file: t.file.display().to_string(),
                actions: t.actions(),
            })
            .collect(),
        rejection,
        distinct_states: states,
        seconds,
    })
}

/// The validation in words.
pub fn render(r: &ValidationReport) -> String {
    let mut out = String::new();
    let total: usize = r.traces.iter().map(|t| t.actions).sum();
    let _ = writeln!(
        out,
        "\nTLC, trace validation: {} trace(s), {total} actions; {} distinct states; {:.1} s",
        r.traces.len(),
        r.distinct_states,
        r.seconds
    );
    match &r.rejection {
        None => {
            let _ = writeln!(out, "verdict: every trace is a behaviour of the spec");
        }
        Some(r) => {
            let _ = writeln!(out, "\nREJECTED: {}", r.file);
            let _ = match (&r.step, &r.action, r.index) {
                (Some(step), Some(action), Some(index)) => writeln!(
                    out,
                    "  the spec cannot take action {index} ({action}) of simulator step {step}, \
                     or not into the logged state (see that step with `replay --trace`)"
                ),
                _ => writeln!(out, "  the spec cannot start from the trace's first state"),
            };
            let _ = writeln!(out, "\nverdict: REJECTED");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(file: &str, actions: usize) -> SpecTrace {
        SpecTrace {
            file: PathBuf::from(file),
            obs0: Json::Null,
            reg0: Json::Null,
            acts: (0..actions as u64)
                .map(|k| (k, serde_json::json!({"a": "Step"})))
                .collect(),
            obs: vec![None; actions],
            nodes: BTreeSet::from(["n1".to_string()]),
            resources: BTreeSet::new(),
        }
    }

    #[test]
    fn traces_are_batched_and_a_depth_is_located_in_them() {
        let traces = [
            trace("a", 3),
            trace("b", BATCH_ACTIONS - 3),
            trace("c", 2),
            trace("d", BATCH_ACTIONS + 1),
        ];
        let sizes: Vec<usize> = batches(&traces).iter().map(|b| b.len()).collect();
        assert_eq!(
            sizes,
            [2, 1, 1],
            "runs of at most BATCH_ACTIONS, a longer trace alone"
        );
        let two = &traces[..1];
        // Depth 1 is the start; each action one more.
        assert_eq!(locate(two, 1), (0, Some(0)));
        assert_eq!(locate(two, 3), (0, Some(2)));
        let ab = [trace("a", 2), trace("b", 2)];
        // After a's two actions, one step into b's start.
        assert_eq!(locate(&ab, 3), (1, None));
        assert_eq!(locate(&ab, 4), (1, Some(0)));
    }

    /// Other rooms read validation results back typed: the JSON goes both ways unchanged.
    #[test]
    fn a_validation_reads_back_from_its_json() {
        let r = ValidationReport {
            schema_version: SCHEMA_VERSION,
            command: "tla --validate-trace".into(),
            verdict: "rejected".into(),
            traces: vec![TraceFigures {
                file: "seed-3.ndjson".into(),
                actions: 40,
            }],
            rejection: Some(Rejection {
                file: "seed-3.ndjson".into(),
                step: Some(17),
                action: Some(serde_json::json!({"a": "Grant", "n": "n1"})),
                index: Some(12),
            }),
            distinct_states: 99,
            seconds: 2.5,
        };
        assert!(!r.accepted());
        let json = serde_json::to_value(&r).unwrap();
        let back: ValidationReport = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        assert!(render(&back).contains("action 12"));
    }
}
