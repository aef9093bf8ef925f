//! The network commands: `registry`, `node`, `resources` and `demo`.

mod demo;
mod node;
mod registry;
mod resources;
mod target;

pub use demo::DemoArgs;
pub use node::NodeArgs;
pub use registry::RegistryArgs;
pub use resources::ResourcesArgs;

use std::io::IsTerminal;
use std::process::ExitCode;

/// Run `f` on a fresh multi-threaded tokio runtime, logging warnings (or `RUST_LOG`) to stderr,
/// in colour only when stderr is a terminal (a log file or a pipe gets plain text).
fn block_on<F: std::future::Future<Output = Result<ExitCode, String>>>(
    f: F,
) -> Result<ExitCode, String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?
        .block_on(f)
}

pub fn registry(args: RegistryArgs) -> Result<ExitCode, String> {
    block_on(registry::run(args))
}

pub fn node(args: NodeArgs) -> Result<ExitCode, String> {
    block_on(node::run(args))
}

pub fn resources(args: ResourcesArgs) -> Result<ExitCode, String> {
    block_on(resources::run(args))
}

pub fn demo(args: DemoArgs) -> Result<ExitCode, String> {
    block_on(demo::run(args))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Read a token file: its first line, trimmed; an empty or unreadable file is an error naming it.
fn read_token(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--token-file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(format!(
            "--token-file {}: the file is empty",
            path.display()
        ));
    }
    Ok(token)
}
