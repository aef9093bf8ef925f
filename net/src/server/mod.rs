//! The embedded registry server: the pure [`protocol::Registry`] served over TCP.
//!
//! Zero-install, for one machine and for tests; not a replicated store (etcd is the production
//! registry). One task owns every group's registry and applies requests one at a time, so the
//! server is linearizable exactly as the pure registry is. Leases run on the server's monotonic
//! clock. With a data file, state is made durable before any reply that depends on it leaves
//! (group commit), and a restarted server renews every lease, as etcd does.
//!
//! - `connection.rs`: one client's frames (handshake, token, decoding errors);
//! - `state.rs`: the registries, the watch routing and lease expiry;
//! - `store.rs`: the data file.

mod connection;
mod state;
mod store;

use crate::wire::DEFAULT_MAX_FRAME;
use state::{Core, CoreMsg};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// How to run the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The shared token clients must present; required unless `listen` is a loopback address.
    pub token: Option<String>,
    /// The data file that makes the state durable (none: state lives in memory only).
    pub data: Option<PathBuf>,
    /// The largest frame accepted.
    pub max_frame: usize,
    /// How many revisions of history each group keeps for watches that resume (older ones
    /// answer `Compacted`, and the client re-reads).
    pub history: u64,
    /// Requests queued beyond this many are answered `Overloaded` (RETRYABLE).
    pub queue: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7400)),
            token: None,
            data: None,
            max_frame: DEFAULT_MAX_FRAME,
            history: 10_000,
            queue: 4_096,
        }
    }
}

/// Figures the server counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections closed because of a bad frame, handshake or token.
    pub rejected: u64,
    /// Requests processed.
    pub requests: u64,
    /// Leases expired.
    pub expired: u64,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    stats: watch::Receiver<ServerStats>,
    done: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Bind and start serving on the current tokio runtime. Fails, naming the problem, on a
    /// non-loopback address without a token, an unreadable data file, or a busy port.
    pub async fn start(config: ServerConfig) -> Result<Server, String> {
        if !config.listen.ip().is_loopback() && config.token.is_none() {
            return Err(format!(
                "listening on {} (not loopback) needs a shared token: pass --token-file",
                config.listen
            ));
        }
        if config.token.as_deref() == Some("") {
            return Err("the token is empty".into());
        }
        let store = match &config.data {
            Some(path) => Some(store::Store::open(path)?),
            None => None,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (stop, stop_rx) = watch::channel(false);
        let (stats_tx, stats) = watch::channel(ServerStats::default());
        let (core_tx, core_rx) = mpsc::channel::<CoreMsg>(config.queue);
        let core = Core::new(store, config.history, stats_tx.clone())?;
        let config = Arc::new(config);
        let core_task = tokio::spawn(core.run(core_rx, stop_rx.clone()));
        let accept = tokio::spawn(accept_loop(listener, config, core_tx, stats_tx, stop_rx));
        let done = tokio::spawn(async move {
            let _ = accept.await;
            let _ = core_task.await;
        });
        Ok(Server {
            addr,
            stop,
            stats,
            done,
        })
    }

    /// The address it listens on (the port, when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it has counted so far.
    pub fn stats(&self) -> ServerStats {
        self.stats.borrow().clone()
    }

    /// Stop accepting, close every connection, and write the data file a last time.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.done).await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    core: mpsc::Sender<CoreMsg>,
    stats: watch::Sender<ServerStats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut next_conn = 0u64;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    next_conn += 1;
                    stats.send_modify(|s| s.connections += 1);
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection::serve(
                        next_conn,
                        stream,
                        peer,
                        config.clone(),
                        core.clone(),
                        stats.clone(),
                        stop.clone(),
                    ));
                }
                // Out of file descriptors and the like: back off rather than spin.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}
