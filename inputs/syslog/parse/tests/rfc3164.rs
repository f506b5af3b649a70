//! RFC 3164 and the BSD forms seen in the wild: PROTOCOLS.md §5.6 vectors 6–10, the §5.2
//! variants, year inference and zones.

use super::*;

/// `<13>` (user.notice) with the given pieces.
fn notice<'a>(time: &str, host: Option<&'a str>, app: Option<&'a str>, body: &'a str) -> Want<'a> {
    Want {
        time: ns(time),
        severity: (10, "notice"),
        host,
        app,
        body: Some(body),
        attributes: vec![("syslog.facility", int(1))],
    }
}

fn with_attrs<'a>(mut want: Want<'a>, more: Vec<(&'a str, AnyValue)>) -> Want<'a> {
    want.attributes.extend(more);
    want
}

#[test]
fn vector_6_host_tag_and_pid() {
    check(
        b"<13>Mar  5 07:08:09 web01 sshd[311]: Accepted key",
        with_attrs(
            notice(
                "2024-03-05T07:08:09Z",
                Some("web01"),
                Some("sshd"),
                "Accepted key",
            ),
            vec![("syslog.procid", s("311"))],
        ),
    );
}

#[test]
fn vector_7_no_hostname_local_form() {
    check(
        b"<13>Mar  5 07:08:09 sshd[311]: Accepted key",
        with_attrs(
            notice("2024-03-05T07:08:09Z", None, Some("sshd"), "Accepted key"),
            vec![("syslog.procid", s("311"))],
        ),
    );
    // logger(1) to /dev/log without -i: `<13>Oct 11 22:14:15 tag: msg`.
    check(
        b"<13>May 11 22:14:15 user: hello there",
        notice("2024-05-11T22:14:15Z", None, Some("user"), "hello there"),
    );
}

#[test]
fn vector_8_rfc3339_stamp_in_a_bsd_header() {
    check(
        b"<30>2024-03-05T07:08:09.000001+00:00 web01 app: text",
        Want {
            time: ns("2024-03-05T07:08:09.000001Z"),
            severity: (9, "info"),
            host: Some("web01"),
            app: Some("app"),
            body: Some("text"),
            attributes: vec![("syslog.facility", int(3))],
        },
    );
}

#[test]
fn vector_9_cisco_ios() {
    check(
        b"<189>57: edge1: *Mar  5 07:08:09.123 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up",
        Want {
            time: ns("2024-03-05T07:08:09.123Z"),
            severity: (10, "notice"),
            host: Some("edge1"),
            app: Some("%LINK-3-UPDOWN"),
            body: Some("Interface Gi0/1, changed state to up"),
            attributes: vec![
                ("syslog.facility", int(23)),
                ("syslog.sequence", int(57)),
                ("syslog.clock_synced", AnyValue::Bool(false)),
            ],
        },
    );
}

#[test]
fn vector_10_python_sysloghandler_pri_only_and_nul() {
    check(
        b"<14>hello world\x00",
        Want {
            severity: (9, "info"),
            body: Some("hello world"),
            attributes: vec![("syslog.facility", int(1))],
            ..Want::default()
        },
    );
}

#[test]
fn cisco_variants() {
    let cisco = |app, body, more: Vec<(&'static str, AnyValue)>| {
        let mut attributes = vec![("syslog.facility", int(23))];
        attributes.extend(more);
        (app, body, attributes)
    };
    let cases = [
        (
            &b"<189>123: router1: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: Configured from console"[..],
            Some("router1"),
            "2024-03-01T18:46:11.123Z",
            cisco(
                "%SYS-5-CONFIG_I",
                "Configured from console",
                vec![("syslog.sequence", int(123)), ("syslog.clock_synced", AnyValue::Bool(false))],
            ),
        ),
        (
            b"<189>*Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: Configured",
            None,
            "2024-03-01T18:46:11.123Z",
            cisco("%SYS-5-CONFIG_I", "Configured", vec![("syslog.clock_synced", AnyValue::Bool(false))]),
        ),
        // `.`: clock set but not NTP-synced; a named zone other than UTC has an unknown
        // offset, so the default zone (UTC here) applies.
        (
            b"<189>42: .Mar  1 18:46:11 CET: %SYS-5-CONFIG_I: Configured",
            None,
            "2024-03-01T18:46:11Z",
            cisco(
                "%SYS-5-CONFIG_I",
                "Configured",
                vec![("syslog.sequence", int(42)), ("syslog.clock_synced", AnyValue::Bool(false))],
            ),
        ),
        (
            b"<189>43: Mar  1 2023 18:46:11.5 UTC: %SYS-5-CONFIG_I: Configured",
            None,
            "2023-03-01T18:46:11.5Z",
            cisco("%SYS-5-CONFIG_I", "Configured", vec![("syslog.sequence", int(43))]),
        ),
        // `no service timestamps`: no stamp at all.
        (
            b"<189>44: %SYS-5-CONFIG_I: Configured",
            None,
            "1970-01-01T00:00:00Z",
            cisco("%SYS-5-CONFIG_I", "Configured", vec![("syslog.sequence", int(44))]),
        ),
    ];
    for (line, host, time, (app, body, attributes)) in cases {
        check(
            line,
            Want {
                time: ns(time),
                severity: (10, "notice"),
                host,
                app: Some(app),
                body: Some(body),
                attributes,
            },
        );
    }
}

#[test]
fn stamp_variants() {
    let cases: [(&[u8], &str); 7] = [
        (
            b"<13>Mar  5 07:08:09.123456 web01 app: x",
            "2024-03-05T07:08:09.123456Z",
        ),
        (b"<13>mar 05 07:08:09 web01 app: x", "2024-03-05T07:08:09Z"),
        (
            b"<13>Mar  5 2023 07:08:09 web01 app: x",
            "2023-03-05T07:08:09Z",
        ),
        (
            b"<13>Mar  5 07:08:09 2023 web01 app: x",
            "2023-03-05T07:08:09Z",
        ),
        (
            b"<13>Mar  5 07:08:09 UTC web01 app: x",
            "2024-03-05T07:08:09Z",
        ),
        (
            b"<13>2024-03-05 07:08:09.25 web01 app: x",
            "2024-03-05T07:08:09.25Z",
        ),
        (
            b"<13> 2024-03-05T07:08:09-01:00 web01 app: x",
            "2024-03-05T08:08:09Z",
        ),
    ];
    for (line, time) in cases {
        check(line, notice(time, Some("web01"), Some("app"), "x"));
    }
}

#[test]
fn zone_less_stamps_use_the_default_zone_and_named_offsets_win() {
    let mut opts = opts();
    opts.default_timezone = FixedOffset::east_opt(2 * 3600).unwrap();
    let cases: [(&[u8], &str); 5] = [
        (b"<13>Mar  5 07:08:09 web01 app: x", "2024-03-05T05:08:09Z"),
        (
            b"<13>Mar  5 2023 07:08:09 web01 app: x",
            "2023-03-05T05:08:09Z",
        ),
        (
            b"<13>2024-03-05T07:08:09 web01 app: x",
            "2024-03-05T05:08:09Z",
        ),
        (
            b"<13>Mar  5 07:08:09 UTC web01 app: x",
            "2024-03-05T07:08:09Z",
        ),
        (
            b"<13>Mar  5 07:08:09 -0100 web01 app: x",
            "2024-03-05T08:08:09Z",
        ),
    ];
    for (line, time) in cases {
        check_with(line, &opts, notice(time, Some("web01"), Some("app"), "x"));
    }
}

#[test]
fn new_year_inference() {
    let line = b"<13>Dec 31 23:59:00 h app: x";
    let want = || notice("2024-12-31T23:59:00Z", Some("h"), Some("app"), "x");
    check_with(line, &opts_at("2025-01-01T00:01:00Z"), want());
    check_with(line, &opts_at("2024-12-31T23:59:30Z"), want());
    let line = b"<13>Jan  1 00:00:30 h app: x";
    let want = notice("2025-01-01T00:00:30Z", Some("h"), Some("app"), "x");
    check_with(line, &opts_at("2024-12-31T23:59:50Z"), want);
}

#[test]
fn host_and_tag_forms() {
    let t = "2024-03-05T07:08:09Z";
    type Case<'a> = (
        &'a [u8],
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
    );
    let cases: [Case; 10] = [
        (
            b"<13>Mar  5 07:08:09 mx postfix/smtpd[123]: connect",
            Some("mx"),
            Some("postfix/smtpd"),
            Some("123"),
            "connect",
        ),
        (
            b"<13>Mar  5 07:08:09 web01 app:no space",
            Some("web01"),
            Some("app"),
            None,
            "no space",
        ),
        (
            b"<13>Mar  5 07:08:09 web01 app:  two",
            Some("web01"),
            Some("app"),
            None,
            "two", // one leading space dropped, as rsyslog's remove.msgFirstSpace
        ),
        (
            b"<13>Mar  5 07:08:09 web01 kernel message text",
            Some("web01"),
            Some("kernel"),
            None,
            "message text",
        ),
        (
            b"<13>Mar  5 07:08:09 web01 sshd[9] no colon",
            Some("web01"),
            Some("sshd"),
            Some("9"),
            "no colon",
        ),
        (
            b"<13>Mar  5 07:08:09 - app: nil host",
            None,
            Some("app"),
            None,
            "nil host",
        ),
        (
            b"<13>Mar  5 07:08:09 2001:db8::1 app: v6",
            Some("2001:db8::1"),
            Some("app"),
            None,
            "v6",
        ),
        (
            b"<13>Mar  5 07:08:09 web01 (sd-pam)[77]: x",
            Some("web01"),
            Some("(sd-pam)"),
            Some("77"),
            "x",
        ),
        (
            br#"<13>Mar  5 07:08:09 opsaudit  {"user": "admin"}"#,
            Some("opsaudit"),
            None,
            None,
            r#"{"user": "admin"}"#,
        ),
        (
            b"<13>Mar  5 07:08:09 web01 app: [INFO] started",
            Some("web01"),
            Some("app"),
            None,
            "[INFO] started",
        ),
    ];
    for (line, host, app, pid, body) in cases {
        let mut want = notice(t, host, app, body);
        if let Some(pid) = pid {
            want.attributes.push(("syslog.procid", s(pid)));
        }
        check(line, want);
    }
}

