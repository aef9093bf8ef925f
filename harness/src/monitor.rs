//! The resource-access monitor: ground truth for real processes.
//!
//! Every node's application reports its real starts and stops to the monitor before it acts on
//! them, and the monitor flags any moment when two nodes access one resource. A process that
//! dies closes its connection, and its access ends with it (a paused process keeps its
//! connection, and keeps accessing, as it would in production). The demo draws its live table
//! from here, and the chaos tests judge `no_double_access` and failover latency by it.

use futures_util::{SinkExt, StreamExt};
use net::wire::{FrameCodec, DEFAULT_MAX_FRAME};
use protocol::{NodeId, ResourceId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

/// What a node reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Report {
    /// The first frame: who reports.
    Hello(NodeId),
    /// Access begins now.
    Start(ResourceId),
    /// Access has ended.
    Stop(ResourceId),
}

/// One recorded moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// Milliseconds since the monitor started.
    pub at_ms: u64,
    /// Which node.
    pub node: NodeId,
    /// What: `Some(true)` start, `Some(false)` stop, `None` the process's connection closed.
    pub start: Option<bool>,
    /// Which resource (for a closed connection: each it still accessed).
    pub resource: ResourceId,
}

/// Two nodes accessed one resource at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlap {
    /// When the second access began.
    pub at_ms: u64,
    /// The resource.
    pub resource: ResourceId,
    /// Who accessed it then.
    pub nodes: Vec<NodeId>,
}

/// What the monitor knows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorState {
    /// Who accesses each resource now (more than one is a double access).
    pub holders: BTreeMap<ResourceId, BTreeSet<NodeId>>,
    /// Every double access seen.
    pub overlaps: Vec<Overlap>,
    /// Every start, stop and death, in order.
    pub log: Vec<Access>,
    /// Starts reported.
    pub starts: u64,
    /// Stops reported.
    pub stops: u64,
}

impl MonitorState {
    /// Whether the group has settled: every one of `resources` is accessed by exactly one of
    /// `live`, nothing else is accessed, and the per-node counts differ by at most one (the
    /// core's [`protocol::properties::settled`], asked of what the nodes reported).
    pub fn settled(&self, live: &BTreeSet<NodeId>, resources: &BTreeSet<ResourceId>) -> bool {
        protocol::properties::settled(&self.by_node(), live, resources)
    }

    /// What each node accesses now.
    pub fn by_node(&self) -> BTreeMap<NodeId, BTreeSet<ResourceId>> {
        let mut m: BTreeMap<NodeId, BTreeSet<ResourceId>> = BTreeMap::new();
        for (r, nodes) in &self.holders {
            for n in nodes {
                m.entry(n.clone()).or_default().insert(r.clone());
            }
        }
        m
    }
}

struct Shared {
    origin: Instant,
    state: Mutex<MonitorState>,
}

impl Shared {
    fn now(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn record(&self, node: &NodeId, resource: &ResourceId, start: Option<bool>) {
        let at_ms = self.now();
        let mut s = self.state.lock().expect("monitor lock");
        let holders = s.holders.entry(resource.clone()).or_default();
        if start == Some(true) {
            holders.insert(node.clone());
            if holders.len() > 1 {
                let nodes = holders.iter().cloned().collect();
                s.overlaps.push(Overlap {
                    at_ms,
                    resource: resource.clone(),
                    nodes,
                });
            }
            s.starts += 1;
        } else {
            holders.remove(node);
            if holders.is_empty() {
                s.holders.remove(resource);
            }
            if start == Some(false) {
                s.stops += 1;
            }
        }
        s.log.push(Access {
            at_ms,
            node: node.clone(),
            start,
            resource: resource.clone(),
        });
    }
}

/// A running monitor on a loopback port.
pub struct Monitor {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Monitor {
    /// Listen on 127.0.0.1 (a free port).
    pub async fn start() -> std::io::Result<Monitor> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            origin: Instant::now(),
            state: Mutex::new(MonitorState::default()),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, s.clone()));
            }
        });
        Ok(Monitor { addr, shared, task })
    }

    /// Where nodes report.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Milliseconds since the monitor started (the clock of its records).
    pub fn now_ms(&self) -> u64 {
        self.shared.now()
    }

    /// A copy of what it knows.
    pub fn state(&self) -> MonitorState {
        self.shared.state.lock().expect("monitor lock").clone()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let mut conn = Framed::new(stream, FrameCodec::<Report, bool>::new(DEFAULT_MAX_FRAME));
    let Some(Ok(Report::Hello(node))) = conn.next().await else {
        return;
    };
    let mut mine: BTreeSet<ResourceId> = BTreeSet::new();
    while let Some(Ok(report)) = conn.next().await {
        match report {
            Report::Start(r) => {
                shared.record(&node, &r, Some(true));
                mine.insert(r);
            }
            Report::Stop(r) => {
                shared.record(&node, &r, Some(false));
                mine.remove(&r);
            }
            Report::Hello(_) => break,
        }
        // Acknowledge only after recording: the node acts only once the monitor knows.
        if conn.send(true).await.is_err() {
            break;
        }
    }
    // The process is gone (or its connection is): so is its access.
    for r in mine {
        shared.record(&node, &r, None);
    }
}

/// A node's connection to the monitor.
pub struct MonitorClient {
    conn: tokio::sync::Mutex<Framed<TcpStream, FrameCodec<bool, Report>>>,
}

impl MonitorClient {
    /// Connect as `node`.
    pub async fn connect(addr: &str, node: &NodeId) -> Result<MonitorClient, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot reach the monitor at {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut conn = Framed::new(stream, FrameCodec::new(DEFAULT_MAX_FRAME));
        conn.send(Report::Hello(node.clone()))
            .await
            .map_err(|e| e.to_string())?;
        Ok(MonitorClient {
            conn: tokio::sync::Mutex::new(conn),
        })
    }

    /// Report a start or a stop; returns once the monitor recorded it.
    pub async fn report(&self, report: Report) -> Result<(), String> {
        let mut conn = self.conn.lock().await;
        conn.send(report).await.map_err(|e| e.to_string())?;
        match conn.next().await {
            Some(Ok(true)) => Ok(()),
            _ => Err("the monitor closed the connection".into()),
        }
    }
}
