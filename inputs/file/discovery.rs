//! Finding files: expanding the include patterns, opening what is new at the right
//! position (its checkpoint, `read_from`, or the position of the file it was before it was
//! compressed), and the files to read once (compressed ones, rotated copies, leftovers).

use super::checkpoint::Checkpoint;
use super::config::ReadFrom;
use super::identity::{self, FileKey};
use super::tailer::Tailer;
use super::{FORGET_AFTER, Tail};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

impl Tail {
    /// Expands the include patterns and opens what is new.
    pub(super) fn discover(&mut self) {
        let mut seen = HashSet::new();
        for pattern in self.include.clone() {
            let paths = match glob::glob(&pattern) {
                Ok(paths) => paths,
                Err(e) => {
                    tracing::warn!(input = %self.cx.name, pattern, error = %e, "bad include pattern");
                    continue;
                }
            };
            for path in paths.filter_map(Result::ok) {
                if self.exclude.iter().any(|p| p.matches_path(&path)) {
                    continue;
                }
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                let key = FileKey::of(&meta);
                let gzip = path.extension().is_some_and(|e| e == "gz");
                if gzip
                    && (!self.config.read_gzip
                        || meta
                            .modified()
                            .ok()
                            .and_then(|m| SystemTime::now().duration_since(m).ok())
                            .is_none_or(|age| age < self.config.rotate_wait.0))
                {
                    // Not wanted, or possibly still being written by the compressor.
                    continue;
                }
                seen.insert(key);
                if self.tailers.iter().any(|t| t.key == key) {
                    continue;
                }
                if self.tailers.len() >= self.config.max_open_files {
                    continue;
                }
                // A file closed while idle is opened again only once it has grown (under
                // whichever path: a symlink and its target are one file); a compressed
                // one, read once, never.
                if self
                    .known
                    .get(&key)
                    .is_some_and(|cp| gzip || cp.offset == meta.len())
                {
                    continue;
                }
                if let Some(limit) = self.config.ignore_older
                    && meta
                        .modified()
                        .ok()
                        .and_then(|m| SystemTime::now().duration_since(m).ok())
                        .is_some_and(|age| age > limit.0)
                    && !self.known.contains_key(&key)
                {
                    continue;
                }
                self.open(path, key, meta.len());
            }
        }
        if self.first_scan {
            self.finish_leftovers(&seen);
        }
        self.retired
            .retain(|(_, since)| since.elapsed() < FORGET_AFTER);
        // Forget positions of files gone (or no longer matched) for a while — not at once:
        // a rotation compressed after the fact must still find the position of the file
        // it was, and a file briefly unreadable must not be read again from 0.
        let open: HashSet<FileKey> = self.tailers.iter().map(|t| t.key).collect();
        let now = Instant::now();
        let unseen = &mut self.unseen_since;
        unseen.retain(|k, _| !(seen.contains(k) || open.contains(k)));
        let before = self.known.len();
        self.known.retain(|k, _| {
            if seen.contains(k) || open.contains(k) {
                return true;
            }
            now.duration_since(*unseen.entry(*k).or_insert(now)) < FORGET_AFTER
        });
        let known = &self.known;
        self.unseen_since.retain(|k, _| known.contains_key(k));
        self.dirty |= self.known.len() != before;
        self.first_scan = false;
    }

    /// At start: files a previous run had begun but that no pattern matches any more (a
    /// rotated copy being read when logferry stopped) are read to their end once.
    pub(super) fn finish_leftovers(&mut self, seen: &HashSet<FileKey>) {
        let leftovers: Vec<Checkpoint> = self
            .known
            .values()
            .filter(|cp| !seen.contains(&cp.key()) && cp.offset != u64::MAX)
            .cloned()
            .collect();
        for cp in leftovers {
            let Ok(mut file) = std::fs::File::open(&cp.path) else {
                continue;
            };
            let Ok(meta) = file.metadata() else { continue };
            let gzip = cp.path.extension().is_some_and(|e| e == "gz");
            let same = FileKey::of(&meta) == cp.key()
                && if gzip {
                    identity::Fingerprint::of_gzip(&file, cp.fingerprint_len)
                        .is_ok_and(|f| f == cp.fingerprint())
                } else {
                    meta.len() > cp.offset && cp.fingerprint().matches(&mut file).unwrap_or(false)
                };
            if same {
                self.open_once(cp.path.clone(), cp.offset, cp.offset, Vec::new());
            }
        }
    }

