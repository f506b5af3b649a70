//! The golden corpus: whole messages in, every field of the result asserted.

mod loose;
mod rfc3164;
mod rfc5424;

use super::*;
use chrono::FixedOffset;

/// Received at `now` (RFC 3339), zone-less stamps in UTC.
fn opts_at(now: &str) -> ParseOptions {
    ParseOptions {
        default_timezone: FixedOffset::east_opt(0).unwrap(),
        now: DateTime::parse_from_rfc3339(now)
            .unwrap()
            .with_timezone(&Utc),
    }
}

/// Received mid-2024, zone-less stamps in UTC.
fn opts() -> ParseOptions {
    opts_at("2024-06-01T12:00:00Z")
}

fn run_with(line: &[u8], opts: &ParseOptions) -> Parsed {
    parse(Bytes::copy_from_slice(line), opts)
}

fn run(line: &[u8]) -> Parsed {
    run_with(line, &opts())
}

/// Nanoseconds since the epoch of an RFC 3339 time.
fn ns(t: &str) -> u64 {
    DateTime::parse_from_rfc3339(t)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap() as u64
}

fn s(v: &str) -> AnyValue {
    AnyValue::String(Str::from(v.to_string()))
}

fn int(v: i64) -> AnyValue {
    AnyValue::Int(v)
}

fn map(entries: &[(&str, AnyValue)]) -> AnyValue {
    AnyValue::Map(
        entries
            .iter()
            .map(|(k, v)| (Str::from(k.to_string()), v.clone()))
            .collect(),
    )
}

/// What a message should read as.
#[derive(Debug, Default)]
struct Want<'a> {
    time: u64,
    severity: (i32, &'a str),
    host: Option<&'a str>,
    app: Option<&'a str>,
    body: Option<&'a str>,
    attributes: Vec<(&'a str, AnyValue)>,
}

#[track_caller]
fn check(line: &[u8], want: Want<'_>) {
    check_with(line, &opts(), want)
}

#[track_caller]
fn check_with(line: &[u8], opts: &ParseOptions, want: Want<'_>) {
    let got = run_with(line, opts);
    let label = String::from_utf8_lossy(line);
    assert_eq!(got.error, None, "{label}");
    let r = &got.record;
    assert_eq!(r.time_unix_nano, want.time, "time of {label}");
    assert_eq!(
        (r.severity_number, r.severity_text.as_str()),
        want.severity,
        "severity of {label}"
    );
    assert_eq!(got.hostname.as_deref(), want.host, "hostname of {label}");
    assert_eq!(got.appname.as_deref(), want.app, "appname of {label}");
    let body = match &r.body {
        AnyValue::Empty => None,
        AnyValue::String(s) => Some(s.as_str()),
        other => panic!("body of {label} is {other:?}"),
    };
    assert_eq!(body, want.body, "body of {label}");
    let attributes: Vec<(&str, AnyValue)> = r
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    assert_eq!(attributes, want.attributes, "attributes of {label}");
    assert_eq!(r.observed_time_unix_nano, 0);
    assert_eq!(r.resource, Default::default());
}

/// The line cannot be read: kept whole, severity unset, the reason attached.
#[track_caller]
fn check_unreadable(line: &[u8], body: &str, error: ParseError) {
    let got = run(line);
    let label = String::from_utf8_lossy(line);
    assert_eq!(got.error, Some(error), "{label}");
    let want = LogRecord {
        body: s(body),
        attributes: vec![("syslog.parse_error".into(), s(&error.to_string()))],
        ..LogRecord::default()
    };
    assert_eq!(got.record, want, "{label}");
    assert_eq!((got.hostname, got.appname), (None, None), "{label}");
}

#[test]
fn unreadable_lines_are_kept_whole_with_a_reason() {
    check_unreadable(b"", "", ParseError::Empty);
    check_unreadable(b"\r\n\0", "", ParseError::Empty);
    check_unreadable(
        b"<192>1 - - - - - -",
        "<192>1 - - - - - -",
        ParseError::BadPri,
    );
    check_unreadable(b"<1000>hi", "<1000>hi", ParseError::BadPri);
    check_unreadable(b"<html>\n", "<html>", ParseError::BadPri);
    check_unreadable(b"hello world", "hello world", ParseError::NotSyslog);
    check_unreadable(b"caf\xe9", "caf\u{fffd}", ParseError::NotSyslog);
    assert_eq!(
        ParseError::BadField {
            field: Field::AppName,
            max: 48
        }
        .to_string(),
        "RFC 5424 APP-NAME is not 1-48 printable ASCII characters"
    );
}

#[test]
fn fields_are_slices_of_the_received_buffer() {
    let input = Bytes::from_static(b"<14>1 - web01 nginx 4242 ACCESS - GET /\n");
    let got = parse(input.clone(), &opts());
    let at = |s: &Str| s.as_bytes().as_ptr() as usize - input.as_ptr() as usize;
    assert_eq!(at(got.hostname.as_ref().unwrap()), 8);
    assert_eq!(at(got.appname.as_ref().unwrap()), 14);
    let AnyValue::String(body) = &got.record.body else {
        panic!()
    };
    assert_eq!(at(body), 34);
}

#[test]
fn records_carry_no_spare_capacity() {
    // Records wait in buffers by the thousand: spare vector slots there are memory per record.
    let got = run(b"<14>1 - h app 1 ID [a x=\"1\" y=\"2\"][b z=\"3\"] msg");
    let attributes = &got.record.attributes;
    // Room for exactly what the input adds (peer address and transport).
    assert_eq!(attributes.capacity(), attributes.len() + 2);
    let AnyValue::Map(elements) = &attributes
        .iter()
        .find(|(k, _)| k.as_str() == "syslog.structured_data")
        .unwrap()
        .1
    else {
        panic!("structured data is a map")
    };
    let params: Vec<(usize, usize)> = elements
        .iter()
        .map(|(_, v)| match v {
            AnyValue::Map(p) => (p.len(), p.capacity()),
            other => panic!("an SD element is a map, got {other:?}"),
        })
        .collect();
    assert_eq!(params, [(2, 2), (1, 1)]);
}

#[test]
fn options_take_the_receive_time_in_nanoseconds() {
    let tz = FixedOffset::east_opt(3600).unwrap();
    let o = ParseOptions::new(tz, ns("2024-06-01T12:00:00.5Z"));
    assert_eq!(
        o.now,
        DateTime::parse_from_rfc3339("2024-06-01T12:00:00.5Z").unwrap()
    );
    assert_eq!(o.default_timezone, tz);
}

#[test]
fn never_panics_on_cut_or_mangled_messages() {
    let corpus: [&[u8]; 6] = [
        b"<14>1 2024-03-05T07:08:09.123456+01:00 web01 nginx 4242 ACCESS [a@1 k=\"v\\\"]\"][b c=\"\"] \xEF\xBB\xBFhi",
        b"<189>57: edge1: *Mar  5 07:08:09.123 UTC: %LINK-3-UPDOWN: up",
        b"<13>Mar  5 2023 07:08:09 -01:00 mx postfix/smtpd[123]: connect",
        b"<13>Oct 11 22:14:15 2024 2001:db8::1 app:x",
        b"<30>2024-03-05 07:08:09.000001 web01 app: text",
        b"<14>hello\0",
    ];
    let swaps = b" :[]\"\\\0\xff-*.<>19Tz+";
    for line in corpus {
        for end in 0..=line.len() {
            run(&line[..end]);
        }
        for at in 0..line.len() {
            for &swap in swaps {
                let mut mangled = line.to_vec();
                mangled[at] = swap;
                run(&mangled);
            }
        }
    }
}
