//! The embedding API: a builder for one node of a group, and the handle it returns.

use crate::backend::{Backend, LinkTimeouts};
use crate::runtime::app::{AbortHandler, App, Handler, Handlers};
use crate::runtime::{Aborted, Command, NodeEvent, NodeState, Runtime};
use protocol::{Node, NodeConfig, NodeId, Phase, ResourceId};
use std::collections::BTreeSet;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

/// Builds one node of a group; see the [crate docs](crate) for a complete example.
pub struct Rebalanser {
    node: Option<NodeId>,
    backend: Option<Arc<dyn Backend>>,
    config: NodeConfig,
    timeouts: Option<LinkTimeouts>,
    handlers: Handlers,
}

impl Rebalanser {
    /// A builder with the core's default timing (ttl 3 s, minimum rebalance interval 1 s, stop
    /// budget 500 ms, drift 1%) and handlers that do nothing.
    pub fn builder() -> Rebalanser {
        Rebalanser {
            node: None,
            backend: None,
            config: NodeConfig::default(),
            timeouts: None,
            handlers: Handlers::default(),
        }
    }

    /// The registry, which also names the group (required).
    pub fn registry(mut self, backend: impl Backend) -> Self {
        self.backend = Some(Arc::new(backend));
        self
    }

    /// This node's name, unique in the group (default `node-{pid}`).
    pub fn node_id(mut self, node: impl AsRef<str>) -> Self {
        self.node = Some(NodeId::new(node));
        self
    }

    /// The lease time to live: a crashed node's resources move after about this long.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.config.ttl = ttl.as_millis() as u64;
        self
    }

    /// The leader writes assignments at least this far apart (batches churn).
    pub fn min_rebalance_interval(mut self, interval: Duration) -> Self {
        self.config.min_rebalance_interval = interval.as_millis() as u64;
        self
    }

    /// How long `on_stop` may take. A stop handler that overruns it is cancelled and the
    /// resource aborted; the node fences itself this long before its lease can expire.
    pub fn stop_budget(mut self, budget: Duration) -> Self {
        self.config.stop_budget = budget.as_millis() as u64;
        self
    }

    /// The largest drift of this node's clock against the registry's, in parts per thousand.
    pub fn max_drift_permille(mut self, permille: u64) -> Self {
        self.config.max_drift_permille = permille;
        self
    }

    /// Back-off after a request failed.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.config.retry = retry.as_millis() as u64;
        self
    }

    /// How long a request may go unanswered and a connection attempt may take (default:
    /// [`LinkTimeouts::for_config`], a third of the ttl and a sixth of it, at most 500 ms).
    pub fn timeouts(mut self, timeouts: LinkTimeouts) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// Called when the node may start accessing a resource: its barrier is held. Return `Ok`
    /// once the application accesses it. An error or a panic aborts the resource and fences the
    /// node (see [`Rebalanser::on_aborted`]).
    pub fn on_start<F, Fut, E>(mut self, f: F) -> Self
    where
        F: Fn(ResourceId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        self.handlers.on_start = handler(f);
        self
    }

    /// Called when the node must stop accessing a resource. Return `Ok` only once access has
    /// ended: only then is the barrier released for another node. It must finish within the
    /// stop budget; an error, a panic or an overrun aborts the resource and fences the node.
    pub fn on_stop<F, Fut, E>(mut self, f: F) -> Self
    where
        F: Fn(ResourceId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        self.handlers.on_stop = handler(f);
        self
    }

    /// Called when a start or stop handler failed. The node has fenced itself: it keeps its
    /// lease alive no longer, releases no barrier, and stops every other resource. When this
    /// handler returns, the application must no longer access the resource (kill the task,
    /// drop the connection, or exit the process): the barrier dies with the old lease, at the
    /// latest a ttl later, and another node may then start it.
    pub fn on_aborted<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(ResourceId, Aborted) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let h: AbortHandler = Arc::new(move |r, why| Box::pin(f(r, why)));
        self.handlers.on_aborted = h;
        self
    }

    /// Validate the configuration and start the node on the current tokio runtime: it joins
    /// the group, and the handlers are called from then on.
    pub fn start(self) -> Result<NodeHandle, String> {
        let backend = self
            .backend
            .ok_or("no registry given: call .registry(...)")?;
        self.config.validate()?;
        let node = self
            .node
            .unwrap_or_else(|| NodeId::new(format!("node-{}", std::process::id())));
        crate::wire::valid_name("node id", &node.0)?;
        let timeouts = self
            .timeouts
            .unwrap_or_else(|| LinkTimeouts::for_config(&self.config));
        let link = backend.open(&node, timeouts);
        let app = App::new(
            self.handlers,
            Duration::from_millis(self.config.stop_budget),
        );
        let (commands_tx, commands) = mpsc::channel(4);
        let (state_tx, state) = watch::channel(NodeState {
            node: node.clone(),
            phase: Phase::Idle,
            lease: None,
            term: None,
            assignment: None,
            applied: None,
            members: 0,
            resources: 0,
            running: BTreeSet::new(),
        });
        // Subscribed before the runtime runs, so the first `events()` misses nothing.
        let (events, first_events) = broadcast::channel(1024);
        let core = Node::new(node, self.config, None);
        let runtime = Runtime::new(core, link, app, commands, state_tx, events.clone());
        tracing::info!("starting on the {}", backend.describe());
        let task = tokio::spawn(runtime.run());
        Ok(NodeHandle {
            state,
            commands: commands_tx,
            events,
            first_events: Mutex::new(Some(first_events)),
            task,
        })
    }
}

