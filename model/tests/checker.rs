//! The model checker proves it finds real bugs: every mutant is killed on its configuration,
//! the timing assumption is shown necessary, the clean protocol passes on the mutants'
//! configurations, and a portfolio run is judged complete only when it is (the clean
//! portfolio's own run is the cross-check's, in `tests/tla.rs`).

use model::check::{self, CheckOptions, CheckReport, Status};
use model::mutants::{config_for, timed_breach_config, timing_breach_config};
use model::portfolio;
use model::{ModelConfig, Start};
use protocol::Mutant;

fn run(config: &ModelConfig) -> CheckReport {
    check::run(config, &CheckOptions::quiet(true))
}

fn run_safety(config: &ModelConfig) -> CheckReport {
    check::run(config, &CheckOptions::quiet(false))
}

fn status(r: &CheckReport, name: &str) -> Status {
    r.properties
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no property {name}"))
        .status
}

fn trace_of(r: &CheckReport, name: &str) -> model::trace::Trace {
    r.properties
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.trace.clone())
        .unwrap_or_else(|| panic!("{name} has no counterexample"))
}

fn assert_killed(m: Mutant) {
    let c = config_for(m);
    let r = if m.breaks().kind() == protocol::properties::Kind::Eventually {
        run(&c)
    } else {
        run_safety(&c)
    };
    assert_eq!(
        status(&r, m.breaks().name()),
        Status::Violated,
        "{} ({}) survived: {:?}",
        m.name(),
        m.code(),
        r.properties
    );
    assert!(!trace_of(&r, m.breaks().name()).steps.is_empty());
}

#[test]
fn m1_remove_resource_clears_barrier_is_killed() {
    assert_killed(Mutant::RemoveResourceClearsBarrier);
    // The counterexample: a removal while the barrier is held, then another node starts it.
    let r = run_safety(&config_for(Mutant::RemoveResourceClearsBarrier));
    let t = trace_of(&r, "no_double_access");
    let removal = t
        .steps
        .iter()
        .position(|s| s.actor == "admin" && s.action.starts_with("removes"))
        .expect("an admin removal");
    assert!(t.steps[removal..]
        .iter()
        .any(|s| s.actor.starts_with("app ") && s.action.starts_with("starts accessing")));
}

#[test]
fn m2_start_before_barrier_is_killed() {
    assert_killed(Mutant::StartBeforeBarrier);
}

#[test]
fn m3_release_barrier_before_stop_ack_is_killed() {
    assert_killed(Mutant::ReleaseBarrierBeforeStopAck);
}

#[test]
fn m4_unfenced_assignment_write_is_killed() {
    assert_killed(Mutant::UnfencedAssignmentWrite);
}

#[test]
fn m5_no_self_fence_is_killed() {
    assert_killed(Mutant::NoSelfFence);
}

#[test]
fn m6_unknown_as_failure_is_killed() {
    assert_killed(Mutant::UnknownAsFailure);
}

#[test]
fn m7_imbalanced_allocation_is_killed() {
    assert_killed(Mutant::ImbalancedAllocation);
}

#[test]
fn m8_owner_only_release_is_killed() {
    assert_killed(Mutant::OwnerOnlyRelease);
}

#[test]
fn m11_forgetful_allocation_is_killed() {
    assert_killed(Mutant::ForgetfulAllocation);
}

#[test]
fn m12_ignore_removals_is_killed() {
    assert_killed(Mutant::IgnoreRemovals);
}

/// M12 breaks `rebalance_completes` alone: what runs stays right, only the assignment is stale.
#[test]
fn m12_leaves_every_resource_accessed() {
    let r = run(&config_for(Mutant::IgnoreRemovals));
    assert_eq!(status(&r, "rebalance_completes"), Status::Violated);
    assert_eq!(
        status(&r, "all_resources_accessed"),
        Status::Holds,
        "{:?}",
        r.properties
    );
}

