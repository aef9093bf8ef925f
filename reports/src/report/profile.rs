//! What each report profile runs, as typed jobs run in process. `quick` fits a pull-request
//! CI job (under a minute on 2 cores) and is the cross-check's row of its subject (the clean
//! protocol, or `--mutant`); `full` is the nightly.

use crate::result::Checked;
use crate::run::check::{check, CheckRequest};
use crate::run::cross_check::cross_check;
use crate::run::sim::{sim, Seeds, SimRequest};
use crate::run::subject;
use model::check::CheckOptions;
use protocol::Mutant;
use sim::sweep::SeedRange;

/// A report profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// `check` on its combined default configuration, `sim` on seeds 0..1000, TLC on `ci`
    /// and `liveness` (with a mutant: each checker's plain command with the mutant).
    Quick,
    /// `check`'s whole portfolio, `sim` on seeds 0..10000 plus 1,000,000 swarm seeds from a
    /// range that changes daily (the date is in the seeds: YYYYMMDD·10⁶ onwards), TLC on
    /// every CI configuration and every mutant's configuration without the mutant, and the
    /// cross-check's mutant kill matrix.
    Full,
}

impl Profile {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Quick => "quick",
            Profile::Full => "full",
        }
    }
}

/// What one run of a profile asks of a checker, typed (run in process by [`run`]).
pub enum Job {
    /// The model checker.
    Check(CheckRequest),
    /// The simulator (boxed: its request is much larger than the others).
    Sim(Box<SimRequest>),
    /// TLC on one configuration of the spec folder, with the mutant set where given.
    Tla {
        /// The configuration's name.
        config: String,
        /// The mutant to set.
        mutant: Option<Mutant>,
    },
    /// The cross-check's mutant kill matrix.
    CrossCheck,
}

/// One run of a profile.
pub struct Run {
    /// Names its result and log files.
    pub name: String,
    /// `model`, `sim` or `tlc`.
    pub checker: &'static str,
    /// What it runs.
    pub job: Job,
    /// The `rebalanser` command that runs the same, for the progress line and the log.
    pub command: String,
}

/// The runs of `profile`, with `mutant` set where given; `workers` threads each.
pub fn runs(profile: Profile, mutant: Option<Mutant>, workers: u16) -> Vec<Run> {
    let w = workers;
    let threads = usize::from(w);
    let mut out = Vec::new();
    let tla = |name: &str, config: &str, mutant: Option<Mutant>| Run {
        name: name.to_string(),
        checker: "tlc",
        command: match mutant {
            Some(m) => format!("tla --mutant {} --workers {w}", m.code()),
            None => format!("tla --config {config} --workers {w}"),
        },
        job: Job::Tla {
            config: config.to_string(),
            mutant,
        },
    };
    match (profile, mutant) {
        (_, Some(m)) => {
            // Each checker's plain command: a defect is found without a configuration
            // tailored to it. The same runs as the cross-check's row of the mutant.
            out.push(Run {
                name: "check".into(),
                checker: "model",
                job: Job::Check(subject::model_request(Some(m))),
                command: format!("check --mutant {} --threads {w}", m.code()),
            });
            out.push(sim_run("sim", subject::sim_request(Some(m), threads, true)));
            for config in subject::tlc_configs(Some(m)) {
                out.push(tla("tla", &config, Some(m)));
            }
        }
        (Profile::Quick, None) => {
            // The cross-check's clean row, but the model checker on the combined default
            // only: the cross-check's whole portfolio would not fit a pull request's budget.
            out.push(Run {
                name: "check".into(),
                checker: "model",
                job: Job::Check(subject::model_request(None)),
                command: format!("check --config default --threads {w}"),
            });
            out.push(sim_run("sim", subject::sim_request(None, threads, true)));
            for config in subject::tlc_configs(None) {
                out.push(tla(&format!("tla-{config}"), &config, None));
            }
        }
        (Profile::Full, None) => {
            out.push(Run {
                name: "check".into(),
                checker: "model",
                job: Job::Check(CheckRequest::Portfolio(model::portfolio::entries(), None)),
                command: format!("check --threads {w}"),
            });
            let mut sim = subject::sim_request(None, threads, true);
            sim.seeds = Seeds::Range(
                SeedRange {
                    start: 0,
                    end: 10_000,
                },
                None,
            );
            out.push(sim_run("sim", sim));
            let mut swarm = subject::sim_request(None, threads, true);
            swarm.config.swarm = true;
            swarm.seeds = Seeds::Range(daily_swarm_seeds(today()), None);
            out.push(sim_run("sim-swarm", swarm));
            for config in [
                "ci",
                "ci-joining",
                "ci-membership",
                "ci-churn",
                "ci-late",
                "liveness",
            ] {
                out.push(tla(&format!("tla-{config}"), config, None));
            }
            // Each mutant's configuration holds for the clean protocol (CI skips the largest).
            for m in Mutant::ALL
                .into_iter()
                .filter(|m| !subject::outside_tlc(*m))
            {
                let config = format!("mutant-{}", m.code());
                out.push(tla(&format!("tla-{config}"), &config, None));
            }
            out.push(Run {
                name: "cross-check".into(),
                checker: "tlc",
                job: Job::CrossCheck,
                command: format!("tla --cross-check --workers {w}"),
            });
        }
    }
    out
}

