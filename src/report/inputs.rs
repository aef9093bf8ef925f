//! The results a report is made of: the JSON files `check --json`, `sim --json` and
//! `tla --json` write (whether the report ran them itself or `--from` names them), each read
//! and recognised by its `command` and `schema_version`, or refused with the file and why.

use model::check::CheckReport;
use reports::result::cross_check::CrossCheckReport;
use reports::result::sim::SimReport;
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

/// A result, typed by the command that wrote it.
#[derive(Clone, Debug)]
pub enum Checked {
    /// `rebalanser check --json`.
    Check(Box<CheckReport>),
    /// `rebalanser sim --json`.
    Sim(Box<SimReport>),
    /// `rebalanser tla --json`.
    Tla(Box<Json>),
    /// `rebalanser tla --cross-check --json`.
    CrossCheck(Box<CrossCheckReport>),
}

impl Checked {
    /// Which command wrote it.
    pub fn kind(&self) -> Kind {
        match self {
            Checked::Check(_) => Kind::Check,
            Checked::Sim(_) => Kind::Sim,
            Checked::Tla(_) => Kind::Tla,
            Checked::CrossCheck(_) => Kind::CrossCheck,
        }
    }
}

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
        Kind::Sim => reports::result::sim::SCHEMA_VERSION,
        Kind::Tla => crate::tla::SCHEMA_VERSION,
        Kind::CrossCheck => reports::result::cross_check::SCHEMA_VERSION,
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
        Kind::Tla => {
            for field in ["figures", "verdict", "config"] {
                if json.get(field).is_none() {
                    return Err(format!(
                        "--from {shown}: a {command} result without \"{field}\""
                    ));
                }
            }
            Checked::Tla(Box::new(json))
        }
        Kind::CrossCheck => Checked::CrossCheck(serde_json::from_value(json).map_err(bad)?),
    };
    Ok(Input {
        path: path.to_path_buf(),
        result,
    })
}
