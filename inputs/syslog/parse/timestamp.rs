//! Header timestamps, read from bytes into a [`Stamp`] whose year or zone may still be
//! open, then settled by [`resolve`]:
//! - RFC 3339 (RFC 5424's TIMESTAMP, and rsyslog's `RSYSLOG_ForwardFormat` 3164 header):
//!   `YYYY-MM-DD(T|t| )hh:mm:ss[.1–9 digits][Z|z|±hh:mm|±hhmm]`;
//! - BSD (RFC 3164 and its variants): `Mmm dd [yyyy ]hh:mm:ss[.fraction][ yyyy][ zone][:]`,
//!   day space-padded or not, month in any case; the zone is `UTC`/`GMT`, a numeric offset,
//!   or (Cisco `show-timezone`) any upper-case name closed by `:`, whose offset is unknown.
//!
//! A stamp without an offset is in the configured default zone; one without a year gets
//! the year that puts it closest to now ([`super::year`]).

use super::ParseOptions;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Timelike};

/// The date part of a [`Stamp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Day {
    Full(NaiveDate),
    /// BSD stamps carry no year; `day` is 1–31, not yet checked against the month.
    NoYear {
        month: u32,
        day: u32,
    },
}

/// A timestamp as written, before the year and zone are settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    pub day: Day,
    pub time: NaiveTime,
    /// `None`: the stamp names no offset (or a zone whose offset we cannot know).
    pub offset: Option<FixedOffset>,
}

/// Settles year and zone; `None` for impossible dates (`Feb 30`).
pub(super) fn resolve(stamp: &Stamp, opts: &ParseOptions) -> Option<DateTime<FixedOffset>> {
    let offset = stamp.offset.unwrap_or(opts.default_timezone);
    match stamp.day {
        Day::Full(date) => offset
            .from_local_datetime(&date.and_time(stamp.time))
            .single(),
        Day::NoYear { month, day } => super::year::infer(month, day, stamp.time, offset, opts.now),
    }
}

