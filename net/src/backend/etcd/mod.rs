//! The production registry: etcd v3, held to the semantics of [`protocol::Registry`].
//!
//! [`EtcdBackend`] opens one [`Link`] per client. Each link has its own etcd client (so one
//! node's connection trouble is its own, as with separate processes), connects lazily and lets
//! the gRPC channel reconnect by itself. Requests run concurrently (a keep-alive never waits
//! behind a slow transaction), each bounded by [`LinkTimeouts`], and each ends in exactly one
//! [`LinkEvent::Reply`](super::LinkEvent::Reply).
//!
//! How the core's registry maps onto etcd:
//!
//! | core | etcd |
//! |---|---|
//! | `Key::Member(n)`, `Leader`, ... | `/{group}/members/{n}`, `/{group}/leader`, ... (see [`codec`]) |
//! | `Value` | serde_json bytes (deterministic, so `ValueIs` compares bytes) |
//! | `Grant{ttl ms}` | lease grant of ⌈ttl/1000⌉ s (at least 1); the granted ttl comes back in ms |
//! | `KeepAlive` | one keep-alive on a fresh stream; ttl 0 means the lease is gone |
//! | `Txn` | one etcd txn; `Get`s are range ops inside it, so they see the txn's own writes |
//! | `Range` | a linearizable prefix get |
//! | `Watch{from_rev}` | a prefix watch from `from_rev`, one event per revision |
//!
//! **Revisions.** etcd's revision is cluster-global, so a reply may carry a revision at which
//! nothing of this group changed, and the core waits until its watch-fed view reaches the
//! revision of its last reply. So when a reply's revision is ahead of what the live watch has
//! delivered (and no event of ours is coming for it), the link asks etcd for a progress
//! notification and turns it into a [`WatchEvent`](protocol::registry::WatchEvent) with no
//! changes, which only advances the view. The private `watch` module explains how the
//! unsynchronised progress notifications of etcd before 3.4.25 are guarded against.
//!
//! **Where etcd differs from the core's registry** (none of it matters to the protocol):
//! - a watch from exactly the compacted revision works in etcd (the registry answers
//!   `Compacted`); from any earlier one both answer `Compacted`;
//! - etcd refuses a transaction that writes one key twice, or has more than 128 operations
//!   (`--max-txn-ops`): such a request ends `Fatal`;
//! - lease ttls are whole seconds, and etcd grants at least its minimum (1.5 election timeouts,
//!   rounded up: 2 s with etcd's defaults, 1 s for [`LocalEtcd`]).

pub mod codec;
mod link;
pub mod local;
mod watch;

pub use codec::KeyCodec;
pub use local::{LocalEtcd, LocalEtcdTls, INSTALL_HINT};

use super::{Backend, Link, LinkTimeouts};
use protocol::NodeId;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// TLS settings for the connection to etcd (endpoints then use `https://`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdTls {
    /// The CA certificate (PEM) that signed etcd's server certificate.
    pub ca: PathBuf,
    /// A client certificate (PEM), for etcd's `--client-cert-auth`.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM); required with `cert`.
    pub key: Option<PathBuf>,
    /// The name to verify etcd's certificate against, if not the endpoint's host.
    pub domain: Option<String>,
}

/// How to reach etcd and which group to serve.
#[derive(Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// etcd client endpoints (`http://host:2379` or `https://...`); the client balances over them.
    pub endpoints: Vec<String>,
    /// The group: every key lives under `/{group}/`. Must be non-empty, without `/`.
    pub group: String,
    /// User name and password, for an etcd with authentication enabled.
    pub user: Option<(String, String)>,
    /// TLS, for an etcd serving https.
    pub tls: Option<EtcdTls>,
    /// HTTP/2 keep-alive (ping interval, timeout): how fast a silently dead connection, and so
    /// a watch on it, is noticed. etcd refuses pings more often than every 5 s by default
    /// (`--grpc-keepalive-min-time`).
    pub keep_alive: Option<(Duration, Duration)>,
}

