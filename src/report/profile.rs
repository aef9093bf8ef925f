//! What each report profile runs. `quick` fits a pull-request CI job (under a minute on
//! 2 cores); `full` is the nightly.

use protocol::Mutant;

/// A report profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// `check` on its combined default configuration, `sim` on seeds 0..1000, TLC on `ci`
    /// and `liveness` (with a mutant: each checker's plain command with the mutant).
    Quick,
    /// `check`'s whole portfolio, `sim` on seeds 0..10000 plus 1,000,000 swarm seeds from a
    /// range that changes daily (the date is in the seeds: YYYYMMDD·10⁶ onwards), TLC on
    /// every CI configuration, and the cross-check's mutant kill matrix.
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

/// One checker command of a profile.
pub struct Run {
    /// Names its result and log files.
    pub name: String,
    /// `model`, `sim` or `tlc`.
    pub checker: &'static str,
    /// The arguments after `rebalanser` (the report adds `--json FILE`).
    pub args: Vec<String>,
}

fn run(name: &str, checker: &'static str, args: &str) -> Run {
    Run {
        name: name.to_string(),
        checker,
        args: args.split_whitespace().map(str::to_string).collect(),
    }
}

/// The commands of `profile`, with `mutant` set where given.
pub fn runs(profile: Profile, mutant: Option<Mutant>, workers: u16) -> Vec<Run> {
    let w = workers;
    let mut out = Vec::new();
    match mutant {
        Some(m) => {
            // Each checker's plain command: a defect is found without a configuration
            // tailored to it.
            out.push(run(
                "check",
                "model",
                &format!("check --mutant {} --threads {w} --quiet", m.code()),
            ));
            out.push(run(
                "sim",
                "sim",
                &format!(
                    "sim --seeds 0..1000 --mutant {} --keep-going --threads {w} --quiet",
                    m.code()
                ),
            ));
            out.push(run(
                "tla",
                "tlc",
                &format!("tla --mutant {} --workers {w}", m.code()),
            ));
        }
        None => {
            let check = match profile {
                Profile::Quick => "check --config default",
                Profile::Full => "check",
            };
            out.push(run(
                "check",
                "model",
                &format!("{check} --threads {w} --quiet"),
            ));
            let seeds = match profile {
                Profile::Quick => "0..1000",
                Profile::Full => "0..10000",
            };
            out.push(run(
                "sim",
                "sim",
                &format!("sim --seeds {seeds} --keep-going --threads {w} --quiet"),
            ));
            if profile == Profile::Full {
                let swarm = daily_swarm_seeds(today());
                out.push(run(
                    "sim-swarm",
                    "sim",
                    &format!("sim --seeds {swarm} --swarm --keep-going --threads {w} --quiet"),
                ));
            }
            let configs: &[&str] = match profile {
                Profile::Quick => &["ci", "liveness"],
                Profile::Full => &[
                    "ci",
                    "ci-joining",
                    "ci-membership",
                    "ci-churn",
                    "ci-late",
                    "liveness",
                ],
            };
            for c in configs {
                out.push(run(
                    &format!("tla-{c}"),
                    "tlc",
                    &format!("tla --config {c} --workers {w}"),
                ));
            }
            if profile == Profile::Full {
                // The mutant kill matrix.
                out.push(run(
                    "cross-check",
                    "tlc",
                    &format!("tla --cross-check --workers {w}"),
                ));
            }
        }
    }
    out
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
pub fn daily_swarm_seeds(date: u64) -> String {
    let start = date * 1_000_000;
    format!("{start}..{}", start + 1_000_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_nightly_swarm_range_carries_the_date() {
        assert_eq!(super::yyyymmdd(0), 19_700_101);
        assert_eq!(super::yyyymmdd(20_790), 20_261_203);
        assert_eq!(super::yyyymmdd(11_016), 20_000_229);
        assert_eq!(
            super::daily_swarm_seeds(20_261_203),
            "20261203000000..20261204000000"
        );
    }

    use super::*;

    #[test]
    fn a_mutant_runs_every_checker_s_plain_command() {
        let runs = runs(Profile::Quick, Some(Mutant::UnfencedAssignmentWrite), 2);
        let checkers: Vec<&str> = runs.iter().map(|r| r.checker).collect();
        assert_eq!(checkers, ["model", "sim", "tlc"]);
        assert!(runs[0].args.join(" ").contains("check --mutant M4"));
        assert!(
            !runs[0].args.contains(&"--nodes".to_string()),
            "not tailored"
        );
        assert!(runs[1].args.join(" ").contains("--mutant M4"));
        assert!(runs[2].args.join(" ").contains("--mutant M4"));
    }

    #[test]
    fn full_runs_more_than_quick() {
        assert!(runs(Profile::Full, None, 2).len() > runs(Profile::Quick, None, 2).len());
    }
}
