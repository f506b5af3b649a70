//! `type = "stdout"`: records on standard output, as NDJSON (the same OTLP/JSON shape as the
//! file output) or as one short human line each (`format = "text"`, see
//! `record::encode_lines`).

use crate::batch::Records;
use crate::output::{Outcome, Output, OutputBuildContext, OutputConfig, Rejection};
use crate::record::LineFormat;
use serde::Deserialize;
use std::io::Write;

/// `[outputs.NAME] type = "stdout"`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StdoutConfig {
    /// `"json"` (default) or `"text"`.
    pub format: LineFormat,
}

impl OutputConfig for StdoutConfig {
    type Output = Stdout;
    fn build(&self, _cx: &OutputBuildContext) -> Result<Stdout, String> {
        Ok(Stdout {
            format: self.format,
        })
    }
}

/// The running stdout output.
pub struct Stdout {
    format: LineFormat,
}

impl Output for Stdout {
    type Request = Vec<u8>;
    // Local writes are cheap: write as soon as the output is free.
    const DEFAULT_MAX_AGE: std::time::Duration = std::time::Duration::ZERO;

    fn encode(&mut self, records: &Records<'_>) -> Result<Vec<u8>, Rejection> {
        let mut out = Vec::with_capacity(records.len() * 256);
        self.format.encode(records.iter(), &mut out);
        Ok(out)
    }

    fn request_bytes(request: &Vec<u8>) -> usize {
        request.len()
    }

    async fn send(&mut self, request: &Vec<u8>) -> Outcome {
        let mut stdout = std::io::stdout().lock();
        match stdout.write_all(request).and_then(|()| stdout.flush()) {
            Ok(()) => Outcome::Delivered,
            // A closed pipe will not reopen: retrying would only stall shutdown.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Outcome::Rejected(
                Rejection::new("broken_pipe", format!("standard output: {e}")),
            ),
            Err(e) => Outcome::Retry {
                after: None,
                reason: format!("writing standard output: {e}"),
            },
        }
    }
}
