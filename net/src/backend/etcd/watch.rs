//! The link's watch: etcd watch responses as the core's per-revision watch events.
//!
//! **Progress.** The core waits until its view reaches the revision of its last reply, but
//! etcd's revisions are cluster-global: a compare that failed, a read, or writes outside the
//! group leave nothing for the watch to deliver at that revision. So a reply whose revision is
//! ahead of the watch asks for a progress notification (`request_progress`, etcd ≥ 3.4), and a
//! notification (a response with no events) becomes a [`WatchEvent`] with no changes.
//!
//! **etcd before 3.4.25** (Debian ships 3.4.23) answers a progress request at once with its
//! current revision, even while this watch still has events to send (etcd issue 15220): while
//! the watch catches up after being created in the past, and, rarely, when the answer overtakes
//! an event already queued for the stream. Hence:
//! - a watch created at a past revision asks for no progress until it has delivered its first
//!   events or [`CATCH_UP_GRACE`] has passed (etcd syncs catching-up watches every 100 ms);
//! - if an event ever arrives at or below a revision already reported by a notification, the
//!   core's view may have missed it: the link reports [`LinkEvent::WatchBroken`], and the core
//!   re-reads and watches again.
//!
//! etcd before 3.4.24 may also send an event twice (etcd PR 15275): revisions already
//! delivered are dropped.

use super::codec::rev;
use super::link::{classify, header_rev, is_out_of_range, Ctx};
use crate::backend::LinkEvent;
use etcd_client::{EventType, GetOptions, WatchOptions, WatchResponse, WatchStream, Watcher};
use futures_util::StreamExt;
use protocol::registry::{Change, Response, WatchEvent};
use protocol::{Outcome, ReqId, Revision};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// How long a watch created at a past revision is assumed to be still catching up.
pub(super) const CATCH_UP_GRACE: Duration = Duration::from_millis(500);

/// An unanswered progress request is sent again after this long.
const PROGRESS_RETRY: Duration = Duration::from_secs(1);

/// A reply carried `rev`: the watch must deliver that far.
#[derive(Clone, Copy, Debug)]
pub(super) struct WantProgress {
    pub rev: Revision,
    /// Wait this long first for an event of ours at `rev` to arrive by itself.
    pub settle: Duration,
}

impl WantProgress {
    pub(super) fn now(rev: Revision) -> WantProgress {
        WantProgress {
            rev,
            settle: Duration::ZERO,
        }
    }
}

/// The link's handle on its live watch. Dropping it stops the watch.
pub(super) struct WatchSlot {
    delivered: Arc<AtomicU64>,
    wants: mpsc::UnboundedSender<WantProgress>,
    _stop: oneshot::Sender<()>,
}

impl WatchSlot {
    pub(super) fn want(&self, want: WantProgress) {
        if want.rev > self.delivered.load(Ordering::Acquire) {
            let _ = self.wants.send(want);
        }
    }
}

/// The watch task's side of a [`WatchSlot`].
pub(super) struct WatchTask {
    delivered: Arc<AtomicU64>,
    wants: mpsc::UnboundedReceiver<WantProgress>,
    stop: oneshot::Receiver<()>,
}

pub(super) fn prepare(from_rev: Revision) -> (WatchSlot, WatchTask) {
    let delivered = Arc::new(AtomicU64::new(from_rev.saturating_sub(1)));
    let (wants_tx, wants) = mpsc::unbounded_channel();
    let (stop_tx, stop) = oneshot::channel();
    (
        WatchSlot {
            delivered: delivered.clone(),
            wants: wants_tx,
            _stop: stop_tx,
        },
        WatchTask {
            delivered,
            wants,
            stop,
        },
    )
}

/// How a watch request went. (Built once per request and moved at once: its size is no cost.)
#[allow(clippy::large_enum_variant)]
enum Created {
    Live {
        watcher: Watcher,
        stream: WatchStream,
        /// etcd created it synced (at a future revision): nothing to catch up.
        synced: bool,
    },
    Compacted(Revision),
}

