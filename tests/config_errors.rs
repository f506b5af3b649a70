//! A bad config is refused before anything starts: exit code 78 and a message naming the
//! file, the key and what was expected.

use crate::support::Setup;

const GOOD_OUTPUT: &str = r#"
[outputs.out]
type = "file"
inputs = ["in"]
path = "@DIR@/out.ndjson"
"#;

fn refused(config: &str, expected: &[&str]) {
    let setup = Setup::new(config);
    for args in [&["validate"][..], &[][..]] {
        let out = setup.run(args, b"line\n");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(78),
            "args {args:?}, stderr: {stderr}"
        );
        assert!(
            stderr.contains("logferry.toml"),
            "error must name the file: {stderr}"
        );
        for needle in expected {
            assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
        }
        assert!(!setup.path("out.ndjson").exists(), "nothing may start");
    }
}

#[test]
fn unknown_keys_are_named_with_their_path() {
    refused(
        &format!("[inputs.in]\ntype = \"stdin\"\nmax_line_byte = 10\n{GOOD_OUTPUT}"),
        &["inputs.in.max_line_byte", "unknown field", "max_line_bytes"],
    );
    refused(
        &format!("[inputs.in]\ntype = \"stdin\"\n{GOOD_OUTPUT}buffer = {{ max_recs = 1 }}\n"),
        &["outputs.out.buffer.max_recs", "unknown field"],
    );
    refused(
        &format!("colour = 1\n[inputs.in]\ntype = \"stdin\"\n{GOOD_OUTPUT}"),
        &["colour", "unknown field"],
    );
}

#[test]
fn wrong_values_say_what_was_expected() {
    refused(
        &format!("[inputs.in]\ntype = \"stdin\"\n{GOOD_OUTPUT}batch = {{ max_age = \"soon\" }}\n"),
        &["outputs.out.batch.max_age", "duration"],
    );
    refused(
        &format!(
            "[inputs.in]\ntype = \"stdin\"\n{GOOD_OUTPUT}buffer = {{ when_full = \"explode\" }}\n"
        ),
        &["outputs.out.buffer.when_full", "block", "drop_newest"],
    );
    refused(
        &format!("[inputs.in]\ntype = \"stdin\"\n{GOOD_OUTPUT}compression = \"zip\"\n"),
        &["outputs.out.compression", "gzip"],
    );
}

#[test]
fn unknown_types_and_references_are_refused() {
    refused(
        &format!("[inputs.in]\ntype = \"carrier-pigeon\"\n{GOOD_OUTPUT}"),
        &["inputs.in.type", "carrier-pigeon", "stdin"],
    );
    refused(
        "[inputs.in]\ntype = \"stdin\"\n[outputs.out]\ntype = \"file\"\ninputs = [\"nope\"]\npath = \"@DIR@/out.ndjson\"\n",
        &["outputs.out.inputs", "unknown input \"nope\"", "in"],
    );
    refused(
        &format!("[inputs.in]\ntype = \"stdin\"\n[inputs.lonely]\ntype = \"stdin\"\n{GOOD_OUTPUT}"),
        &["inputs.lonely", "no output takes this input"],
    );
    refused(
        "[inputs.in]\ntype = \"stdin\"\n[outputs.out]\ntype = \"file\"\ninputs = [\"in\"]\n",
        &["outputs.out", "missing field `path`"],
    );
    refused(
        "[inputs.in]\ntype = \"stdin\"\n[outputs.out]\ntype = \"file\"\ninputs = [\"in\"]\npath = \"@DIR@/{{ host }}.log\"\n",
        &["outputs.out", "unknown template field \"host\""],
    );
}

#[test]
fn syntax_and_interpolation_errors_name_the_line() {
    refused(
        &format!("[inputs.in]\ntype = \"stdin\n{GOOD_OUTPUT}"),
        &["invalid TOML", "line 2"],
    );
    refused(
        &format!("[inputs.in]\ntype = \"${{LOGFERRY_TEST_SURELY_UNSET}}\"\n{GOOD_OUTPUT}"),
        &["line 2", "LOGFERRY_TEST_SURELY_UNSET is not set"],
    );
}

#[test]
fn a_missing_config_file_is_a_config_error() {
    let out = std::process::Command::new(crate::support::bin())
        .args(["--config", "/nonexistent/logferry.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/logferry.toml") && stderr.contains("cannot read"),
        "{stderr}"
    );
}

#[test]
fn interpolation_fills_values_and_defaults() {
    let setup = Setup::new(
        r#"
        [admin]
        enabled = false
        [inputs.in]
        type = "stdin"
        [outputs.out]
        type = "file"
        inputs = ["in"]
        path = "${LOGFERRY_TEST_OUT_DIR}/${LOGFERRY_TEST_UNSET_NAME:-fallback}.ndjson"
        "#,
    );
    let out = crate::support::run_with(
        std::process::Command::new(crate::support::bin())
            .arg("--config")
            .arg(&setup.config)
            .env("LOGFERRY_TEST_OUT_DIR", setup.dir.path())
            .env_remove("LOGFERRY_TEST_UNSET_NAME"),
        b"x\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(setup.path("fallback.ndjson").exists());
}

/// The configuration reference in the README is a valid config: every key it shows exists,
/// with a value of the right shape.
#[test]
fn the_readme_configuration_reference_is_a_valid_config() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let block = &readme[start..start + readme[start..].find("\n```").unwrap()];
    let config = logferry::config::Config::from_text(block, std::path::Path::new("README.md"))
        .unwrap_or_else(|e| panic!("{e}"));
    config.build().unwrap_or_else(|e| panic!("{e}"));
    // Every plugin's options are shown.
    let inputs: Vec<&str> = config.inputs.iter().map(|i| i.plugin.kind()).collect();
    for kind in logferry::inputs::InputPlugin::TYPES {
        assert!(inputs.contains(kind), "the README shows no {kind} input");
    }
    let outputs: Vec<&str> = config.outputs.iter().map(|o| o.plugin.kind()).collect();
    for kind in logferry::outputs::OutputPlugin::TYPES {
        assert!(outputs.contains(kind), "the README shows no {kind} output");
    }
}
