//! RFC 3164 and the "BSD" forms actually seen (PROTOCOLS.md §5.2): `[<PRI>]TIMESTAMP
//! [HOSTNAME] [TAG[\[PID\]][:]] MSG`, where every part but PRI or TIMESTAMP may be missing.
//!
//! - TIMESTAMP is BSD (`Mmm dd hh:mm:ss`, with optional year, fraction and zone) or RFC 3339
//!   (rsyslog `RSYSLOG_ForwardFormat`), see [`super::timestamp`]; no PRI and no TIMESTAMP
//!   means the line is not syslog.
//! - With PRI but no TIMESTAMP (Python's `SysLogHandler`, `detect.headerless`), everything
//!   after PRI is MSG.
//! - Cisco IOS: `[seq: ][origin: ][*|.]TIMESTAMP: %FAC-SEV-MNEMONIC: text`. The sequence
//!   number goes to `syslog.sequence`, the origin to HOSTNAME, a `*` (clock not set) or `.`
//!   (not NTP-synced) to `syslog.clock_synced = false`, and the mnemonic is the TAG.
//! - HOSTNAME or TAG: as rsyslog decides, the word after TIMESTAMP is a TAG when it ends in
//!   `:` or carries `[PID]` (the /dev/log form `Oct 11 22:14:15 sshd[1]: msg` has no
//!   HOSTNAME), unless it is an IPv6 address; otherwise it is HOSTNAME (`-` for none), and
//!   the next word is TAG if it looks like one (`name`, `name[pid]`, `name:`, with `/` as in
//!   `postfix/smtpd`). A word that does not (say `{"json":`) starts MSG.
//! - MSG starts after the TAG's `:` and at most one space; RFC 3164 has no STRUCTURED-DATA,
//!   so a MSG opening with `[...]` is text.

use super::{Fields, Line, ParseError, ParseOptions, timestamp};
use std::net::Ipv6Addr;
use std::ops::Range;

/// Reads what follows PRI (`pos`); `has_pri` says whether there was one.
pub(super) fn parse(
    line: &Line,
    pos: usize,
    has_pri: bool,
    opts: &ParseOptions,
    fields: &mut Fields,
) -> Result<(), ParseError> {
    let b = line.bytes();
    let mut p = skip_spaces(b, pos);
    let cisco = cisco_prefix(b, p, opts);
    if let Some(prefix) = &cisco {
        p = prefix.end;
        fields.sequence = prefix.sequence;
        fields.hostname = prefix.origin.clone();
    }
    let marked = matches!(b.get(p), Some(b'*' | b'.')) && stamp_at(b, p + 1, opts).is_some();
    p += usize::from(marked);
    match stamp_at(b, p, opts) {
        Some((time, len)) => {
            fields.time_unix_nano = time;
            p += len;
        }
        None if cisco.is_some() => {}
        None if has_pri => {
            fields.msg = Some(super::msg(line, pos));
            return Ok(());
        }
        None => return Err(ParseError::NotSyslog),
    }
    if marked {
        fields.clock_synced = Some(false);
    }
    tail(line, p, cisco.is_some(), fields);
    Ok(())
}

/// A timestamp at `p` that ends at a space or the end: its time and length.
fn stamp_at(b: &[u8], p: usize, opts: &ParseOptions) -> Option<(u64, usize)> {
    let rest = b.get(p..)?;
    let (stamp, len) = timestamp::bsd(rest).or_else(|| timestamp::rfc3339(rest))?;
    if !matches!(rest.get(len), None | Some(b' ')) {
        return None;
    }
    let time = timestamp::resolve(&stamp, opts)?;
    Some((timestamp::unix_nanos(time), len))
}

struct CiscoPrefix {
    sequence: Option<i64>,
    origin: Option<Range<usize>>,
    end: usize,
}

