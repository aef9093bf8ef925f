//! # Rebalanser's protocol core
//!
//! Kafka-style consumer groups over any resources: every resource is accessed by exactly one
//! node, the load is balanced, and the group rebalances by itself when nodes or resources come
//! and go. This crate is the protocol as a pure state machine: it does no I/O, reads no clock,
//! draws no randomness and spawns no thread. The stateright model, the simulator and the
//! production runtime all drive this same code.
//!
//! - [`Registry`]: the etcd-shaped registry (revisions, leases, transactions, watches).
//! - [`Node`]: one node of the resource-barrier protocol.
//! - [`allocate()`]: sticky, balanced allocation.
//! - [`properties`]: the safety and liveness properties, over a [`World`].
//! - [`Mutant`]: deliberate defects that every checker must catch.
//!
//! ## Embedding
//!
//! The runtime owns time, sockets and the application. It feeds each [`Input`] with the node's
//! local clock and carries out each [`Output`]:
//!
//! ```
//! use protocol::{Input, Node, NodeConfig, NodeId, Output, Registry, Time};
//!
//! let mut registry = Registry::new(); // in production: etcd, behind the same semantics
//! let me = NodeId::new("worker-1");
//! let mut node = Node::new(me.clone(), NodeConfig::default(), None);
//! let mut inbox = vec![Input::Join];
//! let mut started = Vec::new();
//! for _ in 0..20 {
//!     let Some(input) = inbox.pop() else { break };
//!     for output in node.handle(Time(0), input) {
//!         match output {
//!             Output::Send { req, request } => {
//!                 // A real runtime sends this over the network and maps errors to outcomes.
//!                 let (response, events) = registry.handle(Time(0), &me, &request);
//!                 inbox.push(Input::Reply { req, outcome: protocol::Outcome::Success(response) });
//!                 inbox.extend(events.into_iter().map(|(_, e)| Input::Watch(e)));
//!             }
//!             Output::Start(r) => { started.push(r.clone()); inbox.push(Input::Started(r)) }
//!             Output::Stop(r) => inbox.push(Input::Stopped(r)),
//!             Output::SetTimer { .. } | Output::CancelTimer(_) | Output::Log(_) => {}
//!         }
//!     }
//! }
//! // A lone node registers, elects itself and writes the first assignment.
//! assert_eq!(node.term().is_some(), true);
//! ```

pub mod admin;
pub mod allocate;
pub mod ids;
pub mod mutant;
pub mod node;
pub mod properties;
pub mod registry;
pub mod rename;
pub mod rpc;
pub mod world;

pub use allocate::{allocate, Assignment};
pub use ids::{LeaseId, NodeId, ReqId, ResourceId, Revision, Session, Time};
pub use mutant::Mutant;
pub use node::{Event, Input, Local, Node, NodeConfig, Output, Phase, TimerKind, View};
pub use properties::Property;
pub use registry::{Registry, Request, Response};
pub use rpc::{FailureStep, Outcome};
pub use world::{App, AppCommand, Process, World};
