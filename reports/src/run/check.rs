//! `rebalanser check`: the portfolio, or one configuration.

use super::Outcome;
use crate::text::check::{check_command, describe_config, render_check, render_portfolio};
use model::check::{self, CheckOptions, CheckReport};
use model::portfolio::Entry;
use model::ModelConfig;
use protocol::Mutant;

/// What to check.
pub enum CheckRequest {
    /// These portfolio configurations, one verdict, with the mutant where given.
    Portfolio(Vec<Entry>, Option<Mutant>),
    /// Exactly this configuration.
    One(ModelConfig),
}

/// Run the model checker; progress on stderr unless `options.progress` is off.
pub fn check(request: &CheckRequest, options: &CheckOptions) -> Outcome<CheckReport> {
    let (result, text) = match request {
        CheckRequest::One(config) => {
            if options.progress {
                eprintln!("{}", describe_config(config, options));
            }
            let report = check::run(config, options);
            let text = render_check(&report);
            (report, text)
        }
        CheckRequest::Portfolio(entries, mutant) => {
            let count = entries.len();
            let report = model::portfolio::run(entries, *mutant, options, |i, e| {
                if options.progress {
                    eprintln!("[{}/{count}] {}: {}", i + 1, e.name, e.covers);
                    eprintln!("      {}", check_command(&e.config));
                }
            });
            let text = render_portfolio(&report);
            (report, text)
        }
    };
    Outcome {
        violated: result.violated(),
        result,
        text,
        error: None,
    }
}
