//! The results a report is made of: the JSON files `check --json`, `sim --json` and
//! `tla --json` write (whether the report ran them itself or `--from` names them), each read
//! and recognised by its `command` and `schema_version`, or refused with the file and why.

use crate::result::{Checked, Kind};
use serde::Deserialize;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

/// One result, and where it came from.
#[derive(Clone, Debug)]
pub struct Input {
    /// Its file.
    pub path: PathBuf,
    /// What it says.
    pub result: Checked,
}

impl Input {
    /// Which command wrote it.
    pub fn kind(&self) -> Kind {
        self.result.kind()
    }
}

/// Read and recognise `path`.
pub fn read(path: &Path) -> Result<Input, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("--from {shown}: {e}"))?;
    if text.trim().is_empty() {
        return Err(format!("--from {shown}: the file is empty"));
    }
    let json: Json =
        serde_json::from_str(&text).map_err(|e| format!("--from {shown}: not JSON ({e})"))?;
    // What every result starts with: which command wrote it, in which layout.
    #[derive(serde::Deserialize)]
    struct Header {
        command: Option<String>,
        schema_version: Option<u64>,
    }
    let header = Header::deserialize(&json).unwrap_or(Header {
        command: None,
        schema_version: None,
    });
    let command = header.command.as_deref().ok_or_else(|| {
        format!(
            "--from {shown}: not a result of rebalanser check, sim or tla (no \"command\" field)"
        )
    })?;
    let kind = match command {
        "check" => Kind::Check,
        "sim" => Kind::Sim,
        "tla" => Kind::Tla,
        "tla --cross-check" => Kind::CrossCheck,
        other => {
            return Err(format!(
                "--from {shown}: \"command\": \"{other}\" is not one a report reads (check, \
                 sim, tla, tla --cross-check)"
            ))
        }
    };
    let version = header.schema_version;
    let expected = u64::from(match kind {
        Kind::Check => model::check::SCHEMA_VERSION,
        Kind::Sim => crate::result::sim::SCHEMA_VERSION,
        Kind::Tla => tla::SCHEMA_VERSION,
        Kind::CrossCheck => crate::result::cross_check::SCHEMA_VERSION,
    });
    if version != Some(expected) {
        return Err(format!(
            "--from {shown}: schema_version {} of {command}, this rebalanser reads {expected}",
            version.map_or("missing".to_string(), |v| v.to_string())
        ));
    }
    let command = command.to_string();
    let bad = |e: serde_json::Error| {
        format!("--from {shown}: a {command} result without what its schema needs: {e}")
    };
    let result = match kind {
        Kind::Check => Checked::Check(serde_json::from_value(json).map_err(bad)?),
        Kind::Sim => Checked::Sim(serde_json::from_value(json).map_err(bad)?),
        Kind::Tla => Checked::Tla(serde_json::from_value(json).map_err(bad)?),
        Kind::CrossCheck => Checked::CrossCheck(serde_json::from_value(json).map_err(bad)?),
    };
    Ok(Input {
        path: path.to_path_buf(),
        result,
    })
}
