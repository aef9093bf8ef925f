//! What each report profile runs. `quick` fits a pull-request CI job (under a minute on
//! 2 cores); `full` is the nightly.

use model::mutants::config_for;
use protocol::Mutant;

/// A report profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// `check` on its default configuration, `sim` on seeds 0..1000, TLC on `ci` and
    /// `liveness` (or each checker's configuration for the mutant).
    Quick,
    /// Also `check` from the joining state, `sim` on seeds 0..10000 plus 0..2000 of swarm
    /// testing, TLC on every CI configuration, and the cross-check's mutant kill matrix.
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
            // Each checker on the configuration that shows the mutant.
            let check = crate::output::check_command(&config_for(m));
            let check = check.trim_start_matches("rebalanser ");
            out.push(run(
                "check",
                "model",
                &format!("{check} --threads {w} --quiet"),
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
            out.push(run(
                "check",
                "model",
                &format!("check --threads {w} --quiet"),
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
                out.push(run(
                    "check-joining",
                    "model",
                    &format!("check --start joining --crashes 0 --threads {w} --quiet"),
                ));
                out.push(run(
                    "sim-swarm",
                    "sim",
                    &format!("sim --seeds 0..2000 --swarm --keep-going --threads {w} --quiet"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mutant_runs_every_checker_on_its_configuration() {
        let runs = runs(Profile::Quick, Some(Mutant::UnfencedAssignmentWrite), 2);
        let checkers: Vec<&str> = runs.iter().map(|r| r.checker).collect();
        assert_eq!(checkers, ["model", "sim", "tlc"]);
        assert!(runs[0]
            .args
            .join(" ")
            .contains("--mutant unfenced-assignment-write"));
        assert!(runs[1].args.join(" ").contains("--mutant M4"));
        assert!(runs[2].args.join(" ").contains("--mutant M4"));
    }

    #[test]
    fn full_runs_more_than_quick() {
        assert!(runs(Profile::Full, None, 2).len() > runs(Profile::Quick, None, 2).len());
    }
}