/// A simulator run, with the command line that runs the same.
fn sim_run(name: &str, req: SimRequest) -> Run {
    let seeds = match req.seeds {
        Seeds::One(s) => format!("--seed {s}"),
        Seeds::Range(r, _) => format!("--seeds {}..{}", r.start, r.end),
    };
    let mut command = format!("sim {seeds} --keep-going --threads {}", req.threads);
    if req.config.swarm {
        command.push_str(" --swarm");
    }
    if let Some(m) = req.config.mutant {
        command.push_str(&format!(" --mutant {}", m.code()));
    }
    Run {
        name: name.to_string(),
        checker: "sim",
        job: Job::Sim(Box::new(req)),
        command,
    }
}

/// Run one job in process: its typed result and its text (the log), or why the checker
/// could not run (TLC without Java, say).
pub fn run(job: &Job, workers: u16) -> Result<(Checked, String), String> {
    match job {
        Job::Check(request) => {
            let options = CheckOptions {
                threads: usize::from(workers),
                ..CheckOptions::quiet(true)
            };
            let o = check(request, &options);
            Ok((Checked::Check(Box::new(o.result)), o.text))
        }
        Job::Sim(request) => {
            let o = sim(request)?;
            Ok((Checked::Sim(Box::new(o.result)), o.text))
        }
        Job::Tla { config, mutant } => {
            let dir = tla::spec_dir()?;
            tla::tools_ready()?;
            let job = subject::tlc_job(&dir, config, *mutant, workers)?;
            let o = subject::tlc_run(&dir, &job, *mutant)?;
            Ok((Checked::Tla(Box::new(o.result)), o.text))
        }
        Job::CrossCheck => {
            let o = cross_check(workers)?;
            Ok((Checked::CrossCheck(Box::new(o.result)), o.text))
        }
    }
}

/// Today's date (UTC) as YYYYMMDD.
fn today() -> u64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    yyyymmdd(secs / 86_400)
}

/// The civil date of a day count since 1970-01-01, as YYYYMMDD (Howard Hinnant's algorithm).
fn yyyymmdd(days: u64) -> u64 {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year * 10_000 + month * 100 + day) as u64
}

/// The nightly swarm's million seeds: the date leads, so a failing seed names its night and
/// replays with `sim --seed S --swarm`, and each night searches seeds no night searched.
pub fn daily_swarm_seeds(date: u64) -> SeedRange {
    let start = date * 1_000_000;
    SeedRange {
        start,
        end: start + 1_000_000,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_nightly_swarm_range_carries_the_date() {
        assert_eq!(super::yyyymmdd(0), 19_700_101);
        assert_eq!(super::yyyymmdd(20_790), 20_261_203);
        assert_eq!(super::yyyymmdd(11_016), 20_000_229);
        let r = super::daily_swarm_seeds(20_261_203);
        assert_eq!((r.start, r.end), (20_261_203_000_000, 20_261_204_000_000));
    }

    use super::*;

    #[test]
    fn a_mutant_runs_every_checker_s_plain_command() {
        let runs = runs(Profile::Quick, Some(Mutant::UnfencedAssignmentWrite), 2);
        let checkers: Vec<&str> = runs.iter().map(|r| r.checker).collect();
        assert_eq!(checkers, ["model", "sim", "tlc"]);
        let Job::Check(CheckRequest::Portfolio(entries, Some(m))) = &runs[0].job else {
            panic!("the model checker runs the portfolio with the mutant, not tailored");
        };
        assert_eq!(*m, Mutant::UnfencedAssignmentWrite);
        assert_eq!(entries.len(), model::portfolio::entries().len());
        let Job::Sim(sim) = &runs[1].job else {
            panic!("the simulator is second")
        };
        assert_eq!(sim.config.mutant, Some(Mutant::UnfencedAssignmentWrite));
        assert!(matches!(
            runs[2].job,
            Job::Tla {
                mutant: Some(Mutant::UnfencedAssignmentWrite),
                ..
            }
        ));
    }

    #[test]
    fn full_runs_more_than_quick() {
        assert!(runs(Profile::Full, None, 2).len() > runs(Profile::Quick, None, 2).len());
    }
}
