//! Healing puts every node in the group: a node whose graceful leave is still under way when the
//! fault phase ends joins again once it has left, so the group converges however the faults end.

use sim::config::Fault;
use sim::schedule::{Action, Planned};
use sim::{run, FaultKind, FaultPlan, RunOptions, SimConfig};

#[test]
fn a_node_leaving_when_the_faults_end_joins_again() {
    for nodes in [1, 2] {
        let duration = 5_000;
        // Every node starts to leave just before the heal: its stop takes longer than that.
        let script = (0..nodes)
            .map(|node| {
                Fault::Scheduled(Planned {
                    at: duration - 5,
                    kind: FaultKind::Membership,
                    ordinal: node as u32,
                    action: Action::Membership { node },
                })
            })
            .collect();
        let config = SimConfig {
            nodes,
            resources: 2,
            duration,
            faults: FaultPlan::of([FaultKind::Membership]),
            script: Some(script),
            ..SimConfig::default()
        };
        let r = run(&config, 7, RunOptions { trace: true });
        let left = r
            .trace
            .iter()
            .filter(|s| s.outputs.iter().any(|o| o.contains("left")))
            .count();
        assert!(
            left >= nodes,
            "{nodes} node(s): the scripted leaves did not happen"
        );
        assert!(
            r.violations.is_empty(),
            "{nodes} node(s): {:?}",
            r.violations.iter().map(|v| &v.detail).collect::<Vec<_>>()
        );
        assert!(r.converged_at.is_some(), "{nodes} node(s): no convergence");
    }
}