/// Create the watch, answer the request, then deliver its events until it ends.
pub(super) async fn run(ctx: Arc<Ctx>, req: ReqId, from_rev: Revision, task: WatchTask) {
    // etcd reads 0 as "from now"; the core's registry has no such thing.
    let from = from_rev.max(1);
    let created = match ctx.client().await {
        Err(outcome) => Err(outcome),
        Ok(client) => tokio::time::timeout(ctx.timeouts.request, create(&ctx, client, from))
            .await
            .unwrap_or(Err(Outcome::Unknown)),
    };
    let (outcome, live) = match created {
        Ok(Created::Live {
            watcher,
            stream,
            synced,
        }) => (
            Outcome::Success(Response::WatchCreated),
            Some((watcher, stream, synced)),
        ),
        Ok(Created::Compacted(compact_rev)) => {
            (Outcome::Success(Response::Compacted { compact_rev }), None)
        }
        Err(outcome) => (outcome, None),
    };
    tracing::debug!(node = %ctx.node, req, from, %outcome, "etcd watch request done");
    // The reply goes first: the watch's events follow it on the same channel.
    if ctx
        .events
        .send(LinkEvent::Reply { req, outcome })
        .await
        .is_err()
    {
        return;
    }
    if let Some((watcher, stream, synced)) = live {
        let mut w = Delivery {
            ctx: &ctx,
            watcher,
            from,
            last_event: from - 1,
            delivered: from - 1,
            shared: task.delivered,
            trusted: synced,
        };
        let broken = w.deliver(stream, task.wants, task.stop).await;
        if broken {
            let _ = ctx.events.send(LinkEvent::WatchBroken).await;
        }
    }
}

async fn create(
    ctx: &Ctx,
    client: etcd_client::Client,
    from: Revision,
) -> Result<Created, Outcome> {
    let start = i64::try_from(from).unwrap_or(i64::MAX);
    let prefix = ctx.codec.prefix();
    let watched = client
        .watch_client()
        .watch(
            prefix,
            Some(WatchOptions::new().with_prefix().with_start_revision(start)),
        )
        .await;
    let (watcher, mut stream) = match watched {
        Ok(w) => w,
        Err(e) => {
            ctx.forget_expired_token(&e).await;
            return Err(classify(&e));
        }
    };
    // etcd tells a compacted start only on its next sync pass, and never says whether the
    // watch is catching up; a read at the start revision answers both at once.
    let probe = GetOptions::new()
        .with_prefix()
        .with_count_only()
        .with_revision(start);
    match client.kv_client().get(prefix, Some(probe)).await {
        // `from` ≤ the current revision: the watch catches up on the past.
        Ok(_) => Ok(Created::Live {
            watcher,
            stream,
            synced: false,
        }),
        // `from` is ahead of every revision, so it was when the watch was made: synced.
        Err(e) if is_out_of_range(&e, "future revision") => Ok(Created::Live {
            watcher,
            stream,
            synced: true,
        }),
        Err(e) if is_out_of_range(&e, "compacted") => {
            // The cancellation that carries the compact revision follows within ~100 ms.
            loop {
                match stream.message().await {
                    Ok(Some(resp)) if resp.canceled() && resp.compact_revision() > 0 => {
                        return Ok(Created::Compacted(rev(resp.compact_revision())))
                    }
                    Ok(Some(resp)) if resp.canceled() => return Err(Outcome::Unknown),
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => return Err(Outcome::Unknown),
                }
            }
        }
        Err(e) => Err(classify(&e)),
    }
}

/// One live watch's delivery state.
struct Delivery<'a> {
    ctx: &'a Ctx,
    watcher: Watcher,
    from: Revision,
    /// The highest revision delivered by a real event.
    last_event: Revision,
    /// The highest revision delivered at all (events and progress notifications).
    delivered: Revision,
    /// `delivered`, for the link's request tasks.
    shared: Arc<AtomicU64>,
    /// Whether a progress notification can be believed (the watch is not catching up).
    trusted: bool,
}

enum Step {
    Go,
    Broken,
    Closed,
}