#[test]
fn m9_fence_from_reply_is_killed_in_the_timed_model() {
    assert_killed(Mutant::FenceFromReply);
    // A delayed reply, then the link cut: the late deadline outlives the lease.
    let r = run_safety(&config_for(Mutant::FenceFromReply));
    let t = trace_of(&r, "access_holds_barrier");
    let text: Vec<&str> = t.steps.iter().map(|s| s.action.as_str()).collect();
    assert!(
        text.iter().any(|a| a.contains("delays the reply")),
        "{text:#?}"
    );
    assert!(text.iter().any(|a| a.contains("is cut")), "{text:#?}");
    assert!(
        text.iter().any(|a| a.contains("fence deadline")),
        "{text:#?}"
    );
    // The lease expires as time moves on, not as a budgeted step.
    assert!(
        t.steps.last().unwrap().action.starts_with("time moves on"),
        "{text:#?}"
    );
}

#[test]
fn m10_hold_own_writes_only_is_killed_in_the_timed_model() {
    assert_killed(Mutant::HoldOwnWritesOnly);
    let r = run_safety(&config_for(Mutant::HoldOwnWritesOnly));
    let t = trace_of(&r, "min_interval_respected");
    assert!(t.steps.iter().any(|s| s.action.contains("UNKNOWN")));
    // The untimed model cannot see it: it has no interval to judge.
    let untimed = ModelConfig {
        timed: false,
        ..config_for(Mutant::HoldOwnWritesOnly)
    };
    let r = run_safety(&untimed);
    assert!(!r.violated(), "{:?}", r.properties);
    assert!(r
        .properties
        .iter()
        .all(|p| p.name != "min_interval_respected"));
}

#[test]
fn the_timed_model_judges_the_interval_and_reports_no_liveness() {
    let r = run(&config_for(Mutant::FenceFromReply).clean());
    assert!(!r.violated() && r.figures.exhaustive, "{:?}", r.properties);
    assert_eq!(status(&r, "min_interval_respected"), Status::Holds);
    assert!(r.properties.iter().all(|p| p.kind != "eventually"));
    // Every choice of clock rates is explored: slow, exact and fast.
    let model = model::RebalanceModel::new(config_for(Mutant::FenceFromReply).clean());
    let drifts: std::collections::BTreeSet<i8> = model
        .initial_states()
        .iter()
        .map(|s| s.channels[0].drift)
        .collect();
    assert_eq!(drifts, [-1, 0, 1].into());
}

#[test]
fn in_the_timed_model_without_the_timing_assumption_a_hung_node_double_accesses() {
    let r = run_safety(&timed_breach_config());
    assert_eq!(status(&r, "no_double_access"), Status::Violated);
    let t = trace_of(&r, "no_double_access");
    assert!(t.steps.iter().any(|s| s.action.contains("BREACHING")));
    // And with it on, the same group holds.
    let on = ModelConfig {
        timing_assumption: true,
        expiries: 0,
        ..timed_breach_config()
    };
    assert!(!run_safety(&on).violated());
}

#[test]
fn without_the_timing_assumption_a_paused_node_double_accesses() {
    let r = run_safety(&timing_breach_config());
    assert_eq!(status(&r, "no_double_access"), Status::Violated);
    let t = trace_of(&r, "no_double_access");
    assert!(t.steps.iter().any(|s| s.action.contains("BREACHING")));
}

#[test]
fn the_mutants_configurations_pass_without_the_mutant() {
    for m in Mutant::ALL {
        let mut c = config_for(m);
        c.mutant = None;
        if m == Mutant::RemoveResourceClearsBarrier {
            // Its own configuration (three admin changes) is too large for CI when explored
            // to the end; admin churn is checked clean on a smaller one.
            c.resources = 2;
            c.admin_changes = 2;
        }
        let r = run(&c);
        assert!(
            !r.violated(),
            "clean protocol fails on {}'s config: {:?}",
            m.code(),
            r.properties
        );
        assert!(r.figures.exhaustive);
    }
}

