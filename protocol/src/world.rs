//! The world every checker observes: the registry, and each process with its node and the
//! ground truth of what its application accesses.
//!
//! The model checker and the simulator both hold their processes as [`Process`] values and
//! evaluate the same [`properties`](crate::properties) over a [`World`].

use crate::ids::ResourceId;
use crate::node::{Input, Node};
use crate::registry::Registry;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};

/// A command the node gave the application.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AppCommand {
    /// Start accessing.
    Start(ResourceId),
    /// Stop accessing.
    Stop(ResourceId),
}

/// The application beside a node: it carries out commands in order, each at a later moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct App {
    /// What it accesses now: the ground truth of every access property.
    pub accessing: BTreeSet<ResourceId>,
    /// Commands not yet carried out, oldest first.
    pub pending: VecDeque<AppCommand>,
}

impl App {
    /// Carry out the oldest command; returns the acknowledgement to feed the node.
    pub fn perform(&mut self) -> Option<Input> {
        match self.pending.pop_front()? {
            AppCommand::Start(r) => {
                self.accessing.insert(r.clone());
                Some(Input::Started(r))
            }
            AppCommand::Stop(r) => {
                self.accessing.remove(&r);
                Some(Input::Stopped(r))
            }
        }
    }

    /// Whether a stop is still to be carried out.
    pub fn stop_pending(&self) -> bool {
        self.pending
            .iter()
            .any(|c| matches!(c, AppCommand::Stop(_)))
    }

    /// The process died: its access ends at once.
    pub fn crash(&mut self) {
        self.accessing.clear();
        self.pending.clear();
    }
}

/// One process: a node and its application. `up` is false while it is crashed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Process {
    /// The protocol node.
    pub node: Node,
    /// The application beside it.
    pub app: App,
    /// Running (not crashed).
    pub up: bool,
}

/// What the properties look at.
#[derive(Clone, Copy, Debug)]
pub struct World<'a> {
    /// The registry.
    pub registry: &'a Registry,
    /// Every process.
    pub processes: &'a [Process],
}