impl EtcdConfig {
    /// A configuration for `group` on `endpoints`, without authentication or TLS.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>, group: &str) -> Self {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            group: group.to_string(),
            user: None,
            tls: None,
            keep_alive: Some((Duration::from_secs(10), Duration::from_secs(5))),
        }
    }
}

impl fmt::Debug for EtcdConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password.
        f.debug_struct("EtcdConfig")
            .field("endpoints", &self.endpoints)
            .field("group", &self.group)
            .field("user", &self.user.as_ref().map(|(u, _)| u))
            .field("tls", &self.tls)
            .field("keep_alive", &self.keep_alive)
            .finish()
    }
}

/// A configuration that cannot work.
#[derive(Debug)]
pub struct EtcdConfigError(String);

impl fmt::Display for EtcdConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad etcd configuration: {}", self.0)
    }
}

impl std::error::Error for EtcdConfigError {}

/// The etcd registry backend of one group.
pub struct EtcdBackend {
    config: EtcdConfig,
    codec: KeyCodec,
    tls: Option<etcd_client::TlsOptions>,
}

impl EtcdBackend {
    /// A backend for `config`. Checks the configuration and reads the TLS files; connects to
    /// nothing (links connect lazily).
    pub fn new(config: EtcdConfig) -> Result<EtcdBackend, EtcdConfigError> {
        if config.endpoints.is_empty() {
            return Err(EtcdConfigError("no endpoints".into()));
        }
        if config.group.is_empty() || config.group.contains('/') {
            // A '/' would let one group's prefix reach into another's keys.
            return Err(EtcdConfigError(format!(
                "group {:?} must be non-empty and contain no '/'",
                config.group
            )));
        }
        let tls = config.tls.as_ref().map(tls_options).transpose()?;
        Ok(EtcdBackend {
            codec: KeyCodec::new(&config.group),
            config,
            tls,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EtcdConfig {
        &self.config
    }

    /// How this group's keys map to etcd's.
    pub fn codec(&self) -> &KeyCodec {
        &self.codec
    }

    fn connect_options(&self, timeouts: LinkTimeouts) -> etcd_client::ConnectOptions {
        let mut options = etcd_client::ConnectOptions::new().with_connect_timeout(timeouts.connect);
        if let Some((name, password)) = &self.config.user {
            options = options.with_user(name, password);
        }
        if let Some((interval, timeout)) = self.config.keep_alive {
            options = options.with_keep_alive(interval, timeout);
        }
        if let Some(tls) = &self.tls {
            options = options.with_tls(tls.clone());
        }
        options
    }
}

fn tls_options(tls: &EtcdTls) -> Result<etcd_client::TlsOptions, EtcdConfigError> {
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|e| EtcdConfigError(format!("cannot read {}: {e}", p.display())))
    };
    let mut options = etcd_client::TlsOptions::new()
        .ca_certificate(etcd_client::Certificate::from_pem(read(&tls.ca)?));
    match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            options = options.identity(etcd_client::Identity::from_pem(read(cert)?, read(key)?));
        }
        (None, None) => {}
        _ => {
            return Err(EtcdConfigError(
                "a TLS client certificate needs both cert and key".into(),
            ))
        }
    }
    if let Some(domain) = &tls.domain {
        options = options.domain_name(domain.clone());
    }
    Ok(options)
}

impl Backend for EtcdBackend {
    fn open(&self, client: &NodeId, timeouts: LinkTimeouts) -> Link {
        link::open(
            client.clone(),
            self.config.endpoints.clone(),
            self.connect_options(timeouts),
            self.codec.clone(),
            timeouts,
        )
    }

    fn group(&self) -> &str {
        &self.config.group
    }

    fn describe(&self) -> String {
        format!(
            "etcd at {}, group {}",
            self.config.endpoints.join(","),
            self.config.group
        )
    }
}