/// The clean portfolio itself runs once in CI, as the cross-check's clean model cell (in
/// `tests/tla.rs`), which holds only if `complete` says so; here each way a run can fall
/// short, on the cheapest entry.
#[test]
fn a_portfolio_run_is_complete_only_if_every_entry_ran_to_the_end_and_decided_every_property() {
    let all = portfolio::entries();
    let first = &all[..1];
    let mut r = portfolio::run(first, None, &CheckOptions::quiet(true), |_, _| {});
    // One entry need not reach every `sometimes`; a whole portfolio must.
    for p in &mut r.properties {
        if p.status == Status::NotReached {
            p.status = Status::Reached;
        }
    }
    assert_eq!(r.complete(first), Ok(()));
    let short = |what: &str, r: &CheckReport, entries: &[portfolio::Entry], needle: &str| {
        let why = r.complete(entries).expect_err(what);
        assert!(why.contains(needle), "{what}: {why}");
    };
    short(
        "entries missing",
        &r,
        &all,
        "ran [lapse-admin], not [lapse-admin, late",
    );
    let mut stopped = r.clone();
    stopped.rows[0].report.figures.exhaustive = false;
    short(
        "a row stopped",
        &stopped,
        first,
        "lapse-admin is not exhaustive",
    );
    let mut violated = r.clone();
    violated.rows[0].report.properties[0].status = Status::Violated;
    let name = violated.rows[0].report.properties[0].name.clone();
    short(
        "a row violated",
        &violated,
        first,
        &format!("{name} is violated"),
    );
    for (status, word) in [
        (Status::NotReached, "never reached"),
        (Status::Unknown, "undecided"),
    ] {
        let mut undecided = r.clone();
        undecided.properties[0].status = status;
        let name = undecided.properties[0].name.clone();
        short(word, &undecided, first, &format!("{name} is {word}"));
    }
}

#[test]
fn the_plain_portfolio_kills_every_mutant() {
    // `rebalanser check --mutant NAME` with no other flag: no configuration tailored to it.
    for m in Mutant::ALL {
        let r = portfolio::run(
            &portfolio::entries(),
            Some(m),
            &CheckOptions::quiet(true),
            |_, _| {},
        );
        assert!(r.violated(), "{} survives the portfolio", m.code());
        let last = r.rows.last().expect("a row ran");
        assert!(
            last.report.violated(),
            "{}: the run stops at the killing row",
            m.code()
        );
    }
}

#[test]
fn the_portfolio_covers_every_fault_class() {
    let all = portfolio::entries();
    let c = |f: fn(&ModelConfig) -> u8| all.iter().any(|e| f(&e.config) > 0);
    assert!(c(|c| c.crashes));
    assert!(c(|c| c.rpc_faults));
    assert!(c(|c| c.expiries));
    assert!(c(|c| c.admin_changes));
    assert!(c(|c| c.membership_changes));
    assert!(c(|c| c.watch_breaks));
    assert!(c(|c| c.late));
    assert!(c(|c| c.duplicates));
    assert!(all.iter().any(|e| e.config == ModelConfig::default()));
    assert!(portfolio::find("nosuch").unwrap_err().contains("nosuch"));
}

#[test]
fn a_late_or_duplicated_release_is_found_under_the_owner_only_mutant() {
    for (late, duplicates) in [(1, 0), (0, 1)] {
        let c = ModelConfig {
            late,
            duplicates,
            mutant: Some(Mutant::OwnerOnlyRelease),
            ..config_for(Mutant::OwnerOnlyRelease)
        };
        let r = run(&c);
        assert_eq!(
            status(&r, "access_holds_barrier"),
            Status::Violated,
            "late {late} dup {duplicates}"
        );
        // And with neither, the class is out of reach: the budgets are what finds it.
        let none = run(&ModelConfig {
            late: 0,
            duplicates: 0,
            ..c.clone()
        });
        assert!(!none.violated(), "{:?}", none.properties);
    }
}

#[test]
fn symmetry_reduction_merges_states_without_changing_the_verdict() {
    let c = ModelConfig {
        nodes: 2,
        resources: 2,
        crashes: 0,
        rpc_faults: 0,
        expiries: 0,
        admin_changes: 0,
        start: Start::Joining,
        ..ModelConfig::default()
    };
    let with = run(&c);
    let without = run(&ModelConfig {
        symmetry: false,
        ..c
    });
    assert!(!with.violated() && !without.violated());
    assert!(with.figures.unique_states < without.figures.unique_states);
}