    pub(super) fn open(&mut self, path: PathBuf, key: FileKey, size: u64) {
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                self.cx.metrics.errors.add(1);
                tracing::warn!(input = %self.cx.name, path = %path.display(), error = %e, "cannot open");
                return;
            }
        };
        // The file at the path may have changed between stat and open.
        let Ok(meta) = file.metadata() else { return };
        if FileKey::of(&meta) != key {
            return;
        }
        let known = self.known.contains_key(&key);
        if path.extension().is_some_and(|e| e == "gz") {
            return self.open_gzip(path, file, key);
        }
        let offset = match self.known.remove(&key) {
            Some(cp) if cp.fingerprint().matches(&mut file).unwrap_or(false) => {
                if cp.offset > meta.len() { 0 } else { cp.offset }
            }
            Some(cp) => {
                // The inode we knew holds other bytes now (truncated while we were away, or a
                // new file on a reused inode): all of it is new. The old position is kept a
                // while for its content: a compressed copy of the old file may turn up.
                self.retired.push((cp, Instant::now()));
                0
            }
            // A file never seen: where read_from says, at start.
            _ if self.first_scan && self.config.read_from == ReadFrom::End => size,
            _ => 0,
        };
        match Tailer::new(path.clone(), file, key, offset, &self.limits) {
            Ok(t) => {
                if known {
                    tracing::debug!(input = %self.cx.name, path = %path.display(), offset, ?key, "tailing again");
                } else {
                    tracing::info!(input = %self.cx.name, path = %path.display(), offset, ?key, "tailing");
                }
                self.cx.metrics.connections.add(1);
                self.tailers.push(t);
                self.dirty = true;
            }
            Err(e) => {
                self.cx.metrics.errors.add(1);
                tracing::warn!(input = %self.cx.name, path = %path.display(), error = %e, "cannot read");
            }
        }
    }

    /// A compressed file: read once. If its content is a file already read (a rotation
    /// compressed after the fact), it continues from that file's position.
    pub(super) fn open_gzip(&mut self, path: PathBuf, file: std::fs::File, key: FileKey) {
        let fingerprint = match identity::Fingerprint::of_gzip(&file, self.limits.fingerprint_bytes)
        {
            Ok(f) => f,
            Err(e) => {
                self.cx.metrics.errors.add(1);
                tracing::warn!(input = %self.cx.name, path = %path.display(), error = %e, "not a readable gzip file");
                return;
            }
        };
        let same_content = self
            .known
            .values()
            .cloned()
            .chain(self.tailers.iter().map(Tailer::checkpoint))
            .chain(self.retired.iter().map(|(cp, _)| cp.clone()))
            .filter(|cp| cp.fingerprint() == fingerprint)
            .map(|cp| cp.offset)
            .max();
        let offset = match same_content {
            Some(offset) => offset,
            None if self.first_scan && self.config.read_from == ReadFrom::End => u64::MAX,
            None => 0,
        };
        let opened = if offset == u64::MAX {
            // read_from = end: a compressed file present at start counts as read.
            Tailer::gzip(path.clone(), file, key, fingerprint, 0, &self.limits).map(|t| {
                let mut cp = t.checkpoint();
                cp.offset = u64::MAX;
                self.known.insert(key, cp);
                None
            })
        } else {
            Tailer::gzip(path.clone(), file, key, fingerprint, offset, &self.limits).map(Some)
        };
        match opened {
            Ok(Some(t)) => {
                tracing::info!(input = %self.cx.name, path = %path.display(), offset, "reading a compressed file once");
                self.cx.metrics.connections.add(1);
                self.tailers.push(t);
                self.dirty = true;
            }
            Ok(None) => self.dirty = true,
            Err(e) => {
                self.cx.metrics.errors.add(1);
                tracing::warn!(input = %self.cx.name, path = %path.display(), error = %e, "cannot read");
            }
        }
    }

    /// Opens a file to read it once from `from` (a rotated copy's tail, or a file left over
    /// from before a restart), with `committed` and `flights` carried over when given.
    pub(super) fn open_once(
        &mut self,
        path: PathBuf,
        from: u64,
        committed: u64,
        flights: Vec<super::tailer::Flight>,
    ) {
        let opened = std::fs::File::open(&path).and_then(|file| {
            let key = FileKey::of(&file.metadata()?);
            if path.extension().is_some_and(|e| e == "gz") {
                let fingerprint =
                    identity::Fingerprint::of_gzip(&file, self.limits.fingerprint_bytes)?;
                Tailer::gzip(path.clone(), file, key, fingerprint, from, &self.limits)
            } else {
                Tailer::new(path.clone(), file, key, from, &self.limits)
            }
        });
        match opened {
            Ok(mut t) if !self.tailers.iter().any(|o| o.key == t.key) => {
                t.read_once = true;
                t.adopt(committed.min(from), flights);
                self.known.remove(&t.key);
                tracing::info!(input = %self.cx.name, path = %path.display(), offset = from, "reading the rest of a file once");
                self.cx.metrics.connections.add(1);
                self.tailers.push(t);
                self.dirty = true;
            }
            Ok(_) => {} // already being read
            Err(e) => {
                self.cx.metrics.errors.add(1);
                tracing::warn!(input = %self.cx.name, path = %path.display(), error = %e, "cannot read a rotated copy");
            }
        }
    }
}
