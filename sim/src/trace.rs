//! The run's event log: a hash over every processed event, serialized, and (on request) the
//! readable and NDJSON traces.

use protocol::registry::WatchEvent;
use serde::Serialize;
use std::hash::Hasher;

/// FNV-1a over the postcard encoding of each processed event: cheap, stable across platforms,
/// and any divergence in the event stream changes it.
#[derive(Default)]
pub struct TraceHash(fnv::FnvHasher);

struct Sink<'a>(&'a mut fnv::FnvHasher);

impl Extend<u8> for Sink<'_> {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
        for b in bytes {
            self.0.write_u8(b);
        }
    }
}

impl TraceHash {
    /// Fold one serializable record in.
    pub fn record(&mut self, record: &impl Serialize) {
        // Serializing plain data into a sink cannot fail.
        let _ = postcard::to_extend(record, Sink(&mut self.0));
    }

    /// The hash so far.
    pub fn value(&self) -> u64 {
        self.0.finish()
    }
}

/// A node as the trace shows it after a step.
#[derive(Clone, Debug, Serialize)]
pub struct NodeState {
    /// Its name.
    pub node: String,
    /// Process running (not crashed).
    pub up: bool,
    /// Process frozen.
    pub paused: bool,
    /// `Idle`, `Joining`, `Member`, `Leaving`, `Left`.
    pub phase: String,
    /// Its lease.
    pub lease: Option<u64>,
    /// The term it leads in.
    pub term: Option<u64>,
    /// The revision its view reflects.
    pub view_rev: u64,
    /// The (term, epoch) it has fully applied.
    pub applied: Option<(u64, u64)>,
    /// What it does with each resource (`Acquiring`, `Running(L3)`...).
    pub resources: Vec<(String, String)>,
    /// What its application accesses.
    pub accessing: Vec<String>,
}

/// One processed event, for `--trace` and `--trace-json`.
#[derive(Clone, Debug, Serialize)]
pub struct TraceStep {
    /// Its number, from 0.
    pub step: u64,
    /// Simulated time, ms.
    pub time_ms: u64,
    /// The kind of event (`reply`, `timer`, `fault`...).
    pub event: &'static str,
    /// The node it concerns.
    pub node: Option<String>,
    /// What kind of step it is, typed: who sends what to whom. A reader that draws a run (the
    /// report's sequence diagrams) reads this, never `detail`.
    pub flow: Flow,
    /// What happened, readably.
    pub detail: String,
    /// What the node asked for in return, readably.
    pub outputs: Vec<String>,
    /// Registry revisions committed in this step.
    pub registry: Vec<WatchEvent>,
    /// The node after the step.
    pub state: Option<NodeState>,
    /// Properties first violated in this step.
    pub violations: Vec<String>,
    /// The step for the TLA+ trace validation: its spec actions and the state after them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<crate::spec_step::SpecStep>,
}

/// What kind of step a [`TraceStep`] is, as a diagram draws it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Flow {
    /// The node's request reaches the registry.
    Request {
        /// A keep-alive (traffic a reader may leave out).
        keep_alive: bool,
    },
    /// The outcome of the node's request reaches it: a reply, or UNKNOWN when it times out.
    Outcome {
        /// Of a keep-alive.
        keep_alive: bool,
    },
    /// A watch event reaches the node, or it learns that its stream broke.
    Watch,
    /// A timer of the node fires.
    Timer {
        /// The keep-alive timer.
        keep_alive: bool,
    },
    /// The node's application starts (`start`) or stops accessing `resource`.
    App {
        /// The resource.
        resource: String,
        /// Starts rather than stops.
        start: bool,
    },
    /// The administrator adds or removes a resource.
    Admin,
    /// A fault strikes these nodes (none: the registry, or every link).
    Fault {
        /// Their names.
        nodes: Vec<String>,
    },
    /// The registry's own steps (lease expiry), the run's phases, restarts and resumes.
    #[default]
    Other,
}

impl Flow {
    /// Keep-alive traffic: what keeps a lease alive and changes nothing else.
    pub fn keep_alive(&self) -> bool {
        matches!(
            self,
            Flow::Request { keep_alive: true }
                | Flow::Outcome { keep_alive: true }
                | Flow::Timer { keep_alive: true }
        )
    }
}

impl TraceStep {
    /// One readable line (plus continuation lines for the outputs).
    pub fn line(&self) -> String {
        let who = self.node.as_deref().unwrap_or("--");
        let mut s = format!(
            "{:>6} {:>10.3}s {who:<3} {}",
            self.step,
            self.time_ms as f64 / 1000.0,
            self.detail
        );
        if !self.outputs.is_empty() {
            s.push_str("  =>  ");
            s.push_str(&self.outputs.join("; "));
        }
        for e in &self.registry {
            s.push_str(&format!("\n{:>20} registry {e}", ""));
        }
        for v in &self.violations {
            s.push_str(&format!("\n{:>20} VIOLATION {v}", ""));
        }
        s
    }
}