/// A user's start or stop handler, boxed, its error turned into text.
fn handler<F, Fut, E>(f: F) -> Handler
where
    F: Fn(ResourceId) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display,
{
    Arc::new(move |r| {
        let fut = f(r);
        Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
    })
}

/// A running node. Dropping it makes the node leave gracefully in the background;
/// [`NodeHandle::shutdown`] waits for that.
pub struct NodeHandle {
    state: watch::Receiver<NodeState>,
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<NodeEvent>,
    first_events: Mutex<Option<broadcast::Receiver<NodeEvent>>>,
    task: JoinHandle<()>,
}

impl NodeHandle {
    /// The resources the application runs now.
    pub fn assigned(&self) -> BTreeSet<ResourceId> {
        self.state.borrow().running.clone()
    }

    /// The node's state.
    pub fn state(&self) -> NodeState {
        self.state.borrow().clone()
    }

    /// Wait until the state satisfies `pred` (or the node ended); returns the state.
    pub async fn wait_for(&mut self, pred: impl Fn(&NodeState) -> bool) -> NodeState {
        let _ = self.state.wait_for(|s| pred(s)).await;
        self.state()
    }

    /// The node's events (joins, leadership, fences, starts, stops and aborts). The first call
    /// receives every event since [`Rebalanser::start`] (the node runs at once, so a later
    /// subscription could miss its join or an early abort); each later call receives the
    /// events from the moment of the call. A receiver that falls more than 1,024 events behind
    /// gets `Lagged` and then the newest events.
    pub fn events(&self) -> broadcast::Receiver<NodeEvent> {
        let first = self.first_events.lock().map(|mut f| f.take());
        match first {
            Ok(Some(rx)) => rx,
            _ => self.events.subscribe(),
        }
    }

    /// Leave the group gracefully: stop every resource (each within the stop budget), release
    /// the barriers by revoking the lease, and end. Waits at most `timeout`.
    pub async fn shutdown(mut self, timeout: Duration) -> Result<(), String> {
        let _ = self.commands.send(Command::Leave).await;
        match tokio::time::timeout(timeout, &mut self.task).await {
            Ok(_) => Ok(()),
            Err(_) => {
                let s = self.state();
                self.task.abort();
                Err(format!(
                    "{} did not leave within {} ms (phase {:?}, running {})",
                    s.node,
                    timeout.as_millis(),
                    s.phase,
                    s.running.len()
                ))
            }
        }
    }
}
