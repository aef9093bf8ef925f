//! Running the application's handlers: in order per resource, concurrently across resources.
//!
//! The core's `Start(r)` and `Stop(r)` become calls of the user's `on_start` and `on_stop`; their
//! completion is the acknowledgement the core waits for (a barrier is released only after the stop
//! handler returned). A handler that errs, panics, or (for a stop) overruns the stop budget is a
//! failure: the runtime fences the node, runs `on_aborted`, and only then treats the resource as
//! stopped.

use protocol::ResourceId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A boxed handler future.
pub type HandlerFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// A start or stop handler: `Ok` once the application has started (stopped) the resource.
pub type Handler = Arc<dyn Fn(ResourceId) -> HandlerFuture<Result<(), String>> + Send + Sync>;
/// The abort handler: the application must have ceased accessing the resource when it returns.
pub type AbortHandler = Arc<dyn Fn(ResourceId, Aborted) -> HandlerFuture<()> + Send + Sync>;

/// Why a resource was aborted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Aborted {
    /// `on_start` returned an error.
    StartFailed(String),
    /// `on_start` panicked.
    StartPanicked(String),
    /// `on_stop` returned an error.
    StopFailed(String),
    /// `on_stop` panicked.
    StopPanicked(String),
    /// `on_stop` did not finish within the stop budget (and was cancelled).
    StopOverran(Duration),
}

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aborted::StartFailed(e) => write!(f, "on_start failed: {e}"),
            Aborted::StartPanicked(e) => write!(f, "on_start panicked: {e}"),
            Aborted::StopFailed(e) => write!(f, "on_stop failed: {e}"),
            Aborted::StopPanicked(e) => write!(f, "on_stop panicked: {e}"),
            Aborted::StopOverran(d) => {
                write!(f, "on_stop overran the stop budget of {} ms", d.as_millis())
            }
        }
    }
}

/// The application's three handlers.
#[derive(Clone)]
pub struct Handlers {
    pub(crate) on_start: Handler,
    pub(crate) on_stop: Handler,
    pub(crate) on_aborted: AbortHandler,
}

