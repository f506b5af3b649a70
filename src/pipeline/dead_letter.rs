//! Dead letters: records an output's destination refused for good, appended to a file as
//! NDJSON with the reason, so an operator can see, fix and replay them. One line per record:
//! `{"time":…,"output":…,"input":…,"reason":…,"message":…,"record":{OTLP/JSON record}}`,
//! with `"exact":false` when the destination refused some records of a request without
//! saying which (the request's last ones are written, as they are counted).
//!
//! Rejections are rare, so the writes are plain blocking appends from the driver; a failure
//! to write is logged (the records still count as rejected in the ledger).

use crate::output::Rejection;
use crate::record::{LogRecord, write_json_record};
use serde::Deserialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// `dead_letter = { path = "..." }` on an output.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterSettings {
    /// The NDJSON file rejected records are appended to (created with its directory).
    pub path: PathBuf,
}

/// An output's dead-letter file, opened on first use.
#[derive(Debug)]
pub(crate) struct DeadLetters {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl DeadLetters {
    pub(crate) fn new(settings: &DeadLetterSettings) -> Self {
        DeadLetters {
            path: settings.path.clone(),
            file: Mutex::new(None),
        }
    }

    /// Appends `records` (from the input named `input`) with the rejection that befell them.
    pub(crate) fn write<'a>(
        &self,
        output: &str,
        input: &str,
        rejection: &Rejection,
        exact: bool,
        records: impl IntoIterator<Item = &'a LogRecord>,
    ) {
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(b"{\"time\":");
        json_string(&chrono::Utc::now().to_rfc3339(), &mut head);
        for (key, value) in [
            ("output", output),
            ("input", input),
            ("reason", rejection.code),
            ("message", &rejection.message),
        ] {
            head.push(b',');
            json_string(key, &mut head);
            head.push(b':');
            json_string(value, &mut head);
        }
        // A partial refusal that did not say which records: these are the request's last
        // ones, as counted, which may not be the ones refused.
        if !exact {
            head.extend_from_slice(b",\"exact\":false");
        }
        head.extend_from_slice(b",\"record\":");
        let mut lines = Vec::new();
        for record in records {
            lines.extend_from_slice(&head);
            write_json_record(record, &mut lines);
            lines.extend_from_slice(b"}\n");
        }
        if lines.is_empty() {
            return;
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let written = match file.as_mut() {
            Some(f) => f.write_all(&lines),
            None => self.open().and_then(|mut f| {
                let r = f.write_all(&lines);
                *file = Some(f);
                r
            }),
        };
        if let Err(e) = written {
            tracing::error!(output, path = %self.path.display(), error = %e, "cannot write dead letters; the rejected records are only counted");
            *file = None;
        }
    }

    fn open(&self) -> std::io::Result<File> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
    }
}

fn json_string(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AnyValue;

    #[test]
    fn appends_one_line_per_record_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dead.ndjson");
        let letters = DeadLetters::new(&DeadLetterSettings { path: path.clone() });
        let records = [
            LogRecord::new(AnyValue::from("one"), 1),
            LogRecord::new(AnyValue::from("two \"quoted\""), 2),
        ];
        let why = Rejection::new("http_400", "entry too far behind");
        letters.write("loki", "syslog", &why, true, &records);
        letters.write("loki", "syslog", &why, false, &records[..1]);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].get("exact").is_none());
        assert_eq!(lines[2]["exact"], false);
        assert_eq!(lines[1]["reason"], "http_400");
        assert_eq!(lines[1]["message"], "entry too far behind");
        assert_eq!(lines[1]["output"], "loki");
        assert_eq!(lines[1]["input"], "syslog");
        assert_eq!(lines[1]["record"]["body"]["stringValue"], "two \"quoted\"");
    }
}
