//! `type = "file"`: NDJSON files, one OTLP/JSON-shaped object per record (see
//! `record::encode_ndjson`), or short text lines (`format = "text"`), at a templated `path`, with size-based rotation, optional gzip
//! and an fsync policy.
//!
//! With `compression = "gzip"` each request is appended as its own gzip member; a file of
//! concatenated members is a valid gzip file (`zcat` reads it whole), and a crash can only
//! cut the last member.

mod path;
mod writer;

pub use path::PathTemplate;
pub use writer::Fsync;

use crate::batch::Records;
use crate::config::{ByteSize, HumanDuration};
use crate::output::{Outcome, Output, OutputBuildContext, OutputConfig, Rejection, keep_spare};
use crate::record::LineFormat;
use flate2::Compression as Level;
use flate2::write::GzEncoder;
use serde::Deserialize;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use writer::{Writer, WriterSettings};

/// File compression.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    #[default]
    None,
    Gzip,
}

/// `[outputs.NAME] type = "file"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// File path; may contain `{{ input }}` and strftime fields (UTC time of writing).
    pub path: String,
    /// `"json"` (default: one OTLP/JSON-shaped object per line, nothing lost) or `"text"`
    /// (`TIME HOST SERVICE SEVERITY: BODY`, as syslog daemons write files).
    #[serde(default)]
    pub format: LineFormat,
    /// `"none"` (default) or `"gzip"`.
    #[serde(default)]
    pub compression: Compression,
    /// Rotate a file before it would grow past this size; unset = never rotate.
    #[serde(default)]
    pub max_bytes: Option<ByteSize>,
    /// Rotated files kept as `PATH.1` … `PATH.N` (default 5).
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// `"never"` (default), `"always"` (before each request is acknowledged) or `"interval"`.
    #[serde(default)]
    pub fsync: Fsync,
    /// Period of `fsync = "interval"` (default 1s).
    #[serde(default = "default_fsync_interval")]
    pub fsync_interval: HumanDuration,
}

fn default_keep() -> usize {
    5
}

fn default_fsync_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(1))
}

impl OutputConfig for FileConfig {
    type Output = FileOutput;
    fn build(&self, _cx: &OutputBuildContext) -> Result<FileOutput, String> {
        let template = PathTemplate::parse(&self.path)?;
        if self.max_bytes == Some(ByteSize(0)) {
            return Err(
                "max_bytes: expected a positive size, or leave it unset to never rotate".into(),
            );
        }
        Ok(FileOutput {
            template,
            fsync: self.fsync,
            format: self.format,
            compression: self.compression,
            writer: Writer::new(WriterSettings {
                max_bytes: self.max_bytes.map_or(0, |b| b.0),
                keep: self.keep,
                fsync: self.fsync,
                fsync_interval: self.fsync_interval.0,
            }),
            line_bytes: 256,
            spare: Vec::new(),
        })
    }
}

/// The running file output.
pub struct FileOutput {
    template: PathTemplate,
    fsync: Fsync,
    format: LineFormat,
    compression: Compression,
    writer: Writer,
    /// Bytes per record of the last request, to size the next one's buffer: growing a
    /// megabyte buffer by doubling copies it and leaves the allocator big blocks to return.
    line_bytes: usize,
    /// The buffer of a finished request, cleared and used for the next one's data.
    spare: Vec<u8>,
}

impl FileOutput {
    /// An empty buffer for `reserve` bytes of a request's data: the spare one if it is big
    /// enough, else a new one of that size (growing the spare would double it, copying).
    fn buffer(&mut self, reserve: usize) -> Vec<u8> {
        let mut data = std::mem::take(&mut self.spare);
        if data.capacity() < reserve {
            return Vec::with_capacity(reserve);
        }
        data.clear();
        data
    }
}

/// Encoded data per destination file.
pub struct FileRequest {
    files: Vec<(PathBuf, Vec<u8>)>,
}

impl Output for FileOutput {
    type Request = FileRequest;
    // Local writes are cheap: write as soon as the output is free.
    const DEFAULT_MAX_AGE: std::time::Duration = std::time::Duration::ZERO;

