//! The year of an RFC 3164 timestamp, which has none: the year that puts the stamp closest
//! to the time it was received. Right across New Year in both directions: `Dec 31 23:59`
//! received on Jan 1 00:01 is last year, `Jan 1 00:00:30` from a sender whose clock runs a
//! minute fast, received on Dec 31, is next year, and a stamp slightly in the future is
//! this year. (`now().year()` gets the first one wrong for a whole day in some zones.)

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

/// The stamp `month`/`day` `time` in `offset`, in whichever of last, this or next year
/// (as seen in `offset`) is nearest to `now`; `None` if the date exists in none of them.
pub(super) fn infer(
    month: u32,
    day: u32,
    time: NaiveTime,
    offset: FixedOffset,
    now: DateTime<Utc>,
) -> Option<DateTime<FixedOffset>> {
    let this_year = now.with_timezone(&offset).year();
    (this_year - 1..=this_year + 1)
        .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
        .filter_map(|date| offset.from_local_datetime(&date.and_time(time)).single())
        .min_by_key(|t| (t.with_timezone(&Utc) - now).num_seconds().unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn year(month: u32, day: u32, hms: (u32, u32, u32), offset_h: i32, now: &str) -> i32 {
        let time = NaiveTime::from_hms_opt(hms.0, hms.1, hms.2).unwrap();
        let offset = FixedOffset::east_opt(offset_h * 3600).unwrap();
        infer(month, day, time, offset, utc(now)).unwrap().year()
    }

    #[test]
    fn new_year_goes_both_ways() {
        // Sent just before midnight, received just after: last year.
        assert_eq!(year(12, 31, (23, 59, 0), 0, "2025-01-01T00:01:00Z"), 2024);
        // Sender's clock a little ahead, received on Dec 31: next year.
        assert_eq!(year(1, 1, (0, 0, 30), 0, "2024-12-31T23:59:50Z"), 2025);
        // Slightly in the future, mid-year: this year.
        assert_eq!(year(6, 15, (12, 5, 0), 0, "2024-06-15T12:00:00Z"), 2024);
        // Five months old: this year.
        assert_eq!(year(7, 2, (0, 0, 0), 0, "2024-11-30T00:00:00Z"), 2024);
        // Nearest wins either way: eleven months old loses to one month ahead.
        assert_eq!(year(1, 2, (0, 0, 0), 0, "2024-11-30T00:00:00Z"), 2025);
    }

    #[test]
    fn judges_the_year_in_the_stamps_own_zone() {
        // 2025-01-01T00:30+02:00 is still 2024 in UTC; the stamp is local to +02:00.
        assert_eq!(year(1, 1, (0, 29, 0), 2, "2024-12-31T22:30:00Z"), 2025);
        assert_eq!(year(12, 31, (23, 59, 0), -5, "2025-01-01T05:00:00Z"), 2024);
    }

    #[test]
    fn february_29_finds_its_leap_year_and_impossible_dates_have_none() {
        assert_eq!(year(2, 29, (1, 0, 0), 0, "2025-03-01T00:00:00Z"), 2024);
        let t = NaiveTime::from_hms_opt(0, 0, 0).unwrap();
        let z = FixedOffset::east_opt(0).unwrap();
        assert_eq!(infer(2, 30, t, z, utc("2025-03-01T00:00:00Z")), None);
    }
}
