//! The line formats the file and stdout outputs share.

use super::{LogRecord, encode_lines, encode_ndjson};
use serde::Deserialize;

/// How records are written, one line each.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LineFormat {
    /// One OTLP/JSON-shaped object per line: nothing is lost.
    #[default]
    Json,
    /// `TIME HOST SERVICE SEVERITY: BODY`, as syslog daemons write files.
    Text,
}

impl LineFormat {
    /// Appends one line per record to `out`.
    pub fn encode<'a>(self, records: impl IntoIterator<Item = &'a LogRecord>, out: &mut Vec<u8>) {
        match self {
            LineFormat::Json => encode_ndjson(records, out),
            LineFormat::Text => encode_lines(records, out),
        }
    }
}
