//! The data file: every group's registry, written whole and atomically (a temporary file,
//! fsync, rename) before the replies that depend on it leave.

use protocol::Registry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &str = "rebalanser-registry";
const FORMAT: u32 = 1;

#[derive(Serialize)]
struct SnapshotRef<'a> {
    magic: &'a str,
    format: u32,
    groups: &'a BTreeMap<String, Registry>,
}

#[derive(Deserialize)]
struct Snapshot {
    magic: String,
    format: u32,
    groups: BTreeMap<String, Registry>,
}

pub(super) struct Store {
    path: PathBuf,
    loaded: Option<BTreeMap<String, Registry>>,
}

impl Store {
    /// Open (and read, if it exists) the data file. A file that is not a snapshot is an error
    /// naming it: the server never starts over a file it would overwrite.
    pub(super) fn open(path: &Path) -> Result<Store, String> {
        let loaded = match std::fs::read(path) {
            Ok(bytes) => {
                let snap: Snapshot = postcard::from_bytes(&bytes).map_err(|e| {
                    format!(
                        "data file {} is not a registry snapshot: {e}",
                        path.display()
                    )
                })?;
                if snap.magic != MAGIC || snap.format != FORMAT {
                    return Err(format!(
                        "data file {} is not a registry snapshot of format {FORMAT}",
                        path.display()
                    ));
                }
                Some(snap.groups)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot read data file {}: {e}", path.display())),
        };
        Ok(Store {
            path: path.to_path_buf(),
            loaded,
        })
    }

    /// The state read at open, once.
    pub(super) fn take_loaded(&mut self) -> Option<BTreeMap<String, Registry>> {
        self.loaded.take()
    }

    pub(super) fn save(&self, groups: &BTreeMap<String, Registry>) -> std::io::Result<()> {
        let snap = SnapshotRef {
            magic: MAGIC,
            format: FORMAT,
            groups,
        };
        let bytes = postcard::to_stdvec(&snap).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)
    }
}
