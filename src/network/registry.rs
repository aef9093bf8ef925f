//! `rebalanser registry`: serve the embedded registry until Ctrl-C or SIGTERM.

use clap::Args;
use net::{Server, ServerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Serve the embedded registry: the pure protocol registry over TCP, for one machine and for
/// tests. It is not replicated: for production, run etcd and point nodes at `etcd://...`.
#[derive(Args, Debug)]
pub struct RegistryArgs {
    /// Where to listen. Anything but a loopback address needs --token-file.
    #[arg(long, default_value = "127.0.0.1:7400")]
    listen: SocketAddr,
    /// A file whose first line is the token every client must present.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Keep the state in this file (written before each reply that depends on it), so that a
    /// restarted registry carries on where it stopped. Without it, a restart loses the group,
    /// and nodes still running their resources may then overlap with new owners.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The largest frame accepted, in bytes (a larger one closes that connection).
    #[arg(long, default_value_t = net::wire::DEFAULT_MAX_FRAME as u64,
          value_parser = clap::value_parser!(u64).range(1024..=1 << 30))]
    max_frame: u64,
}

pub async fn run(args: RegistryArgs) -> Result<ExitCode, String> {
    let token = match &args.token_file {
        Some(path) => Some(super::read_token(path)?),
        None => None,
    };
    if args.data.is_none() {
        eprintln!(
            "note: no --data file: the registry's state lives in memory and is lost on restart"
        );
    }
    let config = ServerConfig {
        listen: args.listen,
        token,
        data: args.data,
        max_frame: args.max_frame as usize,
        ..ServerConfig::default()
    };
    let server = Server::start(config).await?;
    // The first line of stdout names the address (tests and scripts read the port from it).
    println!("registry listening on {}", server.local_addr());
    super::terminated().await;
    let stats = server.stats();
    server.shutdown().await;
    eprintln!(
        "registry stopped: {} connections ({} rejected), {} requests, {} leases expired",
        stats.connections, stats.rejected, stats.requests, stats.expired
    );
    Ok(ExitCode::SUCCESS)
}
