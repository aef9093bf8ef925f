//! Watch events: what a watcher of the group receives, in revision order.

use super::key::{Key, KeyValue};
use crate::ids::Revision;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One key's change within a revision.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Change {
    /// The key was created or overwritten.
    Put(Key, KeyValue),
    /// The key was deleted.
    Delete(Key),
}

/// Everything one revision changed in the group. Watchers receive these in revision order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WatchEvent {
    /// The revision.
    pub rev: Revision,
    /// The changes, in the order the transaction made them.
    pub changes: Vec<Change>,
}

impl fmt::Display for WatchEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}:", self.rev)?;
        for c in &self.changes {
            match c {
                Change::Put(k, kv) => write!(f, " put {k}={}", kv.value)?,
                Change::Delete(k) => write!(f, " delete {k}")?,
            }
        }
        Ok(())
    }
}
