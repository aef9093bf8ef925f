//! A throwaway single-member etcd on loopback, for tests and demos.
//!
//! It runs Debian's `etcd` binary (package `etcd-server`) on free loopback ports with a fresh data
//! directory, and can be killed and restarted on the same ports and data (the chaos tests restart
//! the registry: etcd is durable, so its keys and leases survive).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What to tell whoever runs the tests when the `etcd` binary is missing.
pub const INSTALL_HINT: &str =
    "install etcd with ./setup.sh, or as root: apt-get install etcd-server";

/// Environment variable naming another `etcd` binary to run instead of the one on `PATH`.
pub const ETCD_BIN_VAR: &str = "REBALANSER_ETCD_BIN";

/// How long [`LocalEtcd::start`] and [`LocalEtcd::restart`] wait for etcd to answer.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A single-member etcd on `127.0.0.1`, killed (and its data removed) on drop.
///
/// It runs with a 50 ms heartbeat and a 500 ms election timeout, so that it elects itself fast
/// and its minimum lease ttl is 1 s (etcd's minimum is 1.5 election timeouts, rounded up to a
/// second): tests can use short leases.
#[derive(Debug)]
pub struct LocalEtcd {
    binary: PathBuf,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    /// Plain-HTTP `/health` when the client port speaks TLS.
    metrics_port: u16,
    tls: Option<LocalEtcdTls>,
    child: Option<Child>,
}

/// TLS on a [`LocalEtcd`]'s client port: the server's certificate and key (PEM files), and the
/// CA that client certificates must be signed by, if etcd is to demand one.
#[derive(Clone, Debug)]
pub struct LocalEtcdTls {
    /// The server certificate; it must name `127.0.0.1` or the domain clients verify.
    pub cert: PathBuf,
    /// The server certificate's private key.
    pub key: PathBuf,
    /// With a CA, etcd refuses clients without a certificate it signed (`--client-cert-auth`).
    pub client_ca: Option<PathBuf>,
}

impl LocalEtcd {
    /// Start etcd on free loopback ports with a fresh data directory, and wait (at most 20 s)
    /// until it serves requests.
    ///
    /// Fails with [`INSTALL_HINT`] when the binary is missing.
    pub async fn start() -> io::Result<LocalEtcd> {
        Self::start_with_binary(find_binary()?).await
    }

    /// [`start`](Self::start) with this `etcd` binary instead of the one on `PATH` (or in
    /// [`ETCD_BIN_VAR`]).
    pub async fn start_with_binary(binary: impl Into<PathBuf>) -> io::Result<LocalEtcd> {
        Self::start_with(binary.into(), None).await
    }

    /// [`start`](Self::start) with TLS on the client port: [`endpoint`](Self::endpoint) is
    /// then `https://…`.
    pub async fn start_tls(tls: LocalEtcdTls) -> io::Result<LocalEtcd> {
        Self::start_with(find_binary()?, Some(tls)).await
    }