    fn encode(&mut self, records: &Records<'_>) -> Result<FileRequest, Rejection> {
        let now = chrono::Utc::now();
        let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        if self.template.per_input() {
            for (input, run) in records.runs() {
                let path = self.template.render(input, now);
                let at = match files.iter().position(|(p, _)| *p == path) {
                    Some(at) => at,
                    None => {
                        files.push((path, self.buffer(0)));
                        files.len() - 1
                    }
                };
                self.format.encode(run, &mut files[at].1);
            }
        } else {
            let mut data = self.buffer(records.len() * self.line_bytes);
            self.format.encode(records.iter(), &mut data);
            // A little over the last request's size, so similar records fit without a copy;
            // capped, so a request of a few huge lines does not make the next one of
            // thousands of short lines reserve megabytes.
            if !records.is_empty() {
                self.line_bytes = (data.len() / records.len() + 16).clamp(64, 4096);
            }
            files.push((self.template.render("", now), data));
        }
        if self.compression == Compression::Gzip {
            for (_, data) in &mut files {
                let mut gz = GzEncoder::new(Vec::with_capacity(data.len() / 4), Level::fast());
                gz.write_all(data)
                    .map_err(|e| Rejection::new("encode", format!("gzip: {e}")))?;
                let packed = gz
                    .finish()
                    .map_err(|e| Rejection::new("encode", format!("gzip: {e}")))?;
                let plain = std::mem::replace(data, packed);
                keep_spare(&mut self.spare, plain);
            }
        }
        Ok(FileRequest { files })
    }

    fn reuse(&mut self, request: FileRequest) {
        for (_, data) in request.files {
            keep_spare(&mut self.spare, data);
        }
    }

    fn request_bytes(request: &FileRequest) -> usize {
        request.files.iter().map(|(_, d)| d.len()).sum()
    }

    async fn send(&mut self, request: &FileRequest) -> Outcome {
        let writer = &mut self.writer;
        let mut write = || {
            for (path, data) in &request.files {
                writer
                    .write(path, data)
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
            }
            writer.after_request().map_err(|e| format!("fsync: {e}"))
        };
        // Without fsync a write only copies into the page cache: doing it in place is cheaper
        // than handing the worker thread over (which spawns threads and scatters memory).
        let result = if self.fsync == Fsync::Never {
            write()
        } else {
            blocking(write)
        };
        match result {
            Ok(()) => Outcome::Delivered,
            // A full disk or a missing mount may recover; the driver backs off and counts.
            Err(reason) => Outcome::Retry {
                after: None,
                reason,
            },
        }
    }

    async fn shutdown(&mut self) {
        let writer = &mut self.writer;
        if let Err(e) = blocking(|| writer.sync_all()) {
            tracing::warn!(error = %e, "file output: final fsync failed");
        }
    }
}

/// Runs blocking file I/O without stalling other tasks on a multi-threaded runtime.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::OwnedRecords;
    use crate::output::MAX_SPARE_BUFFER;
    use crate::record::{AnyValue, LogRecord};

    fn output(extra: &str) -> FileOutput {
        let config: FileConfig = toml::from_str(&format!("path = \"/tmp/x\"\n{extra}")).unwrap();
        let cx = OutputBuildContext {
            name: "file".into(),
            data_dir: "/tmp".into(),
            adjustments: Default::default(),
        };
        config.build(&cx).unwrap()
    }

    fn encode(out: &mut FileOutput, lines: &[&str]) -> FileRequest {
        let records = lines
            .iter()
            .map(|l| LogRecord::new(AnyValue::from(l.to_string()), 1))
            .collect();
        out.encode(&OwnedRecords::new([("in", records)]).records())
            .unwrap()
    }

    #[test]
    fn a_finished_request_lends_its_buffer_to_the_next() {
        let mut out = output("format = \"text\"");
        let first = encode(&mut out, &["one", "two"]);
        let at = first.files[0].1.as_ptr();
        out.reuse(first);
        let second = encode(&mut out, &["three"]);
        assert_eq!(second.files[0].1.as_ptr(), at, "the same allocation");
        let text = String::from_utf8(second.files[0].1.clone()).unwrap();
        assert!(text.ends_with("three\n") && !text.contains("one"), "{text}");
    }

    #[test]
    fn gzip_requests_encode_into_one_buffer_and_stay_whole() {
        let mut out = output("format = \"text\"\ncompression = \"gzip\"");
        let first = encode(&mut out, &["one"]);
        // The text is compressed out of the spare buffer, which stays for the next request.
        let at = out.spare.as_ptr();
        assert!(out.spare.capacity() > 0);
        out.reuse(first);
        let second = encode(&mut out, &["two"]);
        assert_eq!(
            out.spare.as_ptr(),
            at,
            "the second request's text used it too"
        );
        assert!(out.spare.ends_with(b"two\n"), "and it holds that text");
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&second.files[0].1[..]),
            &mut text,
        )
        .unwrap();
        assert!(text.ends_with("two\n") && !text.contains("one"), "{text}");
    }

    #[test]
    fn an_oversized_buffer_is_not_kept() {
        let mut out = output("");
        keep_spare(&mut out.spare, Vec::with_capacity(MAX_SPARE_BUFFER + 1));
        assert_eq!(out.spare.capacity(), 0);
        keep_spare(&mut out.spare, Vec::with_capacity(1024));
        assert_eq!(out.spare.capacity(), 1024);
    }
}
