//! The results a report is made of: the JSON files `check --json`, `sim --json` and
//! `tla --json` write (whether the report ran them itself or `--from` names them), each read
//! and recognised by its `command` and `schema_version`, or refused with the file and why.

use serde_json::Value as Json;
use std::path::{Path, PathBuf};

/// Which command wrote a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `rebalanser check --json`.
    Check,
    /// `rebalanser sim --json`.
    Sim,
    /// `rebalanser tla --json`.
    Tla,
    /// `rebalanser tla --cross-check --json`: the mutant kill matrix.
    CrossCheck,
}

impl Kind {
    /// The checker's name in the report.
    pub fn checker(self) -> &'static str {
        match self {
            Kind::Check => "model",
            Kind::Sim => "sim",
            Kind::Tla | Kind::CrossCheck => "tlc",
        }
    }
}

/// One result file.
#[derive(Clone, Debug)]
pub struct Input {
    /// Where it came from.
    pub path: PathBuf,
    /// What wrote it.
    pub kind: Kind,
    /// Its contents.
    pub json: Json,
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
    let command = json.get("command").and_then(Json::as_str).ok_or_else(|| {
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
    let version = json.get("schema_version").and_then(Json::as_u64);
    let expected = u64::from(match kind {
        Kind::Check => model::check::SCHEMA_VERSION,
        Kind::Sim => crate::simulate::SCHEMA_VERSION,
        Kind::Tla => tla::SCHEMA_VERSION,
        Kind::CrossCheck => crate::cross_check::SCHEMA_VERSION,
    });
    if version != Some(expected) {
        return Err(format!(
            "--from {shown}: schema_version {} of {command}, this rebalanser reads {expected}",
            version.map_or("missing".to_string(), |v| v.to_string())
        ));
    }
    let needed: &[&str] = match kind {
        Kind::Check => &["properties", "figures", "config"],
        Kind::Sim => &["properties", "figures", "config", "failures", "coverage"],
        Kind::Tla => &["figures", "verdict", "config"],
        Kind::CrossCheck => &["rows", "all_agree"],
    };
    for field in needed {
        if json.get(field).is_none() {
            return Err(format!(
                "--from {shown}: a {command} result without \"{field}\""
            ));
        }
    }
    Ok(Input {
        path: path.to_path_buf(),
        kind,
        json,
    })
}
