//! The network commands: `registry`, `node`, `resources` and `demo`, as a user runs them.

mod common;

use common::{assert_bad_input, rebalanser};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rebalanser-netcli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bad_input_exits_2_naming_the_bad_value() {
    let dir = temp_dir("bad");
    let junk = dir.join("junk.state");
    std::fs::write(&junk, b"certainly not a snapshot").unwrap();
    let empty = dir.join("empty.token");
    std::fs::write(&empty, b"\n").unwrap();
    let junk = junk.to_str().unwrap();
    let empty = empty.to_str().unwrap();
    for (args, needle) in [
        (vec!["registry", "--listen", "nowhere"], "nowhere"),
        (
            vec!["registry", "--listen", "0.0.0.0:0"],
            "needs a shared token",
        ),
        (
            vec![
                "registry",
                "--listen",
                "127.0.0.1:0",
                "--token-file",
                "/no/such/token",
            ],
            "/no/such/token",
        ),
        (
            vec!["registry", "--listen", "127.0.0.1:0", "--token-file", empty],
            "empty",
        ),
        (
            vec!["registry", "--listen", "127.0.0.1:0", "--data", junk],
            "not a registry snapshot",
        ),
        (vec!["registry", "--max-frame", "12"], "12"),
        (
            vec!["node", "--name", "a", "--registry", "no-port-here"],
            "no-port-here",
        ),
        (
            vec!["node", "--name", "a", "--registry", "127.0.0.1:99999"],
            "99999",
        ),
        (vec!["node", "--name", "a/b"], "a/b"),
        (vec!["node", "--name", "a", "--group", ""], "--group"),
        (vec!["node", "--name", "a", "--ttl", "5x"], "5x"),
        (
            vec!["node", "--name", "a", "--ttl", "100ms"],
            "self-fencing margin",
        ),
        (
            vec!["node", "--name", "a", "--monitor", "nomonitor"],
            "nomonitor",
        ),
        (
            vec!["node", "--name", "a", "--etcd-user", "u"],
            "etcd-password-file",
        ),
        (
            vec![
                "node",
                "--name",
                "a",
                "--etcd-ca",
                "/x",
                "--registry",
                "127.0.0.1:1",
            ],
            "etcd://",
        ),
        (vec!["resources", "add", "bad/name"], "bad/name"),
        (vec!["resources", "add", "--group", "a/b", "r1"], "a/b"),
        (vec!["resources", "frobnicate"], "frobnicate"),
        (vec!["demo", "--nodes", "1"], "1"),
        (vec!["demo", "--resources", "0"], "0"),
        (vec!["demo", "--ttl", "soon"], "soon"),
        (
            vec!["demo", "--json", "/nonexistent-folder/d.json"],
            "nonexistent-folder",
        ),
    ] {
        assert_bad_input(&args, needle);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(not(feature = "etcd"))]
#[test]
fn an_etcd_registry_without_the_feature_says_how_to_build_it() {
    assert_bad_input(
        &["node", "--name", "a", "--registry", "etcd://127.0.0.1:2379"],
        "--features etcd",
    );
}

/// A registry process, the `resources` command against it, and a clean exit on SIGTERM.
#[test]
fn resources_are_added_listed_and_removed_through_a_registry_process() {
    let mut registry = Killed(
        Command::new(env!("CARGO_BIN_EXE_rebalanser"))
            .args(["registry", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(registry.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("registry listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let at = ["--registry", addr.as_str(), "--group", "shop"];
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&at);
        rebalanser(&all)
    };
    let (code, out, err) = run(&["resources", "add", "orders", "invoices", "mail"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("added orders, invoices, mail"), "{out}");
    let (code, _, err) = run(&["resources", "remove", "mail"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&["resources", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("resources (2): invoices orders"), "{out}");
    assert!(out.contains("leader: none"), "{out}");

    nix_kill(registry.0.id(), "TERM");
    let status = registry.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// A child process that dies with the test, even when an assertion fails first.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nix_kill(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} {pid}");
}

#[test]
fn the_demo_shows_failover_and_no_double_access() {
    let dir = temp_dir("demo");
    let json = dir.join("demo.json");
    let (code, out, err) = rebalanser(&[
        "demo",
        "--nodes",
        "3",
        "--resources",
        "6",
        "--ttl",
        "1500ms",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let text = std::fs::read_to_string(&json).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema_version"], 1, "{text}");
    assert_eq!(v["figures"]["failed_over_resources"], 2, "{text}");
    let failover = v["figures"]["failover_ms"].as_u64().unwrap();
    assert!(
        failover > 0 && failover < 1500 + 5_000,
        "failover {failover} ms"
    );
    assert_eq!(v["properties"][0]["name"], "no_double_access", "{text}");
    assert_eq!(v["properties"][0]["status"], "holds", "{text}");
    let _ = std::fs::remove_dir_all(&dir);
    for needle in [
        "== 3 nodes join",
        "== SIGKILL node-0",
        "failover: 2 resources of node-0",
        "rebalanced back",
        ", 0 double accesses",
    ] {
        assert!(
            out.contains(needle),
            "the demo output lacks {needle:?}:\n{out}"
        );
    }
}

/// The default build needs no protoc: nothing that compiles protobuf is in its dependency tree.
#[test]
fn the_default_features_need_no_protoc() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--workspace",
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .arg("--no-default-features")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("rebalanser-net"), "{tree}");
    for needle in ["etcd-client", "prost-build", "tonic-build"] {
        assert!(
            !tree.contains(needle),
            "the default build pulls in {needle}"
        );
    }
    // And the etcd feature does pull it in (so the check above can fail).
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "rebalanser",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--features",
            "etcd",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("etcd-client"));
}

/// Logs written to a pipe or a file are plain text: no colour escapes (they are for terminals).
#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let mut node = Killed(
        Command::new(env!("CARGO_BIN_EXE_rebalanser"))
            .args(["node", "--name", "a", "--registry", "127.0.0.1:1"])
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = node.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(10)) {
        let done = line.contains("starting on");
        seen.push(line);
        if done {
            break;
        }
    }
    let log = seen.join("\n");
    assert!(log.contains("INFO"), "the node logged nothing: {log:?}");
    assert!(
        !log.contains("\x1b["),
        "colour codes in a piped log: {log:?}"
    );
}
