//! Why `syslog_loose` 0.23's message parsers sit unused (PROTOCOLS.md §5 expectations they
//! miss), pinned so an upgrade that fixes them shows up here. Called through the
//! explicit-year, explicit-zone entry point, as we would.

use chrono::FixedOffset;
use syslog_loose::{Message, Variant, parse_message_with_year_exact_tz};

fn loose(line: &str) -> Result<Message<&str>, String> {
    let plus2 = FixedOffset::east_opt(2 * 3600);
    parse_message_with_year_exact_tz(line, |_| 2024, plus2, Variant::Either)
}

fn time(line: &str) -> Option<String> {
    loose(line).unwrap().timestamp.map(|t| t.to_rfc3339())
}

#[test]
fn stamps_it_misreads() {
    // A stamp with a year, in a +02:00 default zone, is read as UTC: two hours late.
    assert_eq!(
        time("<13>Mar  5 2023 07:08:09 web01 app: x").as_deref(),
        Some("2023-03-05T09:08:09+02:00")
    );
    // Fractional seconds end the header: HOSTNAME and TAG are lost into MSG.
    let m = loose("<13>Mar  5 07:08:09.123 web01 app: x").unwrap();
    assert_eq!((m.hostname, m.msg), (None, ".123 web01 app: x"));
    // A zone after the time becomes the HOSTNAME.
    assert_eq!(
        loose("<13>Mar  5 07:08:09 UTC web01 app: x")
            .unwrap()
            .hostname,
        Some("UTC")
    );
    // Not read at all: Cisco, RFC 5424 and 3164 with a space for `T`, PRI-only Python.
    for line in [
        "<189>57: edge1: *Mar  5 07:08:09.123 UTC: %LINK-3-UPDOWN: up",
        "<13>1 2024-03-05 07:08:09Z web01 app - - - x",
        "<13>2024-03-05 07:08:09 web01 app: x",
        "<14>hello world",
    ] {
        assert!(loose(line).is_err(), "{line}");
    }
}

#[test]
fn header_fields_it_misreads() {
    // The /dev/log form `tag: msg` gets the tag as HOSTNAME.
    let m = loose("<13>Mar  5 07:08:09 sshd: Accepted").unwrap();
    assert_eq!((m.hostname, m.appname), (Some("sshd"), None));
    // A 3164 MSG opening with `[id k="v"]` is eaten as STRUCTURED-DATA.
    let m = loose(r#"<13>Mar  5 07:08:09 web01 app: [a@1 k="v"] msg"#).unwrap();
    assert_eq!((m.structured_data.len(), m.msg), (1, "msg"));
    // PROCID is turned into a number: `0311` comes back as 311.
    let m = loose("<13>Mar  5 07:08:09 web01 sshd[0311]: x").unwrap();
    assert_eq!(m.procid.map(|p| p.to_string()).as_deref(), Some("311"));
    // MSG loses its BOM-less leading and trailing spaces; the BOM itself stays.
    let m = loose("<13>1 - - - - - -   \u{feff}hi  ").unwrap();
    assert_eq!(m.msg, "\u{feff}hi");
}

#[test]
fn rfc5424_errors_it_lets_through() {
    // PRI 192: accepted, facility dropped.
    let m = loose("<192>1 - - - - - - x").unwrap();
    assert_eq!(m.facility, None);
    // APP-NAME of 49 characters, a repeated SD-ID: accepted.
    assert!(loose(&format!("<13>1 - h {} - - - x", "a".repeat(49))).is_ok());
    let m = loose(r#"<13>1 - - - - - [a@1 b="c"][a@1 b="d"] x"#).unwrap();
    assert_eq!(m.structured_data.len(), 2);
    // An element with an unquoted value is dropped without a word.
    let m = loose("<13>1 - - - - - [a@1 b=c] x").unwrap();
    assert_eq!((m.structured_data.len(), m.msg), (0, "x"));
    // `\n` in a PARAM-VALUE is unescaped to a newline; RFC 5424 escapes only `"`, `\`, `]`.
    let m = loose(r#"<13>1 - - - - - [e@9 s="a\nb"] x"#).unwrap();
    let (_, value) = m.structured_data[0].params().next().unwrap();
    assert_eq!(value, "a\nb");
}