impl Default for Handlers {
    fn default() -> Self {
        Handlers {
            on_start: Arc::new(|_| Box::pin(async { Ok(()) })),
            on_stop: Arc::new(|_| Box::pin(async { Ok(()) })),
            on_aborted: Arc::new(|_, _| Box::pin(async {})),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Start,
    Stop,
    /// Run `on_aborted`; `acks_stop` when it stands for a stop the core asked for.
    Abort {
        why: Aborted,
        acks_stop: bool,
    },
}

/// A handler finished.
#[derive(Debug)]
pub(crate) enum Done {
    /// The application runs `r`.
    Started(ResourceId),
    /// The application no longer accesses `r` (stopped, aborted, or never started).
    Stopped(ResourceId),
    /// A handler failed: fence, and abort `r`.
    Failed(ResourceId, Aborted),
}

/// The application side of one node.
pub(crate) struct App {
    handlers: Handlers,
    stop_budget: Duration,
    queues: BTreeMap<ResourceId, VecDeque<Command>>,
    busy: BTreeSet<ResourceId>,
    /// What the application runs: its start handler returned, no stop has begun.
    running: BTreeSet<ResourceId>,
    /// What it may access: from the start call until the stop (or abort) returned.
    accessing: BTreeSet<ResourceId>,
    done_tx: mpsc::UnboundedSender<(ResourceId, Command, Result<(), Aborted>)>,
    pub(crate) done_rx: mpsc::UnboundedReceiver<(ResourceId, Command, Result<(), Aborted>)>,
}

impl App {
    pub(crate) fn new(handlers: Handlers, stop_budget: Duration) -> App {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        App {
            handlers,
            stop_budget,
            queues: BTreeMap::new(),
            busy: BTreeSet::new(),
            running: BTreeSet::new(),
            accessing: BTreeSet::new(),
            done_tx,
            done_rx,
        }
    }

    pub(crate) fn running(&self) -> &BTreeSet<ResourceId> {
        &self.running
    }

    /// Whether any handler is still at work.
    pub(crate) fn idle(&self) -> bool {
        self.busy.is_empty()
    }

    pub(crate) fn start(&mut self, r: ResourceId) {
        self.enqueue(r, Command::Start);
    }

    pub(crate) fn stop(&mut self, r: ResourceId) {
        self.enqueue(r, Command::Stop);
    }

    fn enqueue(&mut self, r: ResourceId, c: Command) {
        self.queues.entry(r.clone()).or_default().push_back(c);
        self.next(&r);
    }

    /// A handler returned: what it means for the node.
    pub(crate) fn finished(
        &mut self,
        r: ResourceId,
        c: Command,
        result: Result<(), Aborted>,
    ) -> Option<Done> {
        self.busy.remove(&r);
        let done = match (c, result) {
            (Command::Start, Ok(())) => {
                self.running.insert(r.clone());
                Some(Done::Started(r.clone()))
            }
            (Command::Stop, Ok(())) => {
                self.accessing.remove(&r);
                Some(Done::Stopped(r.clone()))
            }
            // The abort handler returned: access has ended. A stop still queued finds nothing
            // to stop and is acknowledged at once.
            (Command::Abort { acks_stop, .. }, _) => {
                self.accessing.remove(&r);
                acks_stop.then(|| Done::Stopped(r.clone()))
            }
            (c @ (Command::Start | Command::Stop), Err(why)) => {
                self.running.remove(&r);
                let abort = Command::Abort {
                    why: why.clone(),
                    acks_stop: c == Command::Stop,
                };
                self.queues.entry(r.clone()).or_default().push_front(abort);
                Some(Done::Failed(r.clone(), why))
            }
        };
        self.next(&r);
        done
    }

    fn next(&mut self, r: &ResourceId) {
        if self.busy.contains(r) {
            return;
        }
        let Some(queue) = self.queues.get_mut(r) else {
            return;
        };
        let Some(c) = queue.pop_front() else {
            self.queues.remove(r);
            return;
        };
        let done = self.done_tx.clone();
        let rid = r.clone();
        match &c {
            Command::Start if self.accessing.contains(r) => {
                // Already accessing (it cannot happen: the core never starts twice); say so.
                let _ = done.send((rid, c, Ok(())));
            }
            Command::Start => {
                self.accessing.insert(r.clone());
                let fut = (self.handlers.on_start)(r.clone());
                tokio::spawn(async move {
                    let result = match tokio::spawn(fut).await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(Aborted::StartFailed(e)),
                        Err(e) => Err(Aborted::StartPanicked(panic_message(e))),
                    };
                    let _ = done.send((rid, c, result));
                });
            }
            Command::Stop if !self.accessing.contains(r) => {
                // Never started, or aborted already: nothing to stop.
                let _ = done.send((rid, c, Ok(())));
            }
            Command::Stop => {
                self.running.remove(r);
                let fut = (self.handlers.on_stop)(r.clone());
                let budget = self.stop_budget;
                tokio::spawn(async move {
                    let task = tokio::spawn(fut);
                    let abort = task.abort_handle();
                    let result = match tokio::time::timeout(budget, task).await {
                        Ok(Ok(Ok(()))) => Ok(()),
                        Ok(Ok(Err(e))) => Err(Aborted::StopFailed(e)),
                        Ok(Err(e)) => Err(Aborted::StopPanicked(panic_message(e))),
                        Err(_) => {
                            abort.abort();
                            Err(Aborted::StopOverran(budget))
                        }
                    };
                    let _ = done.send((rid, c, result));
                });
            }
            Command::Abort { why, .. } => {
                let fut = (self.handlers.on_aborted)(r.clone(), why.clone());
                tokio::spawn(async move {
                    // Whatever the abort handler does, even panicking, it is its last word.
                    let _ = tokio::spawn(fut).await;
                    let _ = done.send((rid, c, Ok(())));
                });
            }
        }
        self.busy.insert(r.clone());
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic".into()),
        Err(e) => e.to_string(),
    }
}
