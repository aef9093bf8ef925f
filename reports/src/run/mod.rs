//! The checkers' commands, run in-process: each takes a typed request and returns an
//! [`Outcome`] (the typed result and the text a terminal shows), without printing the result
//! itself. Progress goes to stderr unless the request says `quiet`.

pub mod check;
pub mod cross_check;
pub mod sim;
pub mod subject;

use std::process::ExitCode;

/// What a command produced.
///
/// The caller must, in this order: print `text` to stdout; write `result` as JSON where it
/// was asked to; then, if `error` is set, fail with it (exit 2), else exit with
/// [`Outcome::exit_code`].
#[derive(Debug)]
pub struct Outcome<R> {
    /// The typed result (what `--json` writes).
    pub result: R,
    /// The readable result.
    pub text: String,
    /// A property was violated.
    pub violated: bool,
    /// The command ran but its result cannot be trusted (a replay that diverged).
    pub error: Option<String>,
}

impl<R> Outcome<R> {
    /// `1` if a property was violated, else `0`.
    pub fn exit_code(&self) -> ExitCode {
        if self.violated {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}
