//! # Rebalanser's network adapter
//!
//! This room holds what an embedder needs to run a production node, and nothing else: it may
//! depend on `protocol` and on the network and async machinery (tokio, its codecs, and with the
//! feature `etcd` the etcd client), never on the test and demo harness (`harness`, which drives
//! processes by signal and depends on this crate), and it carries no protocol rule and no
//! duration of its own derived from the ttl (those are [`NodeConfig`](protocol::NodeConfig)'s).
//!
//! Embed the model-checked protocol core in a production node: the [`Rebalanser`] builder
//! drives `protocol`'s [`Node`](protocol::Node) with the real clock, real timers and a real
//! registry connection, and calls your handlers when a resource is yours to start or must be
//! stopped. No protocol rule lives here: this crate only carries inputs and outputs.
//!
//! - Registries ([`backend`]): the [embedded registry](EmbeddedBackend) (`rebalanser
//!   registry`, zero-install, one machine, not replicated) and, with the cargo feature `etcd`,
//!   etcd v3 (`backend::etcd`), the production registry.
//! - [`server`]: the embedded registry server, the pure [`protocol::Registry`] over TCP.
//! - [`admin`]: adding and removing resources.
//! - [`wire`]: the frames and names shared by the embedded registry's clients and server.
//!
//! ## Embedding
//!
//! A node of group `orders` that runs whatever resources it is given. The handlers' completion
//! is what the core waits for: a resource's barrier is released for another node only after
//! `on_stop` returned `Ok`. A handler that errs, panics or (stopping) overruns the stop budget
//! aborts the resource and fences the node: never a silent double access.
//!
//! ```
//! use net::{admin::Admin, EmbeddedBackend, Rebalanser, Server, ServerConfig};
//! use protocol::ResourceId;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), String> {
//! // A registry for this example; in production, point the nodes at etcd or at
//! // `rebalanser registry`.
//! let server = Server::start(ServerConfig {
//!     listen: "127.0.0.1:0".parse().unwrap(),
//!     ..ServerConfig::default()
//! })
//! .await?;
//! let registry = EmbeddedBackend::new(server.local_addr().to_string(), "orders");
//! Admin::open(&registry).add_resource(&ResourceId::new("queue-1")).await?;
//!
//! let mut node = Rebalanser::builder()
//!     .registry(registry)
//!     .node_id("worker-1")
//!     .ttl(Duration::from_secs(3)) // a crashed node's resources move after about this long
//!     .min_rebalance_interval(Duration::from_secs(1))
//!     .stop_budget(Duration::from_millis(500)) // on_stop must finish within this
//!     .on_start(|r| async move {
//!         println!("consuming {r}");
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .on_stop(|r| async move {
//!         println!("no longer consuming {r}");
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .on_aborted(|r, why| async move {
//!         // Last word: access to r must have ended when this returns.
//!         eprintln!("aborted {r}: {why}");
//!     })
//!     .start()?;
//!
//! let state = node.wait_for(|s| !s.running.is_empty()).await;
//! assert_eq!(node.assigned(), [ResourceId::new("queue-1")].into());
//! assert!(state.term.is_some()); // alone in the group, it leads
//! node.shutdown(Duration::from_secs(5)).await?; // stops, releases, revokes its lease
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod admin;
pub mod backend;
mod embed;
mod runtime;
pub mod server;
pub mod wire;

pub use backend::embedded::EmbeddedBackend;
pub use backend::{Backend, LinkTimeouts};
pub use embed::{NodeHandle, Rebalanser};
pub use runtime::{Aborted, NodeEvent, NodeState};
pub use server::{Server, ServerConfig};
