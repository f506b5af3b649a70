//! `type = "stdin"`: each line of standard input becomes a record (the line without its
//! `\n` or `\r\n` as `body`). End of input drains the pipeline and logferry exits 0, so
//! `printf ... | logferry` works as a filter.
//!
//! Lines are sliced out of the read buffer without copying. A line longer than
//! `max_line_bytes` is cut into pieces of that size, each marked `log.truncated = true`.

use crate::batch::Batch;
use crate::input::{Input, InputBuildContext, InputConfig, InputContext, InputError};
use crate::net::read_buffer;
use crate::record::{AnyValue, LogRecord, Resource, Str, now_unix_nano};
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};

/// `[inputs.NAME] type = "stdin"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StdinConfig {
    /// Longest line kept whole; longer lines are split and marked. Default 1 MiB.
    pub max_line_bytes: usize,
    /// Most lines in one batch. Default 1024.
    pub batch_lines: usize,
}

impl Default for StdinConfig {
    fn default() -> Self {
        StdinConfig {
            max_line_bytes: 1 << 20,
            batch_lines: 1024,
        }
    }
}

impl InputConfig for StdinConfig {
    type Input = Stdin;
    fn build(&self, _cx: &InputBuildContext) -> Result<Stdin, String> {
        if self.max_line_bytes == 0 {
            return Err("max_line_bytes: expected a positive number of bytes".into());
        }
        if self.batch_lines == 0 {
            return Err("batch_lines: expected a positive number of lines".into());
        }
        Ok(Stdin {
            config: self.clone(),
        })
    }
}

/// The running stdin input.
pub struct Stdin {
    config: StdinConfig,
}

impl Input for Stdin {
    async fn run(self, cx: InputContext) -> Result<(), InputError> {
        read_lines(tokio::io::stdin(), &self.config, &cx).await
    }
}

/// Reads `reader` to its end (or until shutdown), sending its lines in batches.
pub(crate) async fn read_lines(
    mut reader: impl AsyncRead + Unpin,
    config: &StdinConfig,
    cx: &InputContext,
) -> Result<(), InputError> {
    let resource = Arc::new(Resource::default());
    let mut lines = LineSplitter::new(config.max_line_bytes);
    let mut buf = read_buffer::new();
    let mut records = Vec::with_capacity(config.batch_lines);
    loop {
        read_buffer::make_room(&mut buf);
        let read = tokio::select! {
            biased;
            _ = cx.shutdown.cancelled() => break,
            read = reader.read_buf(&mut buf) => read,
        };
        let n = read.map_err(|e| InputError(format!("reading standard input: {e}")))?;
        cx.metrics.bytes_received.add(n as u64);
        let eof = n == 0;
        let now = now_unix_nano();
        lines.feed(&mut buf, eof, |line, truncated| {
            if truncated {
                cx.metrics.truncated.add(1);
            }
            records.push(line_record(line, truncated, now, &resource));
        });
        // Send at the batch size, and whenever the reader has nothing more ready, so a
        // slow trickle of lines is not held back.
        while records.len() >= config.batch_lines
            || (!records.is_empty() && (eof || buf.is_empty()))
        {
            let take = records.len().min(config.batch_lines);
            let rest = records.split_off(take);
            let batch = std::mem::replace(&mut records, rest);
            if cx.sender.send(Batch::new(batch)).await.is_err() {
                return Ok(());
            }
        }
        if eof {
            break;
        }
    }
    Ok(())
}

fn line_record(line: Bytes, truncated: bool, now: u64, resource: &Arc<Resource>) -> LogRecord {
    let mut record = LogRecord::new(AnyValue::String(Str::from_utf8_lossy(line)), now);
    record.resource = Arc::clone(resource);
    if truncated {
        record
            .attributes
            .push((Str::from_static("log.truncated"), AnyValue::Bool(true)));
    }
    record
}

/// Splits a byte stream into lines without copying, capping their length.
pub(crate) struct LineSplitter {
    max: usize,
    /// True while the rest of an over-long line is being cut into pieces.
    in_long_line: bool,
}

impl LineSplitter {
    pub(crate) fn new(max: usize) -> Self {
        LineSplitter {
            max,
            in_long_line: false,
        }
    }

    /// Takes every complete line out of `buf` (and, at `eof`, the unterminated rest),
    /// calling `emit(line, truncated)` for each.
    pub(crate) fn feed(
        &mut self,
        buf: &mut BytesMut,
        eof: bool,
        mut emit: impl FnMut(Bytes, bool),
    ) {
        let chunk = match memchr::memrchr(b'\n', buf) {
            Some(last) => buf.split_to(last + 1).freeze(),
            None => Bytes::new(),
        };
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &chunk) {
            let mut line = chunk.slice(start..end);
            if line.last() == Some(&b'\r') {
                line.truncate(line.len() - 1);
            }
            self.emit_capped(line, true, &mut emit);
            start = end + 1;
        }
        // An unterminated tail: cut it if it is already too long, flush it at end of input.
        while buf.len() > self.max {
            let piece = buf.split_to(self.max).freeze();
            self.emit_capped(piece, false, &mut emit);
        }
        if eof && !buf.is_empty() {
            let rest = buf.split().freeze();
            self.emit_capped(rest, true, &mut emit);
        }
    }

    fn emit_capped(
        &mut self,
        mut line: Bytes,
        ends_line: bool,
        emit: &mut impl FnMut(Bytes, bool),
    ) {
        let continued = self.in_long_line;
        self.in_long_line = !ends_line;
        if line.len() <= self.max && !continued && ends_line {
            emit(line, false);
            return;
        }
        while line.len() > self.max {
            emit(line.split_to(self.max), true);
        }
        if !line.is_empty() || !ends_line {
            emit(line, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(input: &[u8], max: usize, chunk: usize) -> Vec<(String, bool)> {
        let mut s = LineSplitter::new(max);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let chunks: Vec<&[u8]> = input.chunks(chunk.max(1)).collect();
        for (i, c) in chunks.iter().enumerate() {
            buf.extend_from_slice(c);
            s.feed(&mut buf, i + 1 == chunks.len(), |l, t| {
                out.push((String::from_utf8_lossy(&l).into_owned(), t))
            });
        }
        out
    }

    #[test]
    fn splits_lines_identically_at_every_chunk_size() {
        let input = b"one\r\ntwo\n\nthree";
        let want: Vec<(String, bool)> = ["one", "two", "", "three"]
            .iter()
            .map(|s| (s.to_string(), false))
            .collect();
        for chunk in 1..=input.len() {
            assert_eq!(split_all(input, 100, chunk), want, "chunk size {chunk}");
        }
    }

    #[test]
    fn cuts_long_lines_into_marked_pieces_at_every_chunk_size() {
        let input = b"abcdefgh\nok\n";
        for chunk in 1..=input.len() {
            let got = split_all(input, 3, chunk);
            let text: String = got
                .iter()
                .filter(|(_, t)| *t)
                .map(|(l, _)| l.as_str())
                .collect();
            assert_eq!(text, "abcdefgh", "chunk size {chunk}: {got:?}");
            assert!(got.iter().filter(|(_, t)| *t).all(|(l, _)| l.len() <= 3));
            assert_eq!(
                got.last().unwrap(),
                &("ok".to_string(), false),
                "chunk size {chunk}"
            );
        }
    }
}