    async fn start_with(binary: PathBuf, tls: Option<LocalEtcdTls>) -> io::Result<LocalEtcd> {
        if !binary.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} does not exist; {INSTALL_HINT}", binary.display()),
            ));
        }
        let mut last = None;
        // A free port can be taken by someone else between our probe and etcd's bind: retry.
        for _ in 0..3 {
            let dir = fresh_dir()?;
            let [client_port, peer_port, metrics_port] = free_ports()?;
            let mut etcd = LocalEtcd {
                binary: binary.clone(),
                dir,
                client_port,
                peer_port,
                metrics_port,
                tls: tls.clone(),
                child: None,
            };
            match etcd.launch().await {
                Ok(()) => return Ok(etcd),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("etcd did not start")))
    }

    /// The client endpoint, `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.client_port
    }

    /// The data directory (kept across [`restart`](Self::restart), removed on drop).
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the process is running (it was started and not killed, and has not exited).
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kill the process at once (SIGKILL: no clean shutdown, like a crash) and reap it. The data
    /// directory is kept. Does nothing if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A paused process dies of SIGKILL all the same.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freeze the process (SIGSTOP): connections stay open but nothing is answered, like a
    /// long GC pause or a silent partition.
    pub fn pause(&self) -> io::Result<()> {
        self.signal("-STOP")
    }

    /// Let a [`pause`](Self::pause)d process run again (SIGCONT).
    pub fn resume(&self) -> io::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> io::Result<()> {
        let child = self
            .child
            .as_ref()
            .ok_or_else(|| io::Error::other("etcd is not running"))?;
        // std has no signal API but kill(1) is everywhere.
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("kill {signal} failed: {status}")))
        }
    }

    /// Kill it if it runs, then start it again on the same ports and data directory, and wait
    /// until it serves requests. Keys and leases survive (etcd extends every lease on restart).
    pub async fn restart(&mut self) -> io::Result<()> {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        // The ports were ours a moment ago; give the kernel a moment if they are still busy.
        loop {
            match self.launch().await {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "local etcd restart failed, retrying");
                    self.kill();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The last lines etcd logged (for failure messages).
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("etcd.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    async fn launch(&mut self) -> io::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("etcd.log"))?;
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(&self.binary);
        if let Some(tls) = &self.tls {
            command
                .arg(format!("--cert-file={}", tls.cert.display()))
                .arg(format!("--key-file={}", tls.key.display()))
                .arg(format!(
                    "--listen-metrics-urls=http://127.0.0.1:{}",
                    self.metrics_port
                ));
            if let Some(ca) = &tls.client_ca {
                command
                    .arg("--client-cert-auth")
                    .arg(format!("--trusted-ca-file={}", ca.display()));
            }
        }
        let child = command
            .arg("--name=local")
            .arg(format!("--data-dir={}", self.dir.join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=local={peer}"))
            .arg("--initial-cluster-state=new")
            .arg("--initial-cluster-token=rebalanser-local")
            .arg("--heartbeat-interval=50")
            .arg("--election-timeout=500")
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .arg("--log-level=warn")
            // Never leak into a developer's environment settings (ETCD_* variables are flags).
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        self.wait_ready().await
    }

    /// Poll `/health` (on the client port, or the metrics port under TLS) until etcd reports a
    /// leader (bounded).
    async fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + READY_WITHIN;
        let port = match self.tls {
            Some(_) => self.metrics_port,
            None => self.client_port,
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(io::Error::other(format!(
                        "etcd exited with {status} while starting; its log ends with:\n{}",
                        self.log_tail(20)
                    )));
                }
            }
            // A blocking probe on loopback is quick; run it off the async workers anyway.
            let healthy = tokio::task::spawn_blocking(move || health(addr))
                .await
                .unwrap_or(false);
            if healthy {
                // Whoever answered, it must be our process that still runs.
                if let Some(child) = &mut self.child {
                    if let Ok(Some(status)) = child.try_wait() {
                        self.child = None;
                        return Err(io::Error::other(format!(
                            "etcd exited with {status} while another process answered on its \
                             port; its log ends with:\n{}",
                            self.log_tail(20)
                        )));
                    }
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "etcd did not become healthy within {READY_WITHIN:?}; its log ends with:\n{}",
                        self.log_tail(20)
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `GET /health` over plain HTTP/1.0: etcd answers `{"health":"true"}` once it has a leader.
fn health(addr: SocketAddr) -> bool {
    let probe = || -> io::Result<bool> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
        s.set_read_timeout(Some(Duration::from_millis(1_000)))?;
        s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut body = String::new();
        s.read_to_string(&mut body)?;
        Ok(body.contains("\"health\":\"true\""))
    };
    probe().unwrap_or(false)
}

fn find_binary() -> io::Result<PathBuf> {
    if let Some(bin) = std::env::var_os(ETCD_BIN_VAR) {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{ETCD_BIN_VAR}={} is not a file; {INSTALL_HINT}",
                    bin.display()
                ),
            ))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("etcd"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("the etcd binary is not on PATH; {INSTALL_HINT}"),
            )
        })
}

/// Three distinct free loopback ports, never handed out before in this process.
///
/// They are taken below the kernel's ephemeral range (32768 and up on Linux), and each only once:
/// a restart binds its ports again after they were free for a moment, and in that moment a port
/// the kernel picked for another test's etcd or for an outgoing connection could take it; the
/// restarted client would then talk to someone else's etcd.
fn free_ports() -> io::Result<[u16; 3]> {
    const FIRST: u32 = 20_000;
    const WINDOW: u32 = 12_000;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Processes start at different places in the window so that parallel runs rarely meet.
    let start = std::process::id().wrapping_mul(2_654_435_761) % WINDOW;
    let mut ports = Vec::with_capacity(3);
    let mut probes = Vec::with_capacity(3);
    while ports.len() < 3 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        if n >= u64::from(WINDOW) {
            return Err(io::Error::other(
                "no free loopback port left for a local etcd in this process",
            ));
        }
        let port = (FIRST + (start + n as u32) % WINDOW) as u16;
        // Held open until all three are found, so that they differ and are free together.
        if let Ok(probe) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            probes.push(probe);
            ports.push(port);
        }
    }
    Ok([ports[0], ports[1], ports[2]])
}

fn fresh_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "rebalanser-etcd-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
