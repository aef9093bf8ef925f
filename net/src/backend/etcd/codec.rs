//! The mapping between the core's typed keys and values and etcd's bytes.
//!
//! Keys live under `/{group}/`: `members/{node}`, `leader`, `resources/{r}`, `assignment`,
//! `barriers/{r}`, `status`, `stopped/{node}`. Values are serde_json: serialization of the
//! core's types is deterministic (ordered collections, fixed field order), so equal values are
//! equal bytes and `Compare::ValueIs` can compare bytes inside etcd.

use protocol::registry::{Key, KeyValue, Value};
use protocol::{LeaseId, NodeId, ResourceId};

/// Encodes and decodes the keys of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCodec {
    prefix: String,
}

impl KeyCodec {
    /// The codec of `group` (whose keys all start with `/{group}/`).
    pub fn new(group: &str) -> KeyCodec {
        KeyCodec {
            prefix: format!("/{group}/"),
        }
    }

    /// `/{group}/`: every key of the group starts with it.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The etcd key of a typed key.
    pub fn key(&self, key: &Key) -> Vec<u8> {
        let p = &self.prefix;
        match key {
            Key::Member(n) => format!("{p}members/{n}"),
            Key::Leader => format!("{p}leader"),
            Key::Resource(r) => format!("{p}resources/{r}"),
            Key::Assignment => format!("{p}assignment"),
            Key::Barrier(r) => format!("{p}barriers/{r}"),
            Key::Status => format!("{p}status"),
            Key::Stopped(n) => format!("{p}stopped/{n}"),
        }
        .into_bytes()
    }

    /// The typed key of an etcd key, or `None` if it is not one of the group's keys.
    pub fn parse_key(&self, raw: &[u8]) -> Option<Key> {
        let rest = std::str::from_utf8(raw).ok()?.strip_prefix(&self.prefix)?;
        match rest {
            "leader" => return Some(Key::Leader),
            "assignment" => return Some(Key::Assignment),
            "status" => return Some(Key::Status),
            _ => {}
        }
        // Names may contain '/': everything after the kind is the name.
        let (kind, name) = rest.split_once('/')?;
        match kind {
            "members" => Some(Key::Member(NodeId::new(name))),
            "resources" => Some(Key::Resource(ResourceId::new(name))),
            "barriers" => Some(Key::Barrier(ResourceId::new(name))),
            "stopped" => Some(Key::Stopped(NodeId::new(name))),
            _ => None,
        }
    }

    /// A typed record from etcd's, or `None` (logged) if its key or value does not parse: such a
    /// key is not one of ours (someone else wrote under the prefix) and is skipped.
    pub fn parse_kv(&self, kv: &etcd_client::KeyValue) -> Option<(Key, KeyValue)> {
        let Some(key) = self.parse_key(kv.key()) else {
            tracing::warn!(
                key = %String::from_utf8_lossy(kv.key()),
                "etcd key under the group prefix is not a rebalanser key; skipped"
            );
            return None;
        };
        let value = match decode_value(kv.value()) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(%key, error = %e, "etcd value does not parse; key skipped");
                return None;
            }
        };
        Some((
            key,
            KeyValue {
                value,
                create_rev: rev(kv.create_revision()),
                mod_rev: rev(kv.mod_revision()),
                version: rev(kv.version()),
                lease: lease_of(kv.lease()),
            },
        ))
    }
}

/// A value's bytes (serde_json).
pub fn encode_value(value: &Value) -> Vec<u8> {
    // Serializing these plain data types cannot fail (string keys, no non-finite floats).
    serde_json::to_vec(value).expect("registry values serialize to JSON")
}

/// A value from its bytes.
pub fn decode_value(raw: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(raw)
}

/// etcd's signed revisions and counters as the core's (etcd never sends negative ones).
pub fn rev(r: i64) -> u64 {
    u64::try_from(r).unwrap_or(0)
}

/// etcd's lease field: 0 is "no lease".
pub fn lease_of(id: i64) -> Option<LeaseId> {
    (id != 0).then_some(LeaseId(id as u64))
}

/// The core's lease id as etcd's (a bit-for-bit round trip of [`lease_of`]).
pub fn lease_id(lease: LeaseId) -> i64 {
    lease.0 as i64
}
