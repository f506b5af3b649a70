//! The command line end to end: stdin through the pipeline to files and stdout.

use crate::support::{Running, Setup, bin, bodies, run_with, wait_exit};
use std::io::{BufRead, Write};
use std::process::Command;
use std::time::Duration;

const LINES: &[&str] = &[
    "first line",
    "with \"quotes\" and \\backslash\\",
    "",
    "tab\tand unicode: żółć ✓",
    "<34>1 2003-10-11T22:14:15.003Z host app - - - looks like syslog",
];

fn input_text() -> String {
    // One CRLF line: the CR is part of the line ending, not of the record.
    let mut text = LINES.join("\n");
    text = text.replacen("first line\n", "first line\r\n", 1);
    text.push('\n');
    text
}

#[test]
fn stdin_to_file_writes_exactly_the_input_lines_in_order() {
    let setup = Setup::new(
        r#"
        data_dir = "@DIR@/state"
        [admin]
        enabled = false
        [inputs.in]
        type = "stdin"
        [outputs.out]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/out.ndjson"
        "#,
    );
    let out = setup.run(&[], input_text().as_bytes());
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(setup.path("out.ndjson")).unwrap();
    assert_eq!(bodies(&written), LINES);
    for record in crate::support::ndjson(&written) {
        assert!(
            record["observedTimeUnixNano"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
    }
}

#[test]
fn many_lines_arrive_complete_and_in_order() {
    let setup = Setup::new(
        r#"
        [admin]
        enabled = false
        [inputs.in]
        type = "stdin"
        [outputs.out]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/out.ndjson"
        batch = { max_records = 333 }
        "#,
    );
    let lines: Vec<String> = (0..50_000).map(|i| format!("line number {i}")).collect();
    let out = setup.run(&[], (lines.join("\n") + "\n").as_bytes());
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(setup.path("out.ndjson")).unwrap();
    assert_eq!(bodies(&written), lines);
}

#[test]
fn two_outputs_both_receive_everything() {
    let setup = Setup::new(
        r#"
        [admin]
        enabled = false
        [inputs.in]
        type = "stdin"
        [outputs.a]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/a.ndjson"
        [outputs.b]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/{{ input }}-b.ndjson"
        "#,
    );
    let out = setup.run(&[], input_text().as_bytes());
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = std::fs::read_to_string(setup.path("a.ndjson")).unwrap();
    let b = std::fs::read_to_string(setup.path("in-b.ndjson")).unwrap();
    assert_eq!(bodies(&a), LINES);
    assert_eq!(bodies(&b), LINES);
}

#[test]
fn the_embedded_default_config_runs_without_a_file_and_says_so() {
    let mut cmd = Command::new(bin());
    cmd.env_remove("LOGFERRY_CONFIG")
        .env("LOGFERRY_ADMIN_LISTEN", "127.0.0.1:0")
        .env("LOGFERRY_SYSLOG_ADDRESS", "127.0.0.1:0")
        .env("LOGFERRY_OTLP_GRPC_ADDRESS", "127.0.0.1:0")
        .env("LOGFERRY_OTLP_HTTP_ADDRESS", "127.0.0.1:0")
        .env("LOGFERRY_OTLP_ENDPOINT", "http://127.0.0.1:9")
        .env("LOGFERRY_ES_ADDRESS", "127.0.0.1:0")
        .env("LOGFERRY_BEATS_ADDRESS", "127.0.0.1:0")
        .args(["--log-format", "json"]);
    let mut running = Running::spawn(cmd, true);
    let udp = running.listening("udp://");
    running.wait_log("embedded default config");
    let mut stdin = running.child.stdin.take().unwrap();
    stdin.write_all(b"hello from stdin\n").unwrap();
    drop(stdin);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .send_to(
            b"<13>1 2026-11-29T01:02:03Z h app - - - hello from syslog",
            &udp,
        )
        .unwrap();
    let stdout = running.child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let line = lines.next().expect("stdout open").unwrap();
        seen.extend(bodies(&line));
    }
    seen.sort();
    assert_eq!(seen, ["hello from stdin", "hello from syslog"]);
    running.terminate();
    assert!(wait_exit(&mut running.child, Duration::from_secs(30)).success());
}

#[test]
fn validate_checks_without_starting_anything() {
    let setup = Setup::new(
        r#"
        [inputs.in]
        type = "stdin"
        [outputs.out]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/never-written.ndjson"
        "#,
    );
    let out = run_with(
        Command::new(bin())
            .args(["validate", "--config"])
            .arg(&setup.config),
        b"this line must not be read\n",
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("OK") && stdout.contains("logferry.toml"),
        "{stdout}"
    );
    assert!(!setup.path("never-written.ndjson").exists());
}

#[test]
fn version_names_the_commit_and_help_has_examples() {
    let out = Command::new(bin()).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(
        version.starts_with("logferry 0.") && version.contains("commit "),
        "{version}"
    );
    let out = Command::new(bin()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("validate"),
        "{help}"
    );
}

#[test]
fn a_misspelt_log_level_is_refused_with_the_reason() {
    let out = Command::new(bin())
        .args(["--log-level", "info,debgu", "validate"])
        .output()
        .unwrap();
    // A configuration error (78), which the systemd unit does not restart.
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--log-level / LOGFERRY_LOG \"info,debgu\"")
            && stderr.contains("`debgu` is not a level"),
        "{stderr}"
    );
    // The same filter from the environment is checked the same way.
    let out = Command::new(bin())
        .env("LOGFERRY_LOG", "logferry=loud")
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let ok = Command::new(bin())
        .env("LOGFERRY_LOG", "warn,logferry::cli=debug")
        .arg("validate")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}
