//! # Rebalanser's test and demo harness
//!
//! This room holds what runs a group on one machine to watch it or to break it, and nothing a
//! production node needs: node and registry processes started by argv and killed, paused,
//! resumed or stopped by signal, a loopback proxy whose connections can be cut, the access
//! monitor that is the ground truth of who accesses what, and the `rebalanser demo` scenario.
//! It may depend on `protocol` (whose [`protocol::properties::settled`] judges a settled group)
//! and on `net` (the embedded registry, its wire format and the admin client), and on the
//! process and signal machinery (`tokio`'s `process`, `nix`) that those must not carry. Nothing
//! in `protocol` or `net` may depend on it; the binary and its tests do.
//!
//! - [`cluster`] holds [`NodeProcess`](cluster::NodeProcess),
//!   [`RegistryProcess`](cluster::RegistryProcess) and the [`Proxy`](cluster::Proxy).
//! - [`monitor`] holds the access monitor, its [`MonitorClient`](monitor::MonitorClient) for
//!   nodes, and [`MonitorState::settled`](monitor::MonitorState::settled).
//! - [`demo`] holds the demo scenario, its live table and its JSON report.

pub mod cluster;
pub mod demo;
pub mod monitor;
