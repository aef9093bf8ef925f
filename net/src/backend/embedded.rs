//! The embedded registry's client: one TCP connection per link, reconnecting after failures.

use super::{Backend, Link, LinkEvent, LinkTimeouts};
use crate::wire::{
    ClientFrame, FrameCodec, ServerFrame, WireReply, DEFAULT_MAX_FRAME, WIRE_VERSION,
};
use futures_util::{SinkExt, StreamExt};
use protocol::{NodeId, Outcome, ReqId, Request, Response};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::Framed;

type Conn = Framed<TcpStream, FrameCodec<ServerFrame, ClientFrame>>;

/// The embedded registry (`rebalanser registry`) at an address.
#[derive(Clone, Debug)]
pub struct EmbeddedBackend {
    addr: String,
    group: String,
    token: Option<String>,
}

impl EmbeddedBackend {
    /// The server at `addr` (`host:port`), for `group`.
    pub fn new(addr: impl Into<String>, group: impl Into<String>) -> Self {
        EmbeddedBackend {
            addr: addr.into(),
            group: group.into(),
            token: None,
        }
    }

    /// Present this shared token (the server requires one when it listens beyond loopback).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

impl Backend for EmbeddedBackend {
    fn open(&self, client: &NodeId, timeouts: LinkTimeouts) -> Link {
        let (requests, requests_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::channel(1024);
        let task = LinkTask {
            backend: self.clone(),
            client: client.clone(),
            timeouts,
            events: events_tx,
            conn: None,
            pending: BTreeMap::new(),
            next_id: 0,
            watching: false,
            retry_at: None,
        };
        tokio::spawn(task.run(requests_rx));
        Link { requests, events }
    }

    fn group(&self) -> &str {
        &self.group
    }

    fn describe(&self) -> String {
        format!("embedded registry at {}, group {}", self.addr, self.group)
    }
}

struct LinkTask {
    backend: EmbeddedBackend,
    client: NodeId,
    timeouts: LinkTimeouts,
    events: mpsc::Sender<LinkEvent>,
    conn: Option<Conn>,
    /// Wire id → the runtime's id and the moment it ends UNKNOWN.
    pending: BTreeMap<u64, (ReqId, Instant)>,
    next_id: u64,
    /// A watch was asked for on this connection.
    watching: bool,
    /// After a failed connect, requests fail POST_FAILED at once until then (no connect storm).
    retry_at: Option<Instant>,
}

impl LinkTask {
    async fn run(mut self, mut requests: mpsc::UnboundedReceiver<(ReqId, Request)>) {
        loop {
            let deadline = self.pending.values().map(|(_, d)| *d).min();
            tokio::select! {
                req = requests.recv() => match req {
                    Some((req, request)) => self.send(req, request).await,
                    None => return, // the runtime is gone
                },
                frame = next_frame(&mut self.conn) => self.on_frame(frame).await,
                _ = sleep_until(deadline) => self.time_out().await,
            }
        }
    }

    async fn emit(&self, event: LinkEvent) {
        let _ = self.events.send(event).await;
    }

    async fn send(&mut self, req: ReqId, request: Request) {
        if self.conn.is_none() && !self.connect().await {
            return self
                .emit(LinkEvent::Reply {
                    req,
                    outcome: Outcome::PostFailed,
                })
                .await;
        }
        let id = self.next_id;
        self.next_id += 1;
        if matches!(request, Request::Watch { .. }) {
            self.watching = true;
        }
        let conn = self.conn.as_mut().expect("connected above");
        let sent = tokio::time::timeout(
            self.timeouts.request,
            conn.send(ClientFrame::Request { id, request }),
        )
        .await;
        match sent {
            Ok(Ok(())) => {
                let deadline = Instant::now() + self.timeouts.request;
                self.pending.insert(id, (req, deadline));
            }
            // Part of it may have gone out: the registry may apply it.
            _ => {
                self.emit(LinkEvent::Reply {
                    req,
                    outcome: Outcome::Unknown,
                })
                .await;
                self.disconnect(format!("sending to {} failed", self.backend.addr))
                    .await;
            }
        }
    }

