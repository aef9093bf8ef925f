//! The ordering audit (README, "Every ordering the model explores"): each nondeterministic
//! choice of the model checker is an ordering the simulator's own runs produce. Each row is a
//! test: it fails, naming the row, if no run of the audit's seeds contains that ordering.

use protocol::FailureStep;
use sim::orderings::{observed, Interleaving};
use sim::{run, RunOptions, SimConfig};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Seeds of the default run, of swarm and of the run with breached assumptions the audit reads.
const SEEDS: u64 = 60;

/// For each ordering, the first run (`default`/`swarm`/`breach`, seed) that contains it.
fn audit() -> &'static BTreeMap<Interleaving, String> {
    static AUDIT: OnceLock<BTreeMap<Interleaving, String>> = OnceLock::new();
    AUDIT.get_or_init(|| {
        let mut first = BTreeMap::new();
        let runs = [
            ("default", false, false),
            ("swarm", true, false),
            ("breach", false, true),
        ];
        for (label, swarm, breach_assumptions) in runs {
            let config = SimConfig {
                swarm,
                breach_assumptions,
                ..SimConfig::default()
            };
            for seed in 0..SEEDS {
                let result = run(&config, seed, RunOptions { trace: true });
                for i in observed(&config, &result) {
                    first
                        .entry(i)
                        .or_insert_with(|| format!("{label} seed {seed}"));
                }
            }
        }
        first
    })
}

fn holds(row: Interleaving) {
    let audit = audit();
    assert!(
        audit.contains_key(&row),
        "the simulator produced no `{}` in {SEEDS} seeds each of the default run, swarm and breached assumptions; it did produce: {:?}",
        row.name(),
        audit
    );
}

macro_rules! rows {
    ($($test:ident => $row:expr),* $(,)?) => {
        $(#[test] fn $test() { holds($row); })*

        #[test]
        fn every_row_has_a_test() {
            let tested = [$($row),*];
            for row in Interleaving::ALL {
                assert!(tested.contains(&row), "`{}` has no test", row.name());
            }
        }
    };
}

rows! {
    later_sent_first => Interleaving::LaterSentFirst,
    reply_delayed => Interleaving::ReplyDelayed,
    pause_beyond_envelope => Interleaving::PauseBeyondEnvelope,
    reply_before_own_watch => Interleaving::ReplyBeforeOwnWatch,
    own_watch_before_reply => Interleaving::OwnWatchBeforeReply,
    other_watch_before_writer_reply => Interleaving::OtherWatchBeforeWriterReply,
    snapshot_behind_writes => Interleaving::SnapshotBehindWrites,
    snapshot_older_than_watch => Interleaving::SnapshotOlderThanWatch,
    fail_at_post_request => Interleaving::Fail(FailureStep::PostRequest),
    fail_at_deliver_request => Interleaving::Fail(FailureStep::DeliverRequest),
    fail_at_validate_request => Interleaving::Fail(FailureStep::ValidateRequest),
    fail_at_update_server_state => Interleaving::Fail(FailureStep::UpdateServerState),
    fail_at_post_reply => Interleaving::Fail(FailureStep::PostReply),
    fail_at_deliver_reply => Interleaving::Fail(FailureStep::DeliverReply),
    fail_at_validate_reply => Interleaving::Fail(FailureStep::ValidateReply),
    fail_at_update_client_state => Interleaving::Fail(FailureStep::UpdateClientState),
    orphan_lands_late => Interleaving::OrphanLandsLate,
    orphan_behind_later_request => Interleaving::OrphanBehindLaterRequest,
    duplicate_lands_again => Interleaving::DuplicateLandsAgain,
    watch_breaks => Interleaving::WatchBreaks,
    lease_gone => Interleaving::LeaseGone,
    hold_over_with_request_in_flight => Interleaving::HoldOverWithRequestInFlight,
    retry_after_back_off => Interleaving::RetryAfterBackOff,
    app_ack_after_watch_events => Interleaving::AppAckAfterWatchEvents,
    crash_with_request_in_flight => Interleaving::CrashWithRequestInFlight,
    request_lands_after_restart => Interleaving::RequestLandsAfterRestart,
    crash_after_apply_before_reply => Interleaving::CrashAfterApplyBeforeReply,
    crash_with_app_command_pending => Interleaving::CrashWithAppCommandPending,
    lapse => Interleaving::Lapse,
    expire_after_lapse => Interleaving::ExpireAfterLapse,
    expire_after_crash => Interleaving::ExpireAfterCrash,
    leader_change => Interleaving::LeaderChange,
    leave_then_join => Interleaving::LeaveThenJoin,
    admin_while_leader_busy => Interleaving::AdminWhileLeaderBusy,
}

/// The README's audit table names every row, and only rows that exist.
#[test]
fn the_readme_table_lists_every_row() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md at the workspace root");
    let heading = "### Every ordering the model explores, the simulator produces";
    let section = readme
        .split(heading)
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("the README's ordering audit section");
    for row in Interleaving::ALL {
        assert!(
            section.contains(&format!("`{}`", row.name())),
            "the README's ordering audit has no row `{}`",
            row.name()
        );
    }
}

/// The audit's detectors are not vacuous: a run without faults shows none of the orderings
/// only faults produce.
#[test]
fn a_fault_free_run_shows_no_fault_orderings() {
    let config = SimConfig {
        faults: sim::FaultPlan::none(),
        ..SimConfig::default()
    };
    let result = run(&config, 0, RunOptions { trace: true });
    let found = observed(&config, &result);
    let faulty = |i: &Interleaving| {
        matches!(
            i,
            Interleaving::Fail(_)
                | Interleaving::OrphanLandsLate
                | Interleaving::OrphanBehindLaterRequest
                | Interleaving::DuplicateLandsAgain
                | Interleaving::WatchBreaks
                | Interleaving::CrashWithRequestInFlight
                | Interleaving::RequestLandsAfterRestart
                | Interleaving::CrashAfterApplyBeforeReply
                | Interleaving::CrashWithAppCommandPending
                | Interleaving::Lapse
                | Interleaving::ExpireAfterLapse
                | Interleaving::ExpireAfterCrash
                | Interleaving::LeaveThenJoin
                | Interleaving::PauseBeyondEnvelope
                | Interleaving::ReplyDelayed
        )
    };
    let wrong: Vec<_> = found
        .iter()
        .filter(|i| faulty(i))
        .map(|i| i.name())
        .collect();
    assert!(wrong.is_empty(), "a fault-free run shows {wrong:?}");
    // Orderings of plain concurrency happen without faults.
    assert!(found.contains(&Interleaving::LaterSentFirst), "{found:?}");
}