impl Delivery<'_> {
    /// Deliver until the watch ends; whether it ended broken (rather than replaced or closed).
    async fn deliver(
        &mut self,
        mut stream: WatchStream,
        mut wants: mpsc::UnboundedReceiver<WantProgress>,
        mut stop: oneshot::Receiver<()>,
    ) -> bool {
        let created = Instant::now();
        // The highest revision wanted and not yet delivered, and when to ask etcd for it.
        let mut pending: Option<(Revision, Instant)> = None;
        loop {
            let ask_at = pending.map(|(_, at)| {
                if self.trusted {
                    at
                } else {
                    at.max(created + CATCH_UP_GRACE)
                }
            });
            let step = tokio::select! {
                biased;
                _ = &mut stop => Step::Closed,
                msg = stream.next() => match msg {
                    Some(Ok(resp)) => self.on_response(resp).await,
                    None => {
                        tracing::debug!(node = %self.ctx.node, "etcd watch stream ended");
                        Step::Broken
                    }
                    Some(Err(e)) => {
                        tracing::debug!(node = %self.ctx.node, error = %e, "etcd watch failed");
                        Step::Broken
                    }
                },
                Some(want) = wants.recv() => {
                    let at = Instant::now() + want.settle;
                    pending = match pending {
                        Some((r, t)) if want.rev <= r => Some((r, t)),
                        // A request made before `want.rev` was committed cannot cover it.
                        Some((_, t)) => Some((want.rev, t.min(at))),
                        None => Some((want.rev, at)),
                    };
                    Step::Go
                }
                _ = sleep_until(ask_at), if ask_at.is_some() => {
                    // Catching up for longer than etcd ever takes: believe it is done.
                    self.trusted = true;
                    let (want, _) = pending.expect("armed only when pending");
                    // Ask again later if the answer never comes.
                    pending = Some((want, Instant::now() + PROGRESS_RETRY));
                    tracing::trace!(node = %self.ctx.node, want, delivered = self.delivered, "etcd progress request");
                    match self.watcher.request_progress().await {
                        Ok(()) => Step::Go,
                        Err(_) => Step::Broken,
                    }
                }
            };
            match step {
                Step::Go => {}
                Step::Broken => return true,
                Step::Closed => return false,
            }
            if pending.is_some_and(|(want, _)| want <= self.delivered) {
                pending = None;
            }
        }
    }

    async fn on_response(&mut self, resp: WatchResponse) -> Step {
        if resp.canceled() {
            tracing::info!(
                node = %self.ctx.node,
                compact_rev = resp.compact_revision(),
                reason = resp.cancel_reason(),
                "etcd cancelled the watch"
            );
            return Step::Broken;
        }
        if resp.created() {
            return Step::Go;
        }
        if resp.events().is_empty() {
            return self.on_progress(header_rev(resp.header())).await;
        }
        // One etcd response may span several revisions (a catch-up batch); a revision never
        // spans responses (we do not ask for fragments).
        let mut revisions: BTreeMap<Revision, Vec<Change>> = BTreeMap::new();
        for event in resp.events() {
            let Some(kv) = event.kv() else { continue };
            let changes = revisions.entry(rev(kv.mod_revision())).or_default();
            match event.event_type() {
                EventType::Put => {
                    if let Some((key, kv)) = self.ctx.codec.parse_kv(kv) {
                        changes.push(Change::Put(key, kv));
                    }
                }
                EventType::Delete => match self.ctx.codec.parse_key(kv.key()) {
                    Some(key) => changes.push(Change::Delete(key)),
                    None => tracing::warn!(
                        key = %String::from_utf8_lossy(kv.key()),
                        "deleted etcd key under the group prefix is not a rebalanser key; skipped"
                    ),
                },
            }
        }
        for (rev, mut changes) in revisions {
            if rev < self.from || rev <= self.last_event {
                tracing::debug!(node = %self.ctx.node, rev, "duplicate etcd watch event dropped");
                continue;
            }
            if rev <= self.delivered {
                tracing::warn!(
                    node = %self.ctx.node,
                    rev,
                    reported = self.delivered,
                    "etcd reported progress past an event it had not sent yet (etcd < 3.4.25); \
                     breaking the watch so that the node re-reads"
                );
                return Step::Broken;
            }
            // A revision's order of changes carries no meaning; the core lists them by key.
            changes.sort();
            self.last_event = rev;
            if !self.emit(WatchEvent { rev, changes }).await {
                return Step::Closed;
            }
        }
        // Events came: the watch is synced (a catch-up batch ends at etcd's revision then).
        self.trusted = true;
        Step::Go
    }

    async fn on_progress(&mut self, rev: Revision) -> Step {
        if !self.trusted {
            // We ask only once trusted; one that comes earlier may run ahead of events.
            tracing::debug!(node = %self.ctx.node, rev, "etcd progress notification ignored while catching up");
            return Step::Go;
        }
        if rev > self.delivered
            && !self
                .emit(WatchEvent {
                    rev,
                    changes: Vec::new(),
                })
                .await
        {
            return Step::Closed;
        }
        Step::Go
    }

    async fn emit(&mut self, event: WatchEvent) -> bool {
        self.delivered = event.rev;
        self.shared.store(event.rev, Ordering::Release);
        self.ctx.events.send(LinkEvent::Watch(event)).await.is_ok()
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
