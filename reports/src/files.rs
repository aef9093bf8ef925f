//! Result files: checked before a long run, written as pretty JSON after it.

use serde::Serialize;
use std::path::Path;

/// Fail early (exit 2) if the JSON file cannot be written, rather than after a long run.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "--json {}: folder {} does not exist",
            path.display(),
            dir.display()
        ));
    }
    if path.is_dir() {
        return Err(format!("--json {}: is a folder", path.display()));
    }
    Ok(())
}

/// Write any result as pretty JSON.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("--json {}: {e}", path.display()))
}
