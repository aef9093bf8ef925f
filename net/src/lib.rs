//! # Rebalanser's network adapter
//!
//! (crate docs are written with the embedding API)

pub mod admin;
pub mod backend;
pub mod cluster;
mod embed;
pub mod monitor;
mod runtime;
pub mod server;
pub mod wire;

pub use backend::embedded::EmbeddedBackend;
pub use backend::{Backend, LinkTimeouts};
pub use embed::{NodeHandle, Rebalanser};
pub use runtime::{Aborted, NodeEvent, NodeState};
pub use server::{Server, ServerConfig};