#[test]
fn msg_that_looks_like_structured_data_is_text() {
    check(
        br#"<13>Mar  5 07:08:09 web01 app: [a@1 k="v"] msg"#,
        notice(
            "2024-03-05T07:08:09Z",
            Some("web01"),
            Some("app"),
            r#"[a@1 k="v"] msg"#,
        ),
    );
}

#[test]
fn bom_trailers_and_spaces_in_msg() {
    let t = "2024-03-05T07:08:09Z";
    check(
        b"<13>Mar  5 07:08:09 web01 app: \xEF\xBB\xBFhi  \r\n",
        notice(t, Some("web01"), Some("app"), "hi  "),
    );
    check(
        b"<13>Mar  5 07:08:09 web01 app:",
        notice(t, Some("web01"), Some("app"), ""),
    );
    let mut no_msg = notice(t, Some("web01"), None, "");
    no_msg.body = None;
    check(b"<13>Mar  5 07:08:09 web01", no_msg);
    let mut only_stamp = notice(t, None, None, "");
    only_stamp.body = None;
    check(b"<13>Mar  5 07:08:09", only_stamp);
}

#[test]
fn no_pri_is_accepted_with_severity_unset() {
    check(
        b"Mar  5 07:08:09 web01 app: x",
        Want {
            time: ns("2024-03-05T07:08:09Z"),
            host: Some("web01"),
            app: Some("app"),
            body: Some("x"),
            ..Want::default()
        },
    );
}

#[test]
fn with_pri_but_no_header_everything_after_pri_is_msg() {
    let headerless = |body| Want {
        severity: (9, "info"),
        body: Some(body),
        attributes: vec![("syslog.facility", int(1))],
        ..Want::default()
    };
    check(b"<14>1 apple", headerless("1 apple"));
    check(
        b"<14>Feb 30 07:08:09 h a: x",
        headerless("Feb 30 07:08:09 h a: x"),
    );
    check(b"<14>12: not cisco", headerless("12: not cisco"));
    check(b"<14>myapp: hello", headerless("myapp: hello"));
    check(b"<14>", headerless(""));
}
