//! Open files of the file output: append, size-based rotation (`path` → `path.1` → … →
//! `path.KEEP`), fsync policy, and a bound on open descriptors. A failed write is cut back
//! to the file's previous length, so a retry never leaves a torn line behind.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// When written data is forced to disk.
#[derive(Clone, Copy, Debug, Default, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Fsync {
    /// Leave it to the kernel (fastest; a power loss may lose the last seconds).
    #[default]
    Never,
    /// After every request, before it counts as delivered.
    Always,
    /// At most once per `fsync_interval`, and at shutdown.
    Interval,
}

/// Rotation and durability settings.
#[derive(Clone, Debug)]
pub struct WriterSettings {
    /// Rotate before a write would take a file past this size (0 = never).
    pub max_bytes: u64,
    /// Rotated files kept.
    pub keep: usize,
    pub fsync: Fsync,
    pub fsync_interval: Duration,
}

/// Descriptors kept open at once; the least recently used is closed past this.
const MAX_OPEN: usize = 64;

struct OpenFile {
    file: File,
    size: u64,
    last_used: Instant,
    dirty: bool,
}

/// The set of files being written.
pub struct Writer {
    settings: WriterSettings,
    files: HashMap<PathBuf, OpenFile>,
    last_sync: Instant,
}

impl Writer {
    pub fn new(settings: WriterSettings) -> Self {
        Writer {
            settings,
            files: HashMap::new(),
            last_sync: Instant::now(),
        }
    }

    /// Appends `data` to `path`, rotating first if it would grow past `max_bytes`.
    pub fn write(&mut self, path: &Path, data: &[u8]) -> io::Result<()> {
        let max = self.settings.max_bytes;
        if let Some(open) = self.files.get(path)
            && max > 0
            && open.size > 0
            && open.size + data.len() as u64 > max
        {
            self.files.remove(path);
            rotate(path, self.settings.keep)?;
        }
        if !self.files.contains_key(path) {
            let file = open_append(path)?;
            let size = file.metadata()?.len();
            if max > 0 && size > 0 && size + data.len() as u64 > max {
                drop(file);
                rotate(path, self.settings.keep)?;
                return self.write(path, data);
            }
            self.evict_if_needed();
            self.files.insert(
                path.to_path_buf(),
                OpenFile {
                    file,
                    size,
                    last_used: Instant::now(),
                    dirty: false,
                },
            );
        }
        let open = self.files.get_mut(path).expect("opened above");
        if let Err(e) = open.file.write_all(data) {
            // Cut back to the last whole request so a retry does not follow a torn line.
            let _ = open.file.set_len(open.size);
            self.files.remove(path);
            return Err(e);
        }
        open.size += data.len() as u64;
        open.last_used = Instant::now();
        open.dirty = true;
        if self.settings.fsync == Fsync::Always {
            open.file.sync_data()?;
            open.dirty = false;
        }
        Ok(())
    }

    /// Applies the `interval` fsync policy; call after each request.
    pub fn after_request(&mut self) -> io::Result<()> {
        if self.settings.fsync == Fsync::Interval
            && self.last_sync.elapsed() >= self.settings.fsync_interval
        {
            self.sync_all()?;
        }
        Ok(())
    }

    /// Forces every written file to disk.
    pub fn sync_all(&mut self) -> io::Result<()> {
        for open in self.files.values_mut().filter(|f| f.dirty) {
            open.file.sync_data()?;
            open.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    fn evict_if_needed(&mut self) {
        while self.files.len() >= MAX_OPEN {
            let oldest = self
                .files
                .iter()
                .min_by_key(|(_, f)| f.last_used)
                .map(|(p, _)| p.clone());
            match oldest {
                Some(path) => {
                    if let Some(f) = self.files.remove(&path)
                        && f.dirty
                        && self.settings.fsync != Fsync::Never
                    {
                        let _ = f.file.sync_data();
                    }
                }
                None => break,
            }
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// `path.KEEP` is deleted, `path.N` becomes `path.N+1`, `path` becomes `path.1`.
fn rotate(path: &Path, keep: usize) -> io::Result<()> {
    if keep == 0 {
        return ignore_missing(std::fs::remove_file(path));
    }
    ignore_missing(std::fs::remove_file(numbered(path, keep)))?;
    for n in (1..keep).rev() {
        ignore_missing(std::fs::rename(numbered(path, n), numbered(path, n + 1)))?;
    }
    ignore_missing(std::fs::rename(path, numbered(path, 1)))
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_bytes: u64, keep: usize) -> WriterSettings {
        WriterSettings {
            max_bytes,
            keep,
            fsync: Fsync::Always,
            fsync_interval: Duration::from_secs(1),
        }
    }

    #[test]
    fn rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.log");
        let mut w = Writer::new(settings(10, 2));
        for i in 0..5 {
            w.write(&path, format!("line{i}\n").as_bytes()).unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(path.clone()), "line4\n");
        assert_eq!(read(numbered(&path, 1)), "line3\n");
        assert_eq!(read(numbered(&path, 2)), "line2\n");
        assert!(!numbered(&path, 3).exists());
    }

    #[test]
    fn rotates_a_preexisting_full_file_on_first_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        std::fs::write(&path, "0123456789").unwrap();
        let mut w = Writer::new(settings(12, 1));
        w.write(&path, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(
            std::fs::read_to_string(numbered(&path, 1)).unwrap(),
            "0123456789"
        );
    }
}
