//! The shape of the code, enforced (see STYLE.md): plugins know only the contract, files stay
//! small, and every registered plugin has an example config that validates and starts.

use crate::support::{Running, wait_exit};
use logferry::config::Config;
use logferry::inputs::InputPlugin;
use logferry::outputs::OutputPlugin;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Engine modules a plugin must not reach into: it gets what it needs through the contract
/// (`record`, `batch`, `ack`, `input`, `output`, `config` units, `net` codecs).
const ENGINE: &[&str] = &[
    "crate::pipeline",
    "crate::ledger",
    "crate::metrics",
    "crate::admin",
    "crate::cli",
    "crate::shutdown",
    "crate::registry",
    "logferry::",
];

fn check_plugins(side: &str, other_side: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let side_dir = root().join(side);
    for plugin_dir in std::fs::read_dir(&side_dir).unwrap().flatten() {
        let plugin_path = plugin_dir.path();
        if !plugin_path.is_dir() {
            continue;
        }
        let plugin = plugin_dir.file_name().to_string_lossy().into_owned();
        for file in rust_files(&plugin_path) {
            let text = std::fs::read_to_string(&file).unwrap();
            let shown = file.strip_prefix(root()).unwrap().display().to_string();
            let mut forbidden: Vec<String> = ENGINE.iter().map(|s| s.to_string()).collect();
            forbidden.push(format!("crate::{other_side}"));
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for bad in &forbidden {
                    if line.contains(bad.as_str()) {
                        problems.push(format!("{shown}: plugin uses {bad}: {}", line.trim()));
                    }
                }
                // A sibling plugin, reached by path.
                if let Some(rest) = line.split(&format!("crate::{side}::")).nth(1) {
                    let named = rest
                        .split(|c: char| !c.is_alphanumeric() && c != '_')
                        .next()
                        .unwrap_or("");
                    if named != plugin {
                        problems.push(format!(
                            "{shown}: plugin {plugin} uses sibling {side}::{named}"
                        ));
                    }
                }
                if line.contains("super::super") {
                    problems.push(format!(
                        "{shown}: reaches outside its folder with super::super"
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn plugins_use_only_the_contract() {
    let mut problems = check_plugins("inputs", "outputs");
    problems.extend(check_plugins("outputs", "inputs"));
    assert!(
        problems.is_empty(),
        "architecture violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_source_file_exceeds_600_lines() {
    let mut too_long = Vec::new();
    for dir in ["src", "inputs", "outputs", "tests", "benches"] {
        for file in rust_files(&root().join(dir)) {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > 600 {
                too_long.push(format!("{} has {lines} lines", file.display()));
            }
        }
    }
    assert!(
        too_long.is_empty(),
        "split these by concern:\n{}",
        too_long.join("\n")
    );
}

fn example_configs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("config/examples"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files.push(root().join("config/default.toml"));
    files
}

#[test]
fn every_example_config_validates_and_every_plugin_has_one() {
    let mut inputs_seen = Vec::new();
    let mut outputs_seen = Vec::new();
    for path in example_configs() {
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        config.build().unwrap_or_else(|e| panic!("{e}"));
        inputs_seen.extend(config.inputs.iter().map(|i| i.plugin.kind()));
        outputs_seen.extend(config.outputs.iter().map(|o| o.plugin.kind()));
    }
    for kind in InputPlugin::TYPES {
        assert!(
            inputs_seen.contains(kind),
            "no example config uses input type \"{kind}\""
        );
    }
    for kind in OutputPlugin::TYPES {
        assert!(
            outputs_seen.contains(kind),
            "no example config uses output type \"{kind}\""
        );
    }
}

#[test]
fn the_embedded_default_is_config_default_toml() {
    let text = std::fs::read_to_string(root().join("config/default.toml")).unwrap();
    assert_eq!(logferry::config::DEFAULT_CONFIG, text);
}

/// Each example starts, runs every plugin in it, and stops cleanly on SIGTERM.
#[test]
fn every_example_config_starts_and_shuts_down_cleanly() {
    for path in example_configs() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(crate::support::bin());
        cmd.env("LOGFERRY_ADMIN_LISTEN", "127.0.0.1:0")
            .env("LOGFERRY_SYSLOG_ADDRESS", "127.0.0.1:0")
            .env("LOGFERRY_OTLP_GRPC_ADDRESS", "127.0.0.1:0")
            .env("LOGFERRY_OTLP_HTTP_ADDRESS", "127.0.0.1:0")
            .env("LOGFERRY_OTLP_ENDPOINT", "http://127.0.0.1:9")
            .env("LOGFERRY_ES_ADDRESS", "127.0.0.1:0")
            .env("LOGFERRY_BEATS_ADDRESS", "127.0.0.1:0")
            .env("LOGFERRY_ES_ADDRESS", "127.0.0.1:0")
            .env("LOGFERRY_BEATS_ADDRESS", "127.0.0.1:0")
            .env("LOGFERRY_OUT_DIR", dir.path())
            .env("LOGFERRY_DATA_DIR", dir.path().join("state"));
        let mut running = Running::start_with(cmd, &path);
        running.wait_log("logferry started");
        running.terminate();
        let status = wait_exit(&mut running.child, Duration::from_secs(30));
        assert!(status.success(), "{}: exit {status:?}", path.display());
        running.wait_log("stopped cleanly");
    }
}