/// Nanoseconds since the epoch, 0 ("unknown") before 1970 or past 2262.
pub(super) fn unix_nanos(t: DateTime<FixedOffset>) -> u64 {
    t.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

/// Nanoseconds since the epoch of a full date and time at `offset`, by arithmetic: the same
/// as [`resolve`] then [`unix_nanos`] (0 outside 1970–2262), without chrono's general path,
/// for RFC 5424, where every message has such a stamp.
pub(super) fn full_unix_nanos(date: NaiveDate, time: NaiveTime, offset: FixedOffset) -> u64 {
    // 719 163: days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
    let days = i64::from(date.num_days_from_ce()) - 719_163;
    let secs = days * 86_400 + i64::from(time.num_seconds_from_midnight())
        - i64::from(offset.local_minus_utc());
    secs.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(i64::from(time.nanosecond())))
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

/// Reads an RFC 3339 stamp at the start of `b`; returns it and the bytes it took. The
/// offset is optional here: RFC 5424 requires it and its caller checks.
pub(super) fn rfc3339(b: &[u8]) -> Option<(Stamp, usize)> {
    let mut c = Cursor { b, i: 0 };
    let year = c.fixed(4)?;
    c.eat(b'-').then_some(())?;
    let month = c.fixed(2)?;
    c.eat(b'-').then_some(())?;
    let day = c.fixed(2)?;
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = c.time()?;
    let offset = if c.eat(b'Z') || c.eat(b'z') {
        Some(FixedOffset::east_opt(0)?)
    } else {
        c.numeric_offset()
    };
    let stamp = Stamp {
        day: Day::Full(date),
        time,
        offset,
    };
    Some((stamp, c.i))
}

/// Reads a BSD stamp at the start of `b`, with the `:` that closes some of them (Cisco,
/// `Dec 28 16:49:07:`); returns it and the bytes it took.
pub(super) fn bsd(b: &[u8]) -> Option<(Stamp, usize)> {
    let mut c = Cursor { b, i: 0 };
    let month = c.month()?;
    c.spaces().then_some(())?;
    let day = c.number(1, 2)?;
    c.spaces().then_some(())?;
    // Cisco `service timestamps ... year`: `Mar  1 2024 18:46:11`.
    let mut year = None;
    if c.digits_before_space() == 4 {
        year = Some(c.fixed(4)?);
        c.spaces();
    }
    let time = c.time()?;
    // rsyslog `detect.yearAfterTimestamp`: `Oct 11 22:14:15 2024 host`.
    if year.is_none() && c.peek(0) == Some(b' ') {
        let mut ahead = Cursor { b, i: c.i + 1 };
        let year_after = ahead.fixed(4);
        if let Some(y) = year_after.filter(|_| matches!(ahead.peek(0), None | Some(b' '))) {
            year = Some(y);
            c.i = ahead.i;
        }
    }
    let mut offset = None;
    if c.peek(0) == Some(b' ') {
        let mut ahead = Cursor { b, i: c.i + 1 };
        if let Some(zone) = ahead.zone() {
            offset = zone;
            c.i = ahead.i;
        }
    }
    c.eat(b':');
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let day = match year {
        Some(y) => Day::Full(NaiveDate::from_ymd_opt(y as i32, month, day)?),
        None => Day::NoYear { month, day },
    };
    Some((Stamp { day, time, offset }, c.i))
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.b.get(self.i + ahead).copied()
    }

    fn eat(&mut self, want: u8) -> bool {
        let hit = self.peek(0) == Some(want);
        self.i += usize::from(hit);
        hit
    }

    /// One or more spaces.
    fn spaces(&mut self) -> bool {
        let start = self.i;
        while self.eat(b' ') {}
        self.i > start
    }

    /// At end of input, a space or a `:`.
    fn at_boundary(&self) -> bool {
        matches!(self.peek(0), None | Some(b' ' | b':'))
    }

    /// How many digits start here, if a space follows them (else 0).
    fn digits_before_space(&self) -> usize {
        let digits = self.b[self.i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if self.b.get(self.i + digits) == Some(&b' ') {
            digits
        } else {
            0
        }
    }

    /// Between `min` and `max` digits.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let mut n = 0u32;
        let start = self.i;
        while self.i - start < max {
            match self.peek(0) {
                Some(d @ b'0'..=b'9') => n = n * 10 + u32::from(d - b'0'),
                _ => break,
            }
            self.i += 1;
        }
        (self.i - start >= min).then_some(n)
    }

    fn fixed(&mut self, n: usize) -> Option<u32> {
        self.number(n, n)
    }

    /// `hh:mm:ss[.fraction]`; a fraction of more than 9 digits is not a time.
    fn time(&mut self) -> Option<NaiveTime> {
        let hour = self.number(1, 2)?;
        self.eat(b':').then_some(())?;
        let minute = self.fixed(2)?;
        self.eat(b':').then_some(())?;
        let second = self.fixed(2)?;
        let mut nanos = 0;
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|d| d.is_ascii_digit()) {
            self.i += 1;
            let start = self.i;
            nanos = self.number(1, 9)?;
            if self.peek(0).is_some_and(|d| d.is_ascii_digit()) {
                return None;
            }
            nanos *= 10u32.pow(9 - (self.i - start) as u32);
        }
        // Leap second 60 is refused, as RFC 5424 says.
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
    }

    /// `±hh:mm` or `±hhmm`, if one starts here.
    fn numeric_offset(&mut self) -> Option<FixedOffset> {
        let sign = match self.peek(0)? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let start = self.i;
        self.i += 1;
        let parsed = (|| {
            let hours = self.fixed(2)?;
            self.eat(b':');
            let minutes = self.fixed(2)?;
            (hours < 24 && minutes < 60).then_some(())?;
            FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60) as i32)
        })();
        if parsed.is_none() {
            self.i = start;
        }
        parsed
    }

    /// A zone after a BSD time: `Some(Some(offset))` when known, `Some(None)` for a
    /// Cisco-style name closed by `:`, `None` when what follows is not a zone.
    fn zone(&mut self) -> Option<Option<FixedOffset>> {
        if let Some(offset) = self.numeric_offset() {
            return self.at_boundary().then_some(Some(offset));
        }
        let len = self.b[self.i..]
            .iter()
            .take(6)
            .take_while(|c| c.is_ascii_uppercase())
            .count();
        let name = &self.b[self.i..self.i + len];
        let utc = name == b"UTC" || name == b"GMT";
        let closed_by_colon = self.b.get(self.i + len) == Some(&b':');
        if utc && matches!(self.b.get(self.i + len), None | Some(b' ' | b':')) {
            self.i += len;
            Some(FixedOffset::east_opt(0))
        } else if (3..=5).contains(&len) && closed_by_colon {
            self.i += len;
            Some(None)
        } else {
            None
        }
    }

    fn month(&mut self) -> Option<u32> {
        let name = self.b.get(self.i..self.i + 3)?;
        const MONTHS: [&[u8; 3]; 12] = [
            b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
            b"dec",
        ];
        let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name))?;
        self.i += 3;
        Some(month as u32 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ns: u32) -> (NaiveDate, NaiveTime) {
        (
            NaiveDate::from_ymd_opt(y, mo, d).unwrap(),
            NaiveTime::from_hms_nano_opt(h, mi, s, ns).unwrap(),
        )
    }

    fn east(secs: i32) -> Option<FixedOffset> {
        FixedOffset::east_opt(secs)
    }

    #[test]
    fn reads_rfc3339_with_its_real_world_variants() {
        let (date, time) = at(2024, 3, 5, 7, 8, 9, 123_456_000);
        let want = |offset, len| {
            Some((
                Stamp {
                    day: Day::Full(date),
                    time,
                    offset,
                },
                len,
            ))
        };
        assert_eq!(
            rfc3339(b"2024-03-05T07:08:09.123456+01:00 x"),
            want(east(3600), 32)
        );
        assert_eq!(rfc3339(b"2024-03-05t07:08:09.123456z"), want(east(0), 27));
        assert_eq!(
            rfc3339(b"2024-03-05 07:08:09.123456-0130"),
            want(east(-5400), 31)
        );
        assert_eq!(rfc3339(b"2024-03-05T07:08:09.123456 host"), want(None, 26));
        let (_, nine) = at(2024, 3, 5, 7, 8, 9, 123_456_789);
        assert_eq!(
            rfc3339(b"2024-03-05T07:08:09.123456789Z").map(|(s, _)| s.time),
            Some(nine)
        );
        for bad in [
            "2024-03-05T07:08:09.1234567891Z",
            "2024-03-05T07:08:60Z",
            "2024-02-30T07:08:09Z",
            "2024-03-05X07:08:09Z",
            "24-03-05T07:08:09Z",
        ] {
            assert_eq!(rfc3339(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn direct_arithmetic_agrees_with_chrono() {
        let opts = ParseOptions::new(FixedOffset::east_opt(0).unwrap(), 0);
        for (y, mo, d, h, mi, s, ns) in [
            (1970, 1, 1, 0, 0, 0, 0),
            (1969, 12, 31, 23, 59, 59, 999_999_999),
            (2000, 2, 29, 12, 0, 0, 1),
            (2024, 12, 31, 23, 59, 59, 123_456_789),
            (2026, 11, 29, 3, 4, 5, 123_456_000),
            (2262, 4, 11, 23, 47, 16, 854_775_807),
            (2262, 4, 11, 23, 47, 16, 854_775_808),
            (9999, 12, 31, 23, 59, 59, 0),
            (1, 1, 1, 0, 0, 0, 0),
        ] {
            let (date, time) = at(y, mo, d, h, mi, s, ns);
            for offset in [0, 3600, -5400, 14 * 3600, -12 * 3600] {
                let offset = east(offset).unwrap();
                let stamp = Stamp {
                    day: Day::Full(date),
                    time,
                    offset: Some(offset),
                };
                let chrono = resolve(&stamp, &opts).map_or(0, unix_nanos);
                assert_eq!(
                    full_unix_nanos(date, time, offset),
                    chrono,
                    "{date} {time} {offset}"
                );
            }
        }
    }

    #[test]
    fn reads_bsd_stamps_with_years_fractions_zones_and_colons() {
        let no_year = |h, ns| Stamp {
            day: Day::NoYear { month: 3, day: 5 },
            time: NaiveTime::from_hms_nano_opt(h, 8, 9, ns).unwrap(),
            offset: None,
        };
        assert_eq!(bsd(b"Mar  5 07:08:09 host"), Some((no_year(7, 0), 15)));
        assert_eq!(bsd(b"MAR 05 07:08:09"), Some((no_year(7, 0), 15)));
        assert_eq!(bsd(b"Mar 5 7:08:09:"), Some((no_year(7, 0), 14)));
        assert_eq!(
            bsd(b"Mar  5 07:08:09.123 host"),
            Some((no_year(7, 123_000_000), 19))
        );
        let utc = Stamp {
            offset: east(0),
            ..no_year(7, 123_000_000)
        };
        assert_eq!(bsd(b"Mar  5 07:08:09.123 UTC: %X"), Some((utc, 24)));
        let cet = no_year(7, 0);
        assert_eq!(bsd(b"Mar  5 07:08:09 CET: %X"), Some((cet, 20)));
        let plus = Stamp {
            offset: east(7200),
            ..no_year(7, 0)
        };
        assert_eq!(bsd(b"Mar  5 07:08:09 +02:00 host"), Some((plus, 22)));
        let (date, time) = at(2024, 3, 5, 7, 8, 9, 0);
        let full = Stamp {
            day: Day::Full(date),
            time,
            offset: None,
        };
        assert_eq!(bsd(b"Mar  5 2024 07:08:09 host"), Some((full, 20)));
        assert_eq!(bsd(b"Mar  5 07:08:09 2024 host"), Some((full, 20)));
        // A host that is not a zone stays outside the stamp.
        assert_eq!(bsd(b"Mar  5 07:08:09 CISCO1 x").map(|(_, n)| n), Some(15));
        for bad in [
            "Mxr  5 07:08:09",
            "Mar 32 07:08:09",
            "Mar  5 07:08",
            "Mar  5",
        ] {
            assert_eq!(bsd(bad.as_bytes()), None, "{bad}");
        }
    }
}
