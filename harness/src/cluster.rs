//! Node processes on this machine, for the demo and the chaos tests: spawn `rebalanser node`,
//! and kill, pause, resume or stop it by signal.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

/// One `rebalanser node` process.
pub struct NodeProcess {
    /// Its node name.
    pub name: String,
    child: Child,
}

impl NodeProcess {
    /// Start `bin node --name NAME ARGS...`, its output appended to `log` (or discarded).
    pub fn spawn(
        bin: &Path,
        name: &str,
        args: &[String],
        log: Option<&PathBuf>,
    ) -> std::io::Result<NodeProcess> {
        let mut cmd = Command::new(bin);
        cmd.arg("node").arg("--name").arg(name).args(args);
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        match log {
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                cmd.stdout(f.try_clone()?).stderr(f);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        Ok(NodeProcess {
            name: name.to_string(),
            child: cmd.spawn()?,
        })
    }

    fn signal(&self, signal: Signal) -> Result<(), String> {
        let pid = self
            .child
            .id()
            .ok_or_else(|| format!("{} has exited", self.name))?;
        kill(Pid::from_raw(pid as i32), signal)
            .map_err(|e| format!("{signal} to {}: {e}", self.name))
    }

    /// SIGKILL: the process dies at once, and its access with it.
    pub async fn kill(&mut self) -> Result<(), String> {
        self.signal(Signal::SIGKILL)?;
        let _ = self.child.wait().await;
        Ok(())
    }

    /// SIGSTOP: frozen, while its application (in this process) would keep accessing.
    pub fn pause(&self) -> Result<(), String> {
        self.signal(Signal::SIGSTOP)
    }

    /// SIGCONT.
    pub fn resume(&self) -> Result<(), String> {
        self.signal(Signal::SIGCONT)
    }

    /// SIGTERM: the node leaves gracefully; waits for the exit. Returns its exit code.
    pub async fn terminate(&mut self) -> Result<Option<i32>, String> {
        self.signal(Signal::SIGTERM)?;
        let status = self.child.wait().await.map_err(|e| e.to_string())?;
        Ok(status.code())
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// A TCP proxy on loopback between nodes and their registry, so that a test can cut every
/// connection at once, or point it at a registry that came back on another port.
pub struct Proxy {
    addr: std::net::SocketAddr,
    upstream: std::sync::Arc<std::sync::Mutex<String>>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listen on a free loopback port and forward to `upstream` (`HOST:PORT`).
    pub async fn start(upstream: &str) -> std::io::Result<Proxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let up = std::sync::Arc::new(std::sync::Mutex::new(upstream.to_string()));
        let links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> =
            Default::default();
        let (u, l) = (up.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = u.lock().expect("proxy lock").clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = inbound.set_nodelay(true);
                        let _ = outbound.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                let mut links = l.lock().expect("proxy lock");
                links.retain(|t| !t.is_finished());
                links.push(task.abort_handle());
            }
        });
        Ok(Proxy {
            addr,
            upstream: up,
            links,
            accept,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Forward new connections here from now on.
    pub fn set_upstream(&self, upstream: &str) {
        *self.upstream.lock().expect("proxy lock") = upstream.to_string();
    }

    /// Close every connection through the proxy now; returns how many there were.
    pub fn cut(&self) -> usize {
        let mut links = self.links.lock().expect("proxy lock");
        let n = links.iter().filter(|t| !t.is_finished()).count();
        for t in links.drain(..) {
            t.abort();
        }
        n
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// A `rebalanser registry` process with a data file, which a test can kill and start again.
pub struct RegistryProcess {
    bin: PathBuf,
    data: PathBuf,
    child: Option<Child>,
    addr: String,
}

impl RegistryProcess {
    /// Start `bin registry --listen 127.0.0.1:0 --data DATA`; waits for its address.
    pub async fn start(bin: &Path, data: &Path) -> Result<RegistryProcess, String> {
        let mut r = RegistryProcess {
            bin: bin.to_path_buf(),
            data: data.to_path_buf(),
            child: None,
            addr: String::new(),
        };
        r.restart().await?;
        Ok(r)
    }

    /// Its current address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// SIGKILL it (the data file keeps what it acknowledged).
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// Start it again on a new port over the same data file.
    pub async fn restart(&mut self) -> Result<(), String> {
        use tokio::io::AsyncBufReadExt;
        self.kill().await;
        let mut child = Command::new(&self.bin)
            .args(["registry", "--listen", "127.0.0.1:0", "--data"])
            .arg(&self.data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the registry: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
            .await
            .map_err(|_| "the registry did not start within 10 s".to_string())?
            .map_err(|e| e.to_string())?
            .ok_or("the registry exited at once")?;
        self.addr = line
            .strip_prefix("registry listening on ")
            .ok_or_else(|| format!("unexpected registry output: {line}"))?
            .to_string();
        // Keep draining its stdout so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
        Ok(())
    }
}
