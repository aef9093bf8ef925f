//! What a run (or a sweep) injected: each of the eight failure steps per registry operation,
//! and each environment fault.

use crate::fault::FaultKind;
use protocol::FailureStep;
use protocol::Request;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Registry operation kinds, as coverage counts them.
pub const OPS: [&str; 6] = ["grant", "keep-alive", "revoke", "txn", "range", "watch"];

/// The operation kind of a request, an index into [`OPS`].
pub fn op_of(request: &Request) -> usize {
    match request {
        Request::Grant { .. } => 0,
        Request::KeepAlive { .. } => 1,
        Request::Revoke { .. } => 2,
        Request::Txn(_) => 3,
        Request::Range => 4,
        Request::Watch { .. } => 5,
    }
}

/// Fault counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// `[step][op]`: requests that failed at a step, by operation kind.
    pub rpc: [[u64; 6]; 8],
    /// Per [`FaultKind::index`]: occurrences of each fault (the eight steps included).
    pub faults: [u64; FaultKind::ALL.len()],
    /// Faults outside the timing envelope.
    pub breaches: u64,
}

impl Coverage {
    /// Count a failure of `step` on `request`.
    pub fn rpc(&mut self, step: FailureStep, request: &Request) {
        self.rpc[step as usize][op_of(request)] += 1;
        self.fault(FaultKind::Rpc(step));
    }

    /// Count one fault.
    pub fn fault(&mut self, kind: FaultKind) {
        self.faults[kind.index()] += 1;
    }

    /// Add another run's counts.
    pub fn add(&mut self, other: &Coverage) {
        for (a, b) in self.rpc.iter_mut().zip(&other.rpc) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (a, b) in self.faults.iter_mut().zip(&other.faults) {
            *a += b;
        }
        self.breaches += other.breaches;
    }

    /// Every fault injected, the eight steps included.
    pub fn total(&self) -> u64 {
        self.faults.iter().sum()
    }

    /// The eight steps that were never injected.
    pub fn missing_steps(&self) -> Vec<FailureStep> {
        FailureStep::ALL
            .into_iter()
            .filter(|s| self.rpc[*s as usize].iter().all(|n| *n == 0))
            .collect()
    }

    /// The counts by name, for JSON and the summary.
    pub fn report(&self) -> CoverageReport {
        let rpc = FailureStep::ALL
            .iter()
            .map(|s| {
                let by_op = OPS
                    .iter()
                    .zip(self.rpc[*s as usize])
                    .map(|(op, n)| (op.to_string(), n))
                    .collect();
                (s.name().to_string(), by_op)
            })
            .collect();
        let environment = FaultKind::ALL
            .iter()
            .filter(|k| !matches!(k, FaultKind::Rpc(_)))
            .map(|k| (k.name().to_string(), self.faults[k.index()]))
            .collect();
        CoverageReport {
            rpc,
            environment,
            assumption_breaches: self.breaches,
        }
    }
}

/// [`Coverage`] by name.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CoverageReport {
    /// Per failure step (`POST_REQUEST`...), per operation kind: how often it was injected.
    pub rpc: BTreeMap<String, BTreeMap<String, u64>>,
    /// Per environment fault: how often it was injected (for `delay`, `duplicate` and
    /// `reorder`: messages delayed, duplicated, delivered out of order; for `clock-drift`:
    /// nodes with a drifting clock).
    pub environment: BTreeMap<String, u64>,
    /// Faults outside the timing envelope (only with `--breach-assumptions`).
    pub assumption_breaches: u64,
}
