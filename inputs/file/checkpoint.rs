//! Delivered positions, kept in `DATA_DIR/file-checkpoints-<input>.json`, written atomically
//! (temporary file, fsync, rename) so a crash leaves either the old or the new file.

use super::identity::{FileKey, Fingerprint};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One file's delivered position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub fingerprint: u64,
    pub fingerprint_len: u64,
    /// Every byte before this offset was delivered (or refused for good).
    pub offset: u64,
}

impl Checkpoint {
    pub fn key(&self) -> FileKey {
        FileKey {
            dev: self.dev,
            ino: self.ino,
        }
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            hash: self.fingerprint,
            len: self.fingerprint_len,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CheckpointFile {
    version: u32,
    files: Vec<Checkpoint>,
}

/// The checkpoint file of one input.
pub struct Store {
    path: PathBuf,
}

impl Store {
    pub fn new(data_dir: &Path, input: &str) -> Store {
        Store {
            path: data_dir.join(format!("file-checkpoints-{input}.json")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved checkpoints (none when there is no file yet).
    pub fn load(&self) -> Result<Vec<Checkpoint>, String> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice::<CheckpointFile>(&bytes)
                .map(|f| f.files)
                .map_err(|e| format!("{}: not a checkpoint file: {e}", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(format!("{}: {e}", self.path.display())),
        }
    }

    /// Replaces the file atomically.
    pub fn save(&self, files: Vec<Checkpoint>) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        serde_json::to_writer(&mut f, &CheckpointFile { version: 1, files })?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(&dir.path().join("state"), "app");
        assert_eq!(store.load().unwrap(), vec![]);
        let c = Checkpoint {
            path: "/var/log/a.log".into(),
            dev: 1,
            ino: 2,
            fingerprint: 3,
            fingerprint_len: 4,
            offset: 5,
        };
        store.save(vec![c.clone()]).unwrap();
        assert_eq!(store.load().unwrap(), vec![c]);
        assert!(!store.path().with_extension("json.tmp").exists());
        std::fs::write(store.path(), "{garbage").unwrap();
        assert!(store.load().unwrap_err().contains("not a checkpoint file"));
    }
}