    async fn connect(&mut self) -> bool {
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        match tokio::time::timeout(self.timeouts.connect, self.handshake()).await {
            Ok(Ok(conn)) => {
                self.conn = Some(conn);
                self.retry_at = None;
                true
            }
            Ok(Err(e)) => {
                tracing::debug!("{}: {e}", self.client);
                self.retry_at = Some(Instant::now() + Duration::from_millis(100));
                false
            }
            Err(_) => {
                tracing::debug!(
                    "{}: connecting to {} timed out",
                    self.client,
                    self.backend.addr
                );
                false
            }
        }
    }

    async fn handshake(&self) -> Result<Conn, String> {
        let addr = &self.backend.addr;
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to the registry at {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut conn = Framed::new(stream, FrameCodec::new(DEFAULT_MAX_FRAME));
        let hello = ClientFrame::Hello {
            version: WIRE_VERSION,
            group: self.backend.group.clone(),
            client: self.client.clone(),
            token: self.backend.token.clone(),
        };
        conn.send(hello).await.map_err(|e| e.to_string())?;
        match conn.next().await {
            Some(Ok(ServerFrame::Welcome { .. })) => Ok(conn),
            Some(Ok(ServerFrame::Error { message })) => {
                tracing::error!("the registry at {addr} refused {}: {message}", self.client);
                Err(message)
            }
            Some(Ok(other)) => Err(format!("unexpected answer to Hello: {other:?}")),
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!("the registry at {addr} closed the connection")),
        }
    }

    async fn on_frame(&mut self, frame: Option<Result<ServerFrame, crate::wire::WireError>>) {
        match frame {
            Some(Ok(ServerFrame::Reply { id, reply })) => {
                let Some((req, _)) = self.pending.remove(&id) else {
                    return; // answered UNKNOWN already
                };
                let outcome = match reply {
                    WireReply::Ok(response) => Outcome::Success(response),
                    WireReply::Overloaded => Outcome::Retryable,
                    WireReply::Invalid(why) => {
                        tracing::warn!("the registry rejected a request of {}: {why}", self.client);
                        Outcome::Fatal
                    }
                };
                if matches!(outcome, Outcome::Success(Response::Compacted { .. })) {
                    self.watching = false;
                }
                self.emit(LinkEvent::Reply { req, outcome }).await;
            }
            Some(Ok(ServerFrame::Watch(event))) => self.emit(LinkEvent::Watch(event)).await,
            Some(Ok(ServerFrame::WatchBroken)) => {
                self.watching = false;
                self.emit(LinkEvent::WatchBroken).await;
            }
            Some(Ok(ServerFrame::Error { message })) => {
                self.disconnect(format!("the registry closed the connection: {message}"))
                    .await
            }
            Some(Ok(ServerFrame::Welcome { .. })) => {
                self.disconnect("a second Welcome from the registry".into())
                    .await
            }
            Some(Err(e)) => self.disconnect(e.to_string()).await,
            None => {
                self.disconnect("the registry closed the connection".into())
                    .await
            }
        }
    }

    async fn time_out(&mut self) {
        let now = Instant::now();
        let late: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, (_, d))| *d <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some((req, _)) = self.pending.remove(&id) {
                self.emit(LinkEvent::Reply {
                    req,
                    outcome: Outcome::Unknown,
                })
                .await;
            }
        }
    }

    /// Every request still out ends UNKNOWN, and the watch breaks with the connection.
    async fn disconnect(&mut self, why: String) {
        if self.conn.take().is_none() {
            return;
        }
        tracing::debug!("{}: {why}", self.client);
        for (_, (req, _)) in std::mem::take(&mut self.pending) {
            self.emit(LinkEvent::Reply {
                req,
                outcome: Outcome::Unknown,
            })
            .await;
        }
        if std::mem::take(&mut self.watching) {
            self.emit(LinkEvent::WatchBroken).await;
        }
    }
}

async fn next_frame(
    conn: &mut Option<Conn>,
) -> Option<Result<ServerFrame, crate::wire::WireError>> {
    match conn {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
