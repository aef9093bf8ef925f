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
