//! PRI: the `<N>` that opens a syslog message, and what it maps to in the OTel log model
//! (data-model appendix, "RFC5424 Syslog"; PROTOCOLS.md §5.5).
//!
//! | severity | keyword (`severity_text`) | `severity_number` |
//! |---|---|---|
//! | 0 | emerg   | 21 FATAL  |
//! | 1 | alert   | 19 ERROR3 |
//! | 2 | crit    | 18 ERROR2 |
//! | 3 | err     | 17 ERROR  |
//! | 4 | warning | 13 WARN   |
//! | 5 | notice  | 10 INFO2  |
//! | 6 | info    |  9 INFO   |
//! | 7 | debug   |  5 DEBUG  |
//!
//! The facility (PRI >> 3) goes to the `syslog.facility` attribute as its number.

use syslog_loose::{SyslogSeverity, decompose_pri};

/// A decoded PRI (0–191).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pri {
    /// 0 (kern) … 23 (local7).
    pub facility: u8,
    severity: SyslogSeverity,
}

/// What the start of a line says about PRI.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PriScan {
    /// The line does not start with `<`: no PRI (seen from some devices).
    Absent,
    /// A PRI and the number of bytes it took.
    Valid(Pri, usize),
    /// Starts with `<` but is not `<0>`..`<191>`.
    Invalid,
}

/// Reads a leading `<N>`, N of 1–3 digits and at most 191. Leading zeros (`<013>`) are
/// accepted: RFC 5424 forbids them, but the value is unambiguous.
pub(super) fn scan_pri(b: &[u8]) -> PriScan {
    if b.first() != Some(&b'<') {
        return PriScan::Absent;
    }
    let digits = b[1..]
        .iter()
        .take(4)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 || digits > 3 || b.get(1 + digits) != Some(&b'>') {
        return PriScan::Invalid;
    }
    let value = b[1..1 + digits]
        .iter()
        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    if value > 191 {
        return PriScan::Invalid;
    }
    match decompose_pri(value as u8) {
        (Some(facility), Some(severity)) => PriScan::Valid(
            Pri {
                facility: facility as u8,
                severity,
            },
            digits + 2,
        ),
        _ => PriScan::Invalid,
    }
}

impl Pri {
    /// The OTel `SeverityNumber` for this syslog severity.
    pub fn severity_number(self) -> i32 {
        match self.severity {
            SyslogSeverity::SEV_EMERG => 21,
            SyslogSeverity::SEV_ALERT => 19,
            SyslogSeverity::SEV_CRIT => 18,
            SyslogSeverity::SEV_ERR => 17,
            SyslogSeverity::SEV_WARNING => 13,
            SyslogSeverity::SEV_NOTICE => 10,
            SyslogSeverity::SEV_INFO => 9,
            SyslogSeverity::SEV_DEBUG => 5,
        }
    }

    /// The syslog keyword: `emerg`, `alert`, `crit`, `err`, `warning`, `notice`, `info`,
    /// `debug`.
    pub fn severity_text(self) -> &'static str {
        self.severity.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pri(s: &str) -> Pri {
        match scan_pri(s.as_bytes()) {
            PriScan::Valid(p, _) => p,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn maps_every_severity_as_the_otel_appendix_says() {
        let want = [
            (21, "emerg"),
            (19, "alert"),
            (18, "crit"),
            (17, "err"),
            (13, "warning"),
            (10, "notice"),
            (9, "info"),
            (5, "debug"),
        ];
        for (sev, (number, text)) in want.into_iter().enumerate() {
            let p = pri(&format!("<{}>", 8 + sev));
            assert_eq!(
                (p.facility, p.severity_number(), p.severity_text()),
                (1, number, text)
            );
        }
    }

    #[test]
    fn reads_the_range_and_rejects_the_rest() {
        assert_eq!(scan_pri(b"<0>x"), PriScan::Valid(pri("<0>"), 3));
        assert_eq!(pri("<191>").facility, 23);
        assert_eq!(pri("<013>").facility, 1);
        assert_eq!(scan_pri(b"Mar"), PriScan::Absent);
        assert_eq!(scan_pri(b""), PriScan::Absent);
        for bad in [
            "<192>", "<999>", "<1000>", "<>", "<13", "<1a>", "<html>", "<-1>",
        ] {
            assert_eq!(scan_pri(bad.as_bytes()), PriScan::Invalid, "{bad}");
        }
    }
}
