//! One client connection: the handshake, then frames in and out.
//!
//! A frame that does not decode (or is too large, or a second hello) gets an `Error` frame
//! naming the problem and closes this connection only; the core and every other client carry on.

use super::state::CoreMsg;
use super::{ServerConfig, ServerStats};
use crate::wire::{valid_name, ClientFrame, FrameCodec, ServerFrame, WireReply, WIRE_VERSION};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::codec::{FramedRead, FramedWrite};

/// Frames queued for one client before the server gives up on it (a client that does not read).
const OUTBOUND: usize = 16_384;
/// How long a new connection has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn serve(
    conn: u64,
    stream: TcpStream,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
    core: mpsc::Sender<CoreMsg>,
    stats: watch::Sender<ServerStats>,
    mut stop: watch::Receiver<bool>,
) {
    let (rd, wr) = stream.into_split();
    let mut reader = FramedRead::new(
        rd,
        FrameCodec::<ClientFrame, ServerFrame>::new(config.max_frame),
    );
    let mut writer = FramedWrite::new(
        wr,
        FrameCodec::<ClientFrame, ServerFrame>::new(config.max_frame),
    );

    let (group, client) = match tokio::time::timeout(HELLO_TIMEOUT, reader.next()).await {
        Ok(Some(Ok(ClientFrame::Hello {
            version,
            group,
            client,
            token,
        }))) => match check_hello(&config, version, &group, &client.0, token.as_deref()) {
            Ok(()) => (group, client),
            Err(message) => return reject(&mut writer, &stats, peer, message).await,
        },
        Ok(Some(Ok(ClientFrame::Request { .. }))) => {
            let message = "the first frame must be Hello".to_string();
            return reject(&mut writer, &stats, peer, message).await;
        }
        Ok(Some(Err(e))) => return reject(&mut writer, &stats, peer, e.to_string()).await,
        Ok(None) => return,
        Err(_) => {
            let message = format!("no Hello within {} s", HELLO_TIMEOUT.as_secs());
            return reject(&mut writer, &stats, peer, message).await;
        }
    };

    let (out, mut out_rx) = mpsc::channel::<ServerFrame>(OUTBOUND);
    let kill = Arc::new(Notify::new());
    let open = CoreMsg::Open {
        conn,
        group,
        client,
        out: out.clone(),
        kill: kill.clone(),
    };
    if core.send(open).await.is_err() {
        return;
    }
    if writer
        .send(ServerFrame::Welcome {
            version: WIRE_VERSION,
        })
        .await
        .is_err()
    {
        let _ = core.send(CoreMsg::Closed { conn }).await;
        return;
    }
    let mut write_task = tokio::spawn(async move {
        while let Some(frame) = out_rx.recv().await {
            if writer.send(frame).await.is_err() {
                break;
            }
        }
    });

    let mut killed = false;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = kill.notified() => {
                killed = true;
                break;
            }
            frame = reader.next() => match frame {
                Some(Ok(ClientFrame::Request { id, request })) => {
                    match core.try_send(CoreMsg::Request { conn, id, request }) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            let overloaded = ServerFrame::Reply { id, reply: WireReply::Overloaded };
                            if out.try_send(overloaded).is_err() {
                                break;
                            }
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => break,
                    }
                }
                Some(Ok(ClientFrame::Hello { .. })) => {
                    bad_frame(&out, &stats, peer, "a second Hello on an open connection".into());
                    break;
                }
                Some(Err(e)) => {
                    bad_frame(&out, &stats, peer, e.to_string());
                    break;
                }
                None => break,
            },
        }
    }
    let _ = core.send(CoreMsg::Closed { conn }).await;
    drop(out);
    // Let the writer flush (an error frame, say), unless the client was cut off.
    if killed
        || tokio::time::timeout(Duration::from_secs(2), &mut write_task)
            .await
            .is_err()
    {
        write_task.abort();
    }
}

fn check_hello(
    config: &ServerConfig,
    version: u32,
    group: &str,
    client: &str,
    token: Option<&str>,
) -> Result<(), String> {
    if version != WIRE_VERSION {
        return Err(format!(
            "wire version {version} is not supported (this server speaks {WIRE_VERSION})"
        ));
    }
    if let Some(expected) = &config.token {
        if !token.is_some_and(|t| constant_time_eq(t.as_bytes(), expected.as_bytes())) {
            return Err("wrong or missing token".into());
        }
    }
    valid_name("group", group)?;
    valid_name("client name", client)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn bad_frame(
    out: &mpsc::Sender<ServerFrame>,
    stats: &watch::Sender<ServerStats>,
    peer: SocketAddr,
    message: String,
) {
    tracing::warn!("closing the connection from {peer}: {message}");
    stats.send_modify(|s| s.rejected += 1);
    let _ = out.try_send(ServerFrame::Error { message });
}

async fn reject(
    writer: &mut FramedWrite<tokio::net::tcp::OwnedWriteHalf, FrameCodec<ClientFrame, ServerFrame>>,
    stats: &watch::Sender<ServerStats>,
    peer: SocketAddr,
    message: String,
) {
    tracing::warn!("rejecting the connection from {peer}: {message}");
    stats.send_modify(|s| s.rejected += 1);
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        writer.send(ServerFrame::Error { message }),
    )
    .await;
}
