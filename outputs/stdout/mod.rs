//! `type = "stdout"`: records on standard output, as NDJSON (the same OTLP/JSON shape as the
//! file output) or as one short human line each (`format = "text"`, see
//! `record::encode_lines`).

use crate::batch::Records;
use crate::output::{Outcome, Output, OutputBuildContext, OutputConfig, Rejection};
use crate::record::{encode_lines, encode_ndjson};
use serde::Deserialize;
use std::io::Write;

/// How records are printed.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One OTLP/JSON-shaped object per line.
    #[default]
    Json,
    /// `TIME HOST SERVICE SEVERITY: BODY`, as syslog daemons write files.
    Text,
}

/// `[outputs.NAME] type = "stdout"`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StdoutConfig {
    pub format: Format,
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
    format: Format,
}

impl Output for Stdout {
    type Request = Vec<u8>;

    fn encode(&mut self, records: &Records<'_>) -> Result<Vec<u8>, Rejection> {
        let mut out = Vec::with_capacity(records.len() * 256);
        match self.format {
            Format::Json => encode_ndjson(records.iter(), &mut out),
            Format::Text => encode_lines(records.iter(), &mut out),
        }
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
