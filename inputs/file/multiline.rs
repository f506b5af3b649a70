//! Multiline grouping (stack traces and the like): consecutive lines become one record,
//! either every line that does not match `start` joining the record begun by the last line
//! that did, or every line matching `continuation` joining the one before it. A group is
//! emitted when the next one begins, when `max_lines` or the byte limit is reached, or when
//! no line has come for `timeout`. Lines are joined with `\n`.

use bytes::{Bytes, BytesMut};
use regex::bytes::Regex;
use serde::Deserialize;
use std::time::{Duration, Instant};

/// `multiline = { start = "^\\d{4}-", timeout = "1s" }` or `{ continuation = "^\\s" }`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MultilineConfig {
    /// A line matching this begins a record; others join the current one.
    #[serde(default)]
    pub start: Option<String>,
    /// A line matching this joins the previous line's record.
    #[serde(default)]
    pub continuation: Option<String>,
    /// An open group is emitted after this long without a new line. Default 1s.
    #[serde(default = "default_timeout")]
    pub timeout: crate::config::HumanDuration,
    /// Most lines in one record. Default 500.
    #[serde(default = "default_max_lines")]
    pub max_lines: usize,
}

fn default_timeout() -> crate::config::HumanDuration {
    crate::config::HumanDuration(Duration::from_secs(1))
}
fn default_max_lines() -> usize {
    500
}

/// The compiled rule.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pattern: Regex,
    starts: bool,
    timeout: Duration,
    max_lines: usize,
}

impl MultilineConfig {
    pub(crate) fn compile(&self) -> Result<Rule, String> {
        let (pattern, starts, key) = match (&self.start, &self.continuation) {
            (Some(p), None) => (p, true, "start"),
            (None, Some(p)) => (p, false, "continuation"),
            _ => return Err("multiline: expected exactly one of start or continuation".into()),
        };
        let pattern = Regex::new(pattern).map_err(|e| {
            format!("multiline.{key}: \"{pattern}\" is not a regular expression: {e}")
        })?;
        if self.max_lines == 0 {
            return Err("multiline.max_lines: expected at least 1".into());
        }
        Ok(Rule {
            pattern,
            starts,
            timeout: self.timeout.0,
            max_lines: self.max_lines,
        })
    }
}

/// A line, or a finished group of lines, with the file offsets it spans.
#[derive(Debug, PartialEq)]
pub(crate) struct Piece {
    pub bytes: Bytes,
    pub start: u64,
    pub end: u64,
    pub truncated: bool,
}

struct Group {
    first: Piece,
    /// Set once a second line joins (the first line alone is kept without copying).
    joined: Option<BytesMut>,
    lines: usize,
    last: Instant,
}

/// Groups the lines of one file.
pub(crate) struct Grouper {
    rule: Rule,
    max_bytes: usize,
    open: Option<Group>,
}

impl Grouper {
    pub fn new(rule: Rule, max_bytes: usize) -> Grouper {
        Grouper {
            rule,
            max_bytes,
            open: None,
        }
    }

    /// Feeds the next line; returns the group it closes, if any.
    pub fn push(&mut self, line: Piece) -> Option<Piece> {
        let matches = self.rule.pattern.is_match(&line.bytes);
        let joins = self.open.is_some() && (matches != self.rule.starts);
        if joins {
            let group = self.open.as_mut().expect("checked");
            let body = group
                .joined
                .get_or_insert_with(|| BytesMut::from(&group.first.bytes[..]));
            if body.len() + 1 + line.bytes.len() <= self.max_bytes
                && group.lines < self.rule.max_lines
            {
                body.extend_from_slice(b"\n");
                body.extend_from_slice(&line.bytes);
                group.first.end = line.end;
                group.first.truncated |= line.truncated;
                group.lines += 1;
                group.last = Instant::now();
                return None;
            }
        }
        let done = self.flush();
        self.open = Some(Group {
            first: line,
            joined: None,
            lines: 1,
            last: Instant::now(),
        });
        done
    }

    /// The open group, if no line has come for the timeout.
    pub fn flush_if_stale(&mut self) -> Option<Piece> {
        if self.open.as_ref()?.last.elapsed() >= self.rule.timeout {
            self.flush()
        } else {
            None
        }
    }

    /// The open group, now.
    pub fn flush(&mut self) -> Option<Piece> {
        let group = self.open.take()?;
        let mut piece = group.first;
        if let Some(body) = group.joined {
            piece.bytes = body.freeze();
        }
        Some(piece)
    }

    /// Where the open group begins in the file (its lines are not emitted yet).
    pub fn open_start(&self) -> Option<u64> {
        self.open.as_ref().map(|g| g.first.start)
    }

    pub fn clear(&mut self) {
        self.open = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(text: &str, start: u64) -> Piece {
        Piece {
            bytes: Bytes::copy_from_slice(text.as_bytes()),
            start,
            end: start + text.len() as u64 + 1,
            truncated: false,
        }
    }

    fn run(config: MultilineConfig, lines: &[&str]) -> Vec<String> {
        let mut g = Grouper::new(config.compile().unwrap(), 1 << 20);
        let mut out = Vec::new();
        let mut at = 0;
        for l in lines {
            if let Some(p) = g.push(piece(l, at)) {
                out.push(String::from_utf8(p.bytes.to_vec()).unwrap());
            }
            at += l.len() as u64 + 1;
        }
        if let Some(p) = g.flush() {
            out.push(String::from_utf8(p.bytes.to_vec()).unwrap());
        }
        out
    }

    fn config(start: Option<&str>, continuation: Option<&str>) -> MultilineConfig {
        MultilineConfig {
            start: start.map(String::from),
            continuation: continuation.map(String::from),
            timeout: default_timeout(),
            max_lines: 3,
        }
    }

    #[test]
    fn start_pattern_groups_a_stack_trace() {
        let lines = [
            "2026-11-29 ERROR boom",
            "java.lang.IllegalStateException: x",
            "\tat a.b(C.java:1)",
            "2026-11-29 INFO fine",
        ];
        assert_eq!(
            run(config(Some(r"^\d{4}-"), None), &lines),
            [
                "2026-11-29 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.b(C.java:1)",
                "2026-11-29 INFO fine"
            ]
        );
    }

    #[test]
    fn continuation_pattern_and_the_line_limit() {
        let lines = ["Traceback:", "  a", "  b", "  c", "next"];
        assert_eq!(
            run(config(None, Some(r"^\s")), &lines),
            ["Traceback:\n  a\n  b", "  c", "next"]
        );
    }

    #[test]
    fn offsets_span_the_whole_group() {
        let mut g = Grouper::new(config(Some("^S"), None).compile().unwrap(), 1 << 20);
        assert_eq!(g.push(piece("S1", 0)), None);
        assert_eq!(g.push(piece("x", 3)), None);
        assert_eq!(g.open_start(), Some(0));
        let done = g.push(piece("S2", 5)).unwrap();
        assert_eq!((done.start, done.end), (0, 5));
        assert_eq!(g.open_start(), Some(5));
    }

    #[test]
    fn bad_rules_are_refused_with_the_key() {
        assert!(
            config(None, None)
                .compile()
                .unwrap_err()
                .contains("exactly one")
        );
        let err = config(Some("(["), None).compile().unwrap_err();
        assert!(
            err.starts_with("multiline.start: \"([\" is not a regular expression"),
            "{err}"
        );
    }
}
