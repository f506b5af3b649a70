//! The file output end to end: gzip members, size rotation, templated paths.

use crate::support::{Setup, bodies};
use std::io::Read;

#[test]
fn gzip_output_reads_back_as_one_stream_of_every_line() {
    let setup = Setup::new(
        r#"
        [admin]
        enabled = false
        [inputs.in]
        type = "stdin"
        batch_lines = 100
        [outputs.out]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/out.ndjson.gz"
        compression = "gzip"
        batch = { max_records = 250 }
        fsync = "always"
        "#,
    );
    let lines: Vec<String> = (0..1000).map(|i| format!("compressed {i}")).collect();
    let out = setup.run(&[], (lines.join("\n") + "\n").as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::File::open(setup.path("out.ndjson.gz")).unwrap();
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(bodies(&text), lines);
}

#[test]
fn size_rotation_keeps_n_files_each_under_the_limit() {
    let setup = Setup::new(
        r#"
        [admin]
        enabled = false
        [inputs.in]
        type = "stdin"
        batch_lines = 10
        [outputs.out]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/logs/{{ input }}.ndjson"
        max_bytes = "4KiB"
        keep = 3
        batch = { max_records = 10 }
        "#,
    );
    let lines: Vec<String> = (0..400).map(|i| format!("rotating line {i:04}")).collect();
    let out = setup.run(&[], (lines.join("\n") + "\n").as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let current = setup.path("logs/in.ndjson");
    let mut kept = Vec::new();
    for name in ["in.ndjson.3", "in.ndjson.2", "in.ndjson.1", "in.ndjson"] {
        let path = setup.path(&format!("logs/{name}"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(text.len() <= 4096, "{name} is {} bytes", text.len());
        kept.extend(bodies(&text));
    }
    assert!(
        !setup.path("logs/in.ndjson.4").exists(),
        "only 3 rotated files are kept"
    );
    // What is kept is the newest lines, contiguous and in order, ending with the last one.
    let tail = &lines[lines.len() - kept.len()..];
    assert_eq!(kept, tail);
    assert!(current.exists());
}

#[test]
fn an_unwritable_path_is_retried_and_reported_then_counted_at_shutdown() {
    let setup = Setup::new(
        r#"
        shutdown_timeout = "1s"
        [admin]
        enabled = false
        [inputs.in]
        type = "stdin"
        [outputs.out]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/blocker/out.ndjson"
        retry = { initial_backoff = "50ms", max_backoff = "100ms" }
        "#,
    );
    // A regular file where a directory is needed: every write fails.
    std::fs::write(setup.path("blocker"), "not a directory").unwrap();
    let out = setup.run(&["--log-format", "json"], b"a\nb\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("send failed; will retry") && stderr.contains("blocker"),
        "{stderr}"
    );
    let summary = stderr
        .lines()
        .find(|l| l.contains("final record count"))
        .expect("final count logged");
    let v: serde_json::Value = serde_json::from_str(summary).unwrap();
    assert_eq!(v["fields"]["received"], 2);
    assert_eq!(v["fields"]["dropped"], 2, "{summary}");
    assert_eq!(v["fields"]["delivered"], 0);
}
