//! RFC 5424 (§6): `<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
//! STRUCTURED-DATA [SP MSG]`, `-` being NILVALUE for each header field.
//!
//! Strict where the RFC draws a line a broken sender would cross: TIMESTAMP must carry its
//! offset, the header fields their length limits (HOSTNAME 255, APP-NAME 48, PROCID 128,
//! MSGID 32) in printable ASCII, STRUCTURED-DATA its syntax ([`super::sd`]). Lenient where
//! real senders differ harmlessly: a space or `t` for `T`, `z` for `Z`, up to 9 fraction
//! digits, several spaces between header fields, and a missing STRUCTURED-DATA (the header
//! ends, or what follows MSGID starts with neither `-` nor `[`: it is then the MSG).
//! MSG is everything after the one space that follows STRUCTURED-DATA, UTF-8 BOM removed.

use super::{Fields, Line, ParseError, ParseOptions, sd, timestamp};
use crate::record::Str;
use std::fmt;
use std::ops::Range;

/// A header field, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Timestamp,
    Hostname,
    AppName,
    ProcId,
    MsgId,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Timestamp => "TIMESTAMP",
            Field::Hostname => "HOSTNAME",
            Field::AppName => "APP-NAME",
            Field::ProcId => "PROCID",
            Field::MsgId => "MSGID",
        })
    }
}

/// Whether the text after PRI (at `pos`) opens an RFC 5424 header: a VERSION of 1–3 digits
/// (not starting with 0), a space, then `-` or a four-digit year. Anything else is read as
/// RFC 3164, so `<14>1 apple` (a BSD message without a header) stays a message.
pub(super) fn detect(b: &[u8], pos: usize) -> bool {
    let digits = version_len(b, pos);
    if digits == 0 || b.get(pos + digits) != Some(&b' ') {
        return false;
    }
    let rest = &b[pos + digits..];
    let rest = &rest[rest.iter().take_while(|&&c| c == b' ').count()..];
    match rest {
        [b'-', ..] => true,
        [y0, y1, y2, y3, b'-', ..] => [y0, y1, y2, y3].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

fn version_len(b: &[u8], pos: usize) -> usize {
    let n = b[pos..]
        .iter()
        .take(4)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if (1..=3).contains(&n) && b[pos] != b'0' {
        n
    } else {
        0
    }
}

/// Reads the header and MSG after PRI (`pos`); [`detect`] must have said yes.
pub(super) fn parse(
    line: &Line,
    pos: usize,
    opts: &ParseOptions,
    fields: &mut Fields,
) -> Result<(), ParseError> {
    let b = line.bytes();
    let mut c = Header { line, i: pos };
    let digits = version_len(b, pos);
    let version = b[pos..pos + digits]
        .iter()
        .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    c.i += digits;
    fields.version = Some(version);

    c.separator(Field::Timestamp)?;
    if c.nil() {
        c.i += 1;
    } else {
        let (stamp, len) = timestamp::rfc3339(&b[c.i..])
            .filter(|(s, len)| s.offset.is_some() && c.ends_token(c.i + len))
            .ok_or(ParseError::BadTimestamp)?;
        fields.time_unix_nano = match (stamp.day, stamp.offset) {
            (timestamp::Day::Full(date), Some(offset)) => {
                timestamp::full_unix_nanos(date, stamp.time, offset)
            }
            _ => timestamp::resolve(&stamp, opts)
                .map(timestamp::unix_nanos)
                .ok_or(ParseError::BadTimestamp)?,
        };
        c.i += len;
    }
    c.separator(Field::Hostname)?;
    fields.hostname = c.token_range(Field::Hostname, 255)?;
    c.separator(Field::AppName)?;
    fields.appname = c.token_range(Field::AppName, 48)?;
    c.separator(Field::ProcId)?;
    fields.procid = c.token(Field::ProcId, 128)?;
    c.separator(Field::MsgId)?;
    fields.msgid = c.token(Field::MsgId, 32)?;

    // STRUCTURED-DATA, then MSG after exactly one space.
    let after_msgid = c.i;
    while b.get(c.i) == Some(&b' ') {
        c.i += 1;
    }
    match b.get(c.i) {
        None => return Ok(()),
        Some(b'-') if c.ends_token(c.i + 1) => c.i += 1,
        Some(b'[') => {
            let (elements, end) = sd::parse(line, c.i).map_err(ParseError::StructuredData)?;
            fields.structured_data = Some(elements);
            c.i = end;
        }
        // No STRUCTURED-DATA at all: what follows MSGID's space is MSG.
        Some(_) => c.i = after_msgid,
    }
    match b.get(c.i) {
        None => {}
        Some(b' ') => fields.msg = Some(super::msg(line, c.i + 1)),
        Some(_) => return Err(ParseError::NoSpaceBeforeMsg),
    }
    Ok(())
}

struct Header<'a> {
    line: &'a Line,
    i: usize,
}

impl Header<'_> {
    fn bytes(&self) -> &[u8] {
        self.line.bytes()
    }

    /// One or more spaces before `next`; the header may not end here.
    fn separator(&mut self, next: Field) -> Result<(), ParseError> {
        let start = self.i;
        while self.bytes().get(self.i) == Some(&b' ') {
            self.i += 1;
        }
        if self.i == start || self.i == self.bytes().len() {
            return Err(ParseError::Truncated(next));
        }
        Ok(())
    }

    fn nil(&self) -> bool {
        self.bytes().get(self.i) == Some(&b'-') && self.ends_token(self.i + 1)
    }

    fn ends_token(&self, at: usize) -> bool {
        matches!(self.bytes().get(at), None | Some(b' '))
    }

    /// Where a field of 1–`max` PRINTUSASCII characters lies, `None` for NILVALUE.
    fn token_range(
        &mut self,
        field: Field,
        max: usize,
    ) -> Result<Option<Range<usize>>, ParseError> {
        let start = self.i;
        let len = self.bytes()[start..]
            .iter()
            .take_while(|&&c| c != b' ')
            .count();
        self.i += len;
        let token = &self.bytes()[start..start + len];
        if token == b"-" {
            return Ok(None);
        }
        if len > max || !token.iter().all(|c| (33..=126).contains(c)) {
            return Err(ParseError::BadField { field, max });
        }
        Ok(Some(start..start + len))
    }

    /// A field of 1–`max` PRINTUSASCII characters, `None` for NILVALUE.
    fn token(&mut self, field: Field, max: usize) -> Result<Option<Str>, ParseError> {
        Ok(self
            .token_range(field, max)?
            .map(|range| self.line.slice(range)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_a_version_then_a_stamp_or_nil() {
        let yes = [
            "<1>1 - x",
            "<1>1 2024-03-05T00:00:00Z",
            "<1>12  -",
            "<1>1 2024-x",
        ];
        let no = [
            "<1>1 apple",
            "<1>0 - x",
            "<1>1-",
            "<1>1234 - x",
            "<1>Mar",
            "<1>1",
        ];
        for s in yes {
            assert!(detect(s.as_bytes(), 3), "{s}");
        }
        for s in no {
            assert!(!detect(s.as_bytes(), 3), "{s}");
        }
    }
}
