//! `[inputs.NAME] type = "file"` options.

use crate::config::{ByteSize, HumanDuration};
use serde::Deserialize;
use std::time::Duration;

/// Where reading starts in a file seen for the first time (no checkpoint).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReadFrom {
    #[default]
    Beginning,
    End,
}

/// How lines are read.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Each line (or multiline group) is a record, as written.
    #[default]
    Lines,
    /// Kubernetes container logs (`<time> <stream> <P|F> <message>`): partial lines joined,
    /// time and stream parsed, the pod's identity from the path (see `cri.rs`).
    Cri,
}

/// The file tailer's config.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileInputConfig {
    /// Glob patterns of files to read (`/var/log/*.log`, `/var/log/**/app-*.log`).
    pub include: Vec<String>,
    /// Glob patterns of files to leave alone, checked against the same paths.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `beginning` (default) or `end`, for files without a checkpoint.
    #[serde(default)]
    pub read_from: ReadFrom,
    /// Files not modified for this long are not opened (unset: no limit).
    #[serde(default)]
    pub ignore_older: Option<HumanDuration>,
    /// Bytes at the start of a file that identify it, with its device and inode. Default 256.
    #[serde(default = "default_fingerprint_bytes")]
    pub fingerprint_bytes: ByteSize,
    /// Longest line kept whole; longer lines are split into pieces marked `log.truncated`.
    /// Default 1 MiB.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: ByteSize,
    /// How often open files are checked for new data. Default 250ms.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: HumanDuration,
    /// How often the include globs are expanded to find new files. Default 1s.
    #[serde(default = "default_discovery_interval")]
    pub discovery_interval: HumanDuration,
    /// A file renamed or deleted away from its path is still read through its open
    /// descriptor until it has been quiet this long. Default 5s.
    #[serde(default = "default_rotate_wait")]
    pub rotate_wait: HumanDuration,
    /// A last line without a newline is emitted once the file has not grown for this long.
    /// Default 5s.
    #[serde(default = "default_unterminated_line_timeout")]
    pub unterminated_line_timeout: HumanDuration,
    /// How often delivered positions are written to the checkpoint file. Default 1s.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: HumanDuration,
    /// A file read to its end and quiet this long is closed (its position kept); it is
    /// opened again when it grows. Keeps descriptors bounded with thousands of files.
    /// Default 60s.
    #[serde(default = "default_close_idle")]
    pub close_idle: HumanDuration,
    /// Most files open at once; beyond it, files wait their turn. Default 1024.
    #[serde(default = "default_max_open_files")]
    pub max_open_files: usize,
    /// Group lines into one record (stack traces): `{ start = "REGEX" }` or
    /// `{ continuation = "REGEX" }`, with `timeout` and `max_lines`.
    #[serde(default)]
    pub multiline: Option<super::multiline::MultilineConfig>,
    /// Read files ending in `.gz` that the patterns match, decompressed, once (a rotated
    /// file already read before it was compressed is recognized by its content and not read
    /// again). Default false: `.gz` files are skipped.
    #[serde(default)]
    pub read_gzip: bool,
    /// Add `log.record.uid` (file fingerprint + line offset) so duplicates after a crash can
    /// be recognized downstream. Default false.
    #[serde(default)]
    pub record_uid: bool,
    /// `lines` (default) or `cri` (Kubernetes container logs).
    #[serde(default)]
    pub format: Format,
}

fn default_fingerprint_bytes() -> ByteSize {
    ByteSize(256)
}
fn default_max_line_bytes() -> ByteSize {
    ByteSize(1 << 20)
}
fn default_poll_interval() -> HumanDuration {
    HumanDuration(Duration::from_millis(250))
}
fn default_discovery_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(1))
}
fn default_rotate_wait() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn default_unterminated_line_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn default_checkpoint_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(1))
}
fn default_close_idle() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_max_open_files() -> usize {
    1024
}

impl FileInputConfig {
    /// Checks patterns and numbers.
    pub fn check(&self) -> Result<(), String> {
        if self.include.is_empty() {
            return Err("include: expected at least one glob pattern".into());
        }
        if self.format == Format::Cri && self.multiline.is_some() {
            return Err("multiline: cannot be combined with format = \"cri\" (container runtimes already join a message's lines with their P/F tags)".into());
        }
        for (key, patterns) in [("include", &self.include), ("exclude", &self.exclude)] {
            for p in patterns {
                glob::Pattern::new(p)
                    .map_err(|e| format!("{key}: \"{p}\" is not a glob pattern: {e}"))?;
                if key == "include" && !p.starts_with('/') {
                    return Err(format!("include: \"{p}\" must be an absolute path"));
                }
            }
        }
        if self.fingerprint_bytes.0 == 0 || self.fingerprint_bytes.0 > 1 << 20 {
            return Err("fingerprint_bytes: expected between 1 byte and 1 MiB".into());
        }
        if self.max_line_bytes.0 == 0 {
            return Err("max_line_bytes: expected a positive size".into());
        }
        if let Some(m) = &self.multiline {
            m.compile()?;
        }
        if self.max_open_files == 0 {
            return Err("max_open_files: expected at least 1".into());
        }
        Ok(())
    }
}
