//! RFC 5424: PROTOCOLS.md §5.6 vectors 1–5, then the real-world leniencies and the
//! refusals.

use super::*;

#[test]
fn vector_1_every_header_field() {
    check(
        b"<14>1 2024-03-05T07:08:09.123456+01:00 web01 nginx 4242 ACCESS - GET /",
        Want {
            time: ns("2024-03-05T06:08:09.123456Z"),
            severity: (9, "info"),
            host: Some("web01"),
            app: Some("nginx"),
            body: Some("GET /"),
            attributes: vec![
                ("syslog.facility", int(1)),
                ("syslog.version", int(1)),
                ("syslog.procid", s("4242")),
                ("syslog.msgid", s("ACCESS")),
            ],
        },
    );
}

#[test]
fn vector_2_all_nil_and_no_msg() {
    check(
        b"<0>1 - - - - - -",
        Want {
            severity: (21, "emerg"),
            attributes: vec![("syslog.facility", int(0)), ("syslog.version", int(1))],
            ..Want::default()
        },
    );
}

#[test]
fn vector_3_two_elements_and_a_bom() {
    check(
        b"<86>1 2024-03-05T07:08:09Z h a - - [a@123 k=\"v\"][b@123 x=\"1\" y=\"2\"] \xEF\xBB\xBFhello",
        Want {
            time: ns("2024-03-05T07:08:09Z"),
            severity: (9, "info"),
            host: Some("h"),
            app: Some("a"),
            body: Some("hello"),
            attributes: vec![
                ("syslog.facility", int(10)),
                ("syslog.version", int(1)),
                (
                    "syslog.structured_data",
                    map(&[
                        ("a@123", map(&[("k", s("v"))])),
                        ("b@123", map(&[("x", s("1")), ("y", s("2"))])),
                    ]),
                ),
            ],
        },
    );
}

