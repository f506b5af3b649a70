//! Where an output's records wait: in memory (the default) or in a disk buffer that survives
//! restarts. Routers push into a [`Buffer`]; the output's driver always drains a
//! [`MemoryBuffer`] — the buffer itself, or a disk buffer's read-ahead.

pub mod disk;
mod memory;

pub use crate::budget::MemoryBudget;
pub(crate) use disk::DiskBuffer;
pub use disk::Fsync;
pub(crate) use memory::MemoryBuffer;

use crate::batch::Slice;
use crate::config::{ByteSize, HumanDuration};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// What to do with a batch that does not fit.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Wait for room: back-pressure to the input (the default; loses nothing).
    #[default]
    Block,
    /// Drop the incoming batch and count it (`dropped`, reason `buffer_full`).
    DropNewest,
}

/// Where an output buffers.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BufferKind {
    #[default]
    Memory,
    /// Segment files under `{data_dir}/buffers/{output}`; see [`disk`].
    Disk,
}

/// `[outputs.NAME.buffer]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(try_from = "RawBufferSettings")]
pub struct BufferSettings {
    pub kind: BufferKind,
    /// Memory: most records queued or in flight. Disk: most records read ahead into memory.
    pub max_records: usize,
    /// Memory: most estimated bytes queued or in flight. Disk: most bytes of segment files.
    pub max_bytes: ByteSize,
    pub when_full: WhenFull,
    /// Disk: when written entries are forced to stable storage.
    pub fsync: Fsync,
    /// Disk, `fsync = "interval"`: how often.
    pub fsync_interval: HumanDuration,
}

/// Memory held by a buffer (or a disk buffer's read-ahead) unless configured otherwise:
/// enough for a few seconds of a busy host while a destination hiccups, small enough that
/// an agent on every node stays within a few tens of MB.
const MEMORY_MAX_RECORDS: usize = 20_000;
const MEMORY_MAX_BYTES: u64 = 16 << 20;
/// Disk a disk buffer may fill unless configured otherwise.
const DISK_MAX_BYTES: u64 = 1 << 30;

impl Default for BufferSettings {
    fn default() -> Self {
        BufferSettings {
            kind: BufferKind::Memory,
            max_records: MEMORY_MAX_RECORDS,
            max_bytes: ByteSize(MEMORY_MAX_BYTES),
            when_full: WhenFull::Block,
            fsync: Fsync::Interval,
            fsync_interval: HumanDuration(Duration::from_secs(1)),
        }
    }
}

impl BufferSettings {
    /// The limits of the memory a disk buffer reads ahead into.
    pub(crate) fn read_ahead(&self) -> BufferSettings {
        BufferSettings {
            kind: BufferKind::Memory,
            max_bytes: ByteSize(MEMORY_MAX_BYTES.min(self.max_bytes.0)),
            when_full: WhenFull::Block,
            ..self.clone()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBufferSettings {
    #[serde(rename = "type", default)]
    kind: BufferKind,
    max_records: Option<usize>,
    max_bytes: Option<ByteSize>,
    #[serde(default)]
    when_full: WhenFull,
    fsync: Option<Fsync>,
    fsync_interval: Option<HumanDuration>,
}

impl TryFrom<RawBufferSettings> for BufferSettings {
    type Error = String;

    fn try_from(raw: RawBufferSettings) -> Result<Self, String> {
        let defaults = BufferSettings::default();
        if raw.kind == BufferKind::Memory && (raw.fsync.is_some() || raw.fsync_interval.is_some()) {
            return Err("`fsync` and `fsync_interval` apply only to type = \"disk\"".into());
        }
        let max_bytes = raw.max_bytes.unwrap_or(ByteSize(match raw.kind {
            BufferKind::Memory => MEMORY_MAX_BYTES,
            BufferKind::Disk => DISK_MAX_BYTES,
        }));
        if raw.kind == BufferKind::Disk && max_bytes.0 < disk::MIN_MAX_BYTES {
            return Err(format!(
                "max_bytes of a disk buffer must be at least {} (got {max_bytes})",
                ByteSize(disk::MIN_MAX_BYTES)
            ));
        }
        let fsync_interval = raw.fsync_interval.unwrap_or(defaults.fsync_interval);
        if fsync_interval.0.is_zero() {
            return Err("fsync_interval must be more than 0 (or use fsync = \"always\")".into());
        }
        Ok(BufferSettings {
            kind: raw.kind,
            max_records: raw.max_records.unwrap_or(MEMORY_MAX_RECORDS).max(1),
            max_bytes,
            when_full: raw.when_full,
            fsync: raw.fsync.unwrap_or_default(),
            fsync_interval,
        })
    }
}

/// The result of offering a slice to the buffer.
#[derive(Debug)]
pub(crate) enum Push {
    Accepted,
    /// Full and `when_full = "drop_newest"`: the slice is handed back to be counted.
    Full(Slice),
    /// The output stopped at the shutdown deadline: handed back to be counted as dropped.
    Stopped(Slice),
}

/// The side of an output's buffer that routers push into.
#[derive(Clone, Debug)]
pub(crate) enum Buffer {
    Memory(Arc<MemoryBuffer>),
    Disk(Arc<DiskBuffer>),
}

impl Buffer {
    /// Registers a router that will push; the buffer closes when all have finished.
    pub(crate) fn add_producer(&self) {
        match self {
            Buffer::Memory(b) => b.add_producer(),
            Buffer::Disk(b) => b.add_producer(),
        }
    }

    /// A router has finished; the last one closes the buffer.
    pub(crate) fn producer_done(&self) {
        match self {
            Buffer::Memory(b) => b.producer_done(),
            Buffer::Disk(b) => b.producer_done(),
        }
    }

    /// True when both are the same buffer.
    pub(crate) fn same(&self, other: &Buffer) -> bool {
        match (self, other) {
            (Buffer::Memory(a), Buffer::Memory(b)) => Arc::ptr_eq(a, b),
            (Buffer::Disk(a), Buffer::Disk(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Offers a slice, waiting for room when `when_full = "block"`.
    pub(crate) async fn push(&self, slice: Slice) -> Push {
        match self {
            Buffer::Memory(b) => b.push(slice).await,
            Buffer::Disk(b) => b.push(slice).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BufferSettings, String> {
        toml::from_str::<BufferSettings>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn max_bytes_defaults_by_kind_and_disk_keys_need_a_disk() {
        assert_eq!(parse("").unwrap(), BufferSettings::default());
        let disk = parse("type = \"disk\"").unwrap();
        assert_eq!(disk.max_bytes, ByteSize(DISK_MAX_BYTES));
        assert_eq!(disk.fsync, Fsync::Interval);
        let always = parse("type = \"disk\"\nmax_bytes = \"64MiB\"\nfsync = \"always\"").unwrap();
        assert_eq!(
            (always.max_bytes, always.fsync),
            (ByteSize(64 << 20), Fsync::Always)
        );
        let err = parse("fsync = \"always\"").unwrap_err();
        assert!(err.contains("only to type = \"disk\""), "{err}");
        let err = parse("type = \"disk\"\nmax_bytes = 100").unwrap_err();
        assert!(err.contains("at least"), "{err}");
        let err = parse("type = \"tape\"").unwrap_err();
        assert!(err.contains("memory") && err.contains("disk"), "{err}");
    }
}
