//! The messages of the embedded registry's protocol.

use protocol::registry::WatchEvent;
use protocol::{NodeId, Request, Response};
use serde::{Deserialize, Serialize};

/// The version of this wire format; client and server must agree.
pub const WIRE_VERSION: u32 = 1;

/// What a client sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientFrame {
    /// The first frame of every connection.
    Hello {
        /// [`WIRE_VERSION`] of the client.
        version: u32,
        /// The group whose registry the client talks to.
        group: String,
        /// The client's name: watch events are routed to it.
        client: NodeId,
        /// The shared token, when the server requires one.
        token: Option<String>,
    },
    /// A registry request; answered by a [`ServerFrame::Reply`] with the same `id`.
    Request {
        /// The client's id for it.
        id: u64,
        /// The request.
        request: Request,
    },
}

/// What the server sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerFrame {
    /// The answer to [`ClientFrame::Hello`]: the connection is open.
    Welcome {
        /// [`WIRE_VERSION`] of the server.
        version: u32,
    },
    /// The answer to one request.
    Reply {
        /// The client's id of the request.
        id: u64,
        /// How it ended.
        reply: WireReply,
    },
    /// An event on the client's watch.
    Watch(WatchEvent),
    /// The client's watch ended (another connection of the same client replaced it, or the
    /// server could not keep up with it); the client re-reads and watches again.
    WatchBroken,
    /// The connection is being closed because of this problem.
    Error {
        /// What was wrong, naming the bad value.
        message: String,
    },
}

/// How the server ended one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireReply {
    /// Processed: the registry's answer.
    Ok(Response),
    /// Not applied: the server is overloaded; try again later (RETRYABLE).
    Overloaded,
    /// Not applied: the request is invalid and will fail again (FATAL).
    Invalid(String),
}

/// Whether a group, node or resource name is acceptable: 1 to 128 bytes, no control character,
/// no `/` (names end up in etcd paths and log lines).
pub fn valid_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 128 {
        return Err(format!("{what} '{name}' must be 1 to 128 bytes long"));
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || *c == '/') {
        return Err(format!("{what} '{name}' contains the character {c:?}"));
    }
    Ok(())
}
