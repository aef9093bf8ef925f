//! Registry backends: how a node's requests reach a registry and its outcomes come back.
//!
//! A backend opens one [`Link`] per client. The node runtime sends `(req, request)` pairs down
//! the link and reads [`LinkEvent`]s back: exactly one [`LinkEvent::Reply`] per request, and the
//! client's watch events. Real failures map to the five outcomes of the protocol core:
//!
//! | what happened | outcome |
//! |---|---|
//! | could not connect, nothing was sent | `PostFailed` |
//! | sent, then the connection broke or the reply did not come in time | `Unknown` |
//! | the registry refused it for now (overloaded, unavailable, not applied) | `Retryable` |
//! | the registry rejected it as invalid | `Fatal` |
//!
//! A backend never decides anything of the protocol: it only carries requests and says how
//! each ended. The core does the rest.

pub mod embedded;
#[cfg(feature = "etcd")]
pub mod etcd;

use protocol::registry::WatchEvent;
use protocol::{NodeConfig, NodeId, Outcome, ReqId, Request};
use std::time::Duration;
use tokio::sync::mpsc;

/// What comes back over a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// How one request ended.
    Reply {
        /// The runtime's id of the request.
        req: ReqId,
        /// Its outcome.
        outcome: Outcome,
    },
    /// An event on the client's watch, in revision order.
    Watch(WatchEvent),
    /// The watch ended: the client must re-read and watch again.
    WatchBroken,
}

/// One client's connection to the registry, as the runtime sees it.
pub struct Link {
    /// Requests to send. The link answers each with one [`LinkEvent::Reply`].
    pub requests: mpsc::UnboundedSender<(ReqId, Request)>,
    /// Replies and watch events.
    pub events: mpsc::Receiver<LinkEvent>,
}

/// How long a link waits for a reply, and for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkTimeouts {
    /// A request unanswered this long ends `Unknown` (its late reply is dropped).
    pub request: Duration,
    /// A connection attempt that takes this long fails (the request ends `PostFailed`).
    pub connect: Duration,
}

impl LinkTimeouts {
    /// The timeouts a node with this configuration uses unless told otherwise: the core's
    /// [`NodeConfig::request_timeout`] and [`NodeConfig::connect_timeout`], which say why.
    pub fn for_config(config: &NodeConfig) -> LinkTimeouts {
        LinkTimeouts {
            request: Duration::from_millis(config.request_timeout()),
            connect: Duration::from_millis(config.connect_timeout()),
        }
    }
}

/// Those of a node with the core's default configuration (ttl 3 s: 1 s and 500 ms).
impl Default for LinkTimeouts {
    fn default() -> Self {
        LinkTimeouts::for_config(&NodeConfig::default())
    }
}

/// A registry: it opens links for clients of one group.
pub trait Backend: Send + Sync + 'static {
    /// Open a link for `client` (spawning its task on the current tokio runtime). The link
    /// connects lazily and reconnects after failures by itself.
    fn open(&self, client: &NodeId, timeouts: LinkTimeouts) -> Link;

    /// The group this backend serves.
    fn group(&self) -> &str;

    /// A one-line description for logs (`embedded registry at 127.0.0.1:7400, group orders`).
    fn describe(&self) -> String;
}

impl Backend for Box<dyn Backend> {
    fn open(&self, client: &NodeId, timeouts: LinkTimeouts) -> Link {
        (**self).open(client, timeouts)
    }

    fn group(&self) -> &str {
        (**self).group()
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}
