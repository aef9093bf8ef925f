//! The properties, judged as the run goes: safety after every event, each write as it is
//! made, convergence after healing, liveness at the deadline. The rules are `protocol`'s.

use super::*;

impl<'c> Sim<'c> {
    /// Judge the writes a request made (`before`: the registry's revision before it,
    /// `previous`: its assignment then).
    pub(super) fn judge_writes(
        &mut self,
        client: &protocol::NodeId,
        before: u64,
        previous: Option<protocol::Assignment>,
    ) {
        let events: Vec<WatchEvent> = self.registry.history_since(before).cloned().collect();
        for w in assignment_writes(&self.registry, client, previous, &events) {
            // The interval is measured on node clocks, which may run fast by up to ρ.
            let t = &self.config.timing;
            let interval = t.drift_floor(t.min_rebalance_interval);
            let timing = WriteTiming {
                previous: self.last_write,
                now: Time(self.now),
                interval,
            };
            for (property, why) in judge_write(&w, Some(timing)) {
                self.violate(property.name(), why);
            }
            self.last_write = Some(timing.now);
        }
        if let Some(step) = self.current.as_mut() {
            step.registry.extend(events);
        }
    }

    pub(super) fn world(&self) -> World<'_> {
        World {
            registry: &self.registry,
            processes: &self.processes,
        }
    }

    pub(super) fn check_safety(&mut self) {
        if let Err(why) = no_double_access(&self.world()) {
            self.violate(Property::NoDoubleAccess.name(), why);
        }
        if let Err(why) = access_holds_barrier(&self.world()) {
            self.violate(Property::AccessHoldsBarrier.name(), why);
        }
    }

    pub(super) fn check_convergence(&mut self) {
        let world = self.world();
        if all_resources_accessed(&world) && rebalance_completes(&world) {
            self.converged_at = Some(self.now);
            self.done = true;
        }
    }

    pub(super) fn liveness_failed(&mut self) {
        let bound = self.config.liveness_bound();
        let stuck = self.describe_state();
        let world = self.world();
        let failed: Vec<Property> = [
            (
                Property::AllResourcesAccessed,
                all_resources_accessed(&world),
            ),
            (Property::RebalanceCompletes, rebalance_completes(&world)),
        ]
        .into_iter()
        .filter(|(_, holds)| !holds)
        .map(|(p, _)| p)
        .collect();
        for p in failed {
            self.violate(
                p.name(),
                format!(
                    "not reached within {bound} ms of healing at {} ms; stuck state:\n{stuck}",
                    self.config.duration
                ),
            );
        }
    }

    /// Record a property's first violation.
    pub(super) fn violate(&mut self, property: &str, detail: String) {
        if self.violations.iter().any(|v| v.property == property) {
            return;
        }
        if let Some(step) = self.current.as_mut() {
            step.violations.push(format!("{property}: {detail}"));
        }
        if self.config.stop_at.as_deref() == Some(property) {
            self.stopped = true;
        }
        self.violations.push(Violation {
            property: property.to_string(),
            time_ms: self.now,
            step: self.step,
            detail,
            assumption_breached: !self.breaches.is_empty(),
            breaches: self.breaches.clone(),
            faults: self.coverage.total(),
        });
    }
}
