//! Running the `rebalanser` binary from the integration tests.

use std::process::Command;

/// Run `rebalanser ARGS`: exit code, stdout, stderr.
pub fn rebalanser(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rebalanser"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