#[test]
fn vector_4_escapes() {
    check(
        br#"<13>1 - - - - - [e@9 q="say \"hi\"" p="C:\\tmp" r="a\]b" s="a\nb"]"#,
        Want {
            severity: (10, "notice"),
            attributes: vec![
                ("syslog.facility", int(1)),
                ("syslog.version", int(1)),
                (
                    "syslog.structured_data",
                    map(&[(
                        "e@9",
                        map(&[
                            ("q", s(r#"say "hi""#)),
                            ("p", s(r"C:\tmp")),
                            ("r", s("a]b")),
                            ("s", s(r"a\nb")),
                        ]),
                    )]),
                ),
            ],
            ..Want::default()
        },
    );
}

#[test]
fn vector_5_invalid_messages() {
    let app49 = format!("<13>1 - host {} - - - msg", "a".repeat(49));
    let cases: Vec<(&[u8], ParseError)> = vec![
        (b"<192>1 - - - - - - x", ParseError::BadPri),
        (
            b"<13>1 2024-03-05T07:08:09 host app - - - msg",
            ParseError::BadTimestamp,
        ),
        (
            br#"<13>1 - - - - - [a@1 b="c"][a@1 d="e"] msg"#,
            ParseError::StructuredData(SdError::DuplicateId),
        ),
        (
            app49.as_bytes(),
            ParseError::BadField {
                field: Field::AppName,
                max: 48,
            },
        ),
        (
            b"<13>1 - - - - - [a@1 b=c] msg",
            ParseError::StructuredData(SdError::Unquoted),
        ),
    ];
    for (line, error) in cases {
        let body = String::from_utf8_lossy(line);
        check_unreadable(line, &body, error);
    }
}

#[test]
fn vector_5_sd_ends_at_the_space_so_the_rest_is_msg() {
    check(
        br#"<13>1 - - - - - [a@1 b="c"] [d@1]"#,
        Want {
            severity: (10, "notice"),
            body: Some("[d@1]"),
            attributes: vec![
                ("syslog.facility", int(1)),
                ("syslog.version", int(1)),
                (
                    "syslog.structured_data",
                    map(&[("a@1", map(&[("b", s("c"))]))]),
                ),
            ],
            ..Want::default()
        },
    );
}

/// What `logger --server` (util-linux 2.38) sends by default.
#[test]
fn logger_default_with_time_quality() {
    check(
        b"<13>1 2024-10-11T22:14:15.123456+02:00 host user - - [timeQuality tzKnown=\"1\" isSynced=\"0\"] msg\n",
        Want {
            time: ns("2024-10-11T20:14:15.123456Z"),
            severity: (10, "notice"),
            host: Some("host"),
            app: Some("user"),
            body: Some("msg"),
            attributes: vec![
                ("syslog.facility", int(1)),
                ("syslog.version", int(1)),
                (
                    "syslog.structured_data",
                    map(&[(
                        "timeQuality",
                        map(&[("tzKnown", s("1")), ("isSynced", s("0"))]),
                    )]),
                ),
            ],
        },
    );
}

fn nil_header(time: u64, body: Option<&str>) -> Want<'_> {
    Want {
        time,
        severity: (13, "warning"),
        body,
        attributes: vec![("syslog.facility", int(20)), ("syslog.version", int(1))],
        ..Want::default()
    }
}

#[test]
fn timestamps_in_their_real_world_spellings() {
    let cases: [(&[u8], &str); 7] = [
        (
            b"<164>1 2024-03-05 07:08:09.5-02:00 - - - - - m",
            "2024-03-05T09:08:09.5Z",
        ),
        (
            b"<164>1 2024-03-05t07:08:09z - - - - - m",
            "2024-03-05T07:08:09Z",
        ),
        (
            b"<164>1 2024-03-05T07:08:09+0530 - - - - - m",
            "2024-03-05T01:38:09Z",
        ),
        (
            b"<164>1 2024-03-05T07:08:09.1Z - - - - - m",
            "2024-03-05T07:08:09.1Z",
        ),
        (
            b"<164>1 2024-03-05T07:08:09.123456789Z - - - - - m",
            "2024-03-05T07:08:09.123456789Z",
        ),
        (
            b"<164>1 2024-12-31T23:59:59.999999-00:00 - - - - - m",
            "2024-12-31T23:59:59.999999Z",
        ),
        (
            b"<164>1 1969-12-31T23:59:59Z - - - - - m",
            "1970-01-01T00:00:00Z",
        ),
    ];
    for (line, time) in cases {
        check(line, nil_header(ns(time), Some("m")));
    }
}

#[test]
fn msg_keeps_its_spaces_and_loses_its_trailer() {
    let cases: [(&[u8], Option<&str>); 6] = [
        (b"<164>1 - - - - - -   spaced  \r\n", Some(" spaced  ")),
        (b"<164>1 - - - - - - two\nlines\0", Some("two\nlines")),
        (b"<164>1 - - - - - - ", Some("")),
        (b"<164>1 - - - - - - -", Some("-")),
        (
            b"<164>1 - - - - - - caf\xc3\xa9 \xff",
            Some("caf\u{e9} \u{fffd}"),
        ),
        (b"<164>1 - - - - - - \xEF\xBB\xBF", Some("")),
    ];
    for (line, body) in cases {
        check(line, nil_header(0, body));
    }
}

#[test]
fn missing_structured_data_and_padded_fields_are_tolerated() {
    // Some senders stop after MSGID, or leave STRUCTURED-DATA out before MSG.
    check(b"<164>1 - - - - -", nil_header(0, None));
    check(b"<164>1 - - - - - x", nil_header(0, Some("x")));
    check(b"<164>1 - - - - - -x y", nil_header(0, Some("-x y")));
    check(
        b"<164>1  2024-03-05T07:08:09Z  web01   app  -  -  - m",
        Want {
            host: Some("web01"),
            app: Some("app"),
            ..nil_header(ns("2024-03-05T07:08:09Z"), Some("m"))
        },
    );
    let mut want = nil_header(0, Some("m"));
    want.attributes[1] = ("syslog.version", int(2));
    check(b"<164>2 - - - - - - m", want);
}

#[test]
fn procid_and_msgid_are_kept_as_sent() {
    check(
        b"<164>1 - - - 0042 ID:7 - m",
        Want {
            attributes: vec![
                ("syslog.facility", int(20)),
                ("syslog.version", int(1)),
                ("syslog.procid", s("0042")),
                ("syslog.msgid", s("ID:7")),
            ],
            ..nil_header(0, Some("m"))
        },
    );
}

#[test]
fn refuses_broken_headers() {
    let host256 = format!("<13>1 - {} - - - - m", "h".repeat(256));
    let procid129 = format!("<13>1 - h a {} - - m", "1".repeat(129));
    let msgid33 = format!("<13>1 - h a - {} - m", "M".repeat(33));
    let bad = |field, max| ParseError::BadField { field, max };
    let cases: Vec<(&[u8], ParseError)> = vec![
        (b"<13>1 - host", ParseError::Truncated(Field::AppName)),
        (b"<13>1 - h a p ", ParseError::Truncated(Field::MsgId)),
        (
            b"<13>1 2024-03-05T07:08:09.1234567891Z h a - - - m",
            ParseError::BadTimestamp,
        ),
        (
            b"<13>1 2024-03-05T07:08:60Z h a - - - m",
            ParseError::BadTimestamp,
        ),
        (
            b"<13>1 2024-02-30T07:08:09Z h a - - - m",
            ParseError::BadTimestamp,
        ),
        (
            b"<13>1 2024-03-05T07:08:09Zh a - - - m",
            ParseError::BadTimestamp,
        ),
        (host256.as_bytes(), bad(Field::Hostname, 255)),
        (procid129.as_bytes(), bad(Field::ProcId, 128)),
        (msgid33.as_bytes(), bad(Field::MsgId, 32)),
        (
            "<13>1 - h\u{e9}te a - - - m".as_bytes(),
            bad(Field::Hostname, 255),
        ),
        (b"<13>1 - h a - - [a@1]x", ParseError::NoSpaceBeforeMsg),
        (
            br#"<13>1 - h a - - [a@1 b="c"#,
            ParseError::StructuredData(SdError::Unterminated),
        ),
    ];
    for (line, error) in cases {
        let body = String::from_utf8_lossy(line);
        check_unreadable(line, &body, error);
    }
}
