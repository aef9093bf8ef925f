//! Replay files: everything needed to reproduce one run bit for bit, and to check that it did.

use crate::config::SimConfig;
use crate::run::RunResult;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a replay file says it is.
pub const FORMAT: &str = "rebalanser-replay";
/// The replay file layout this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// One failing (or any) run, saved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReplayFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The version of the crate that wrote it: the trace hash is only promised for the same
    /// build.
    pub crate_version: String,
    /// The seed.
    pub seed: u64,
    /// The configuration, with any swarm mix already resolved.
    pub config: SimConfig,
    /// The trace hash the run produced, as 16 hex digits.
    pub hash: String,
    /// The property that failed first, if any.
    pub property: Option<String>,
    /// When it failed, simulated ms.
    pub time_ms: Option<u64>,
    /// `protocol` or `assumption-breached`.
    pub label: Option<String>,
    /// Events processed in the whole run.
    pub events: u64,
}

impl ReplayFile {
    /// The file for `result`, a run of `config`.
    pub fn new(config: &SimConfig, result: &RunResult) -> ReplayFile {
        let first = result.first_violation();
        ReplayFile {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            crate_version: env!("CARGO_PKG_VERSION").into(),
            seed: result.seed,
            config: resolved(config, result),
            hash: hex(result.hash),
            property: first.map(|v| v.property.clone()),
            time_ms: first.map(|v| v.time_ms),
            label: first.map(|v| v.label().into()),
            events: result.events,
        }
    }

    /// Write it as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write replay file {}: {e}", path.display()))
    }

    /// Read and check one.
    pub fn load(path: &Path) -> Result<ReplayFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read replay file {}: {e}", path.display()))?;
        ReplayFile::parse(&text).map_err(|e| format!("replay file {}: {e}", path.display()))
    }

    /// Parse and check one.
    pub fn parse(text: &str) -> Result<ReplayFile, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            if e.is_eof() {
                format!("truncated: {e}")
            } else {
                format!("not valid JSON: {e}")
            }
        })?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => return Err(format!("format is '{other}', expected '{FORMAT}'")),
            None => {
                return Err(format!(
                    "no \"format\": \"{FORMAT}\" field; not a replay file"
                ))
            }
        }
        match value.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "schema_version {v} is not supported by this build (it reads version \
                     {SCHEMA_VERSION})"
                ))
            }
            None => return Err("no schema_version".into()),
        }
        let file: ReplayFile =
            serde_json::from_value(value).map_err(|e| format!("bad field: {e}"))?;
        parse_hex(&file.hash).ok_or_else(|| {
            format!(
                "hash '{}' is not 16 hex digits",
                file.hash.chars().take(40).collect::<String>()
            )
        })?;
        file.config.validate()?;
        Ok(file)
    }

    /// The recorded hash.
    pub fn hash_value(&self) -> u64 {
        parse_hex(&self.hash).unwrap_or_default()
    }
}

/// `config` with the run's fault mix written out, so that replaying needs no swarm draw.
pub fn resolved(config: &SimConfig, result: &RunResult) -> SimConfig {
    let mut c = config.clone();
    if c.swarm {
        c.swarm = false;
        c.faults = result.plan.clone();
    }
    c
}

/// A trace hash as 16 hex digits.
pub fn hex(hash: u64) -> String {
    format!("{hash:016x}")
}

fn parse_hex(s: &str) -> Option<u64> {
    (s.len() == 16)
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
}