/// `seq: ` and/or `origin: ` before a (possibly `*`/`.`-marked) timestamp or a `%` tag.
fn cisco_prefix(b: &[u8], start: usize, opts: &ParseOptions) -> Option<CiscoPrefix> {
    let opens_body = |at: usize| match b.get(at) {
        Some(b'%') => true,
        Some(b'*' | b'.') => stamp_at(b, at + 1, opts).is_some(),
        _ => stamp_at(b, at, opts).is_some(),
    };
    let mut i = start;
    let mut sequence = None;
    let digits = b[i..]
        .iter()
        .take(11)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if (1..=10).contains(&digits) && b[i + digits..].starts_with(b": ") {
        let n = b[i..i + digits]
            .iter()
            .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        sequence = Some(n);
        i = skip_spaces(b, i + digits + 1);
    }
    let mut origin = None;
    let word = b[i..]
        .iter()
        .take_while(|&&c| c != b' ' && c != b':')
        .count();
    if word > 0 && b[i + word..].starts_with(b": ") {
        let after = skip_spaces(b, i + word + 1);
        if opens_body(after) {
            origin = Some(i..i + word);
            i = after;
        }
    }
    let found = origin.is_some() || (sequence.is_some() && opens_body(i));
    found.then_some(CiscoPrefix {
        sequence,
        origin,
        end: i,
    })
}

/// HOSTNAME, TAG and MSG after the timestamp (at `p`).
fn tail(line: &Line, p: usize, cisco: bool, fields: &mut Fields) {
    let b = line.bytes();
    let mut i = skip_spaces(b, p);
    if i == b.len() {
        return;
    }
    let mut end = token_end(b, i);
    let first_is_tag = tag_at(b, i, end)
        .filter(|t| t.colon || t.pid.is_some())
        .filter(|_| !is_ipv6(&b[i..end]));
    if let Some(tag) = first_is_tag {
        set_tag(line, tag, fields);
        return;
    }
    if !cisco {
        if &b[i..end] != b"-" {
            fields.hostname = Some(i..end);
        }
        i = skip_spaces(b, end);
        if i == b.len() {
            return;
        }
        end = token_end(b, i);
        if let Some(tag) = tag_at(b, i, end) {
            set_tag(line, tag, fields);
            return;
        }
    }
    fields.msg = Some(super::msg(line, i));
}

fn set_tag(line: &Line, tag: Tag, fields: &mut Fields) {
    fields.appname = Some(tag.name);
    fields.procid = tag.pid.map(|r| line.slice(r));
    fields.msg = Some(super::msg(line, tag.msg_start));
}

/// A TAG: `name`, then `[pid]`, then `:`, each optional but the name.
struct Tag {
    name: Range<usize>,
    pid: Option<Range<usize>>,
    colon: bool,
    /// After the `:` and at most one space.
    msg_start: usize,
}

/// The TAG that the word `start..end` opens, if it is one. After a `:`, the rest of the
/// word is MSG (`app:text`, no space).
fn tag_at(b: &[u8], start: usize, end: usize) -> Option<Tag> {
    let is_tag_char = |c: u8| c.is_ascii_alphanumeric() || b"-_./%@()+".contains(&c);
    let mut j = start
        + b[start..end]
            .iter()
            .take_while(|&&c| is_tag_char(c))
            .count();
    if j == start {
        return None;
    }
    let name = start..j;
    let mut pid = None;
    if b.get(j) == Some(&b'[') && j < end {
        let close = j + 1 + b[j + 1..end].iter().position(|&c| c == b']')?;
        if close == j + 1 {
            return None;
        }
        pid = Some(j + 1..close);
        j = close + 1;
    }
    let colon = j < end && b[j] == b':';
    j += usize::from(colon);
    if j < end && !colon {
        return None;
    }
    let msg_start = if b.get(j) == Some(&b' ') { j + 1 } else { j };
    Some(Tag {
        name,
        pid,
        colon,
        msg_start,
    })
}

fn is_ipv6(word: &[u8]) -> bool {
    std::str::from_utf8(word).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok())
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

fn token_end(b: &[u8], i: usize) -> usize {
    i + b[i..].iter().take_while(|&&c| c != b' ').count()
}
