//! Reloading the config (SIGHUP, `POST /reload`): re-read, validate, and replace only the
//! components whose config or `*_file` files changed.

use crate::config::Config;
use crate::pipeline::Pipeline;
use std::collections::HashMap;
use std::path::PathBuf;

/// Files a config names in `*_file` keys (certificates, keys, CAs), by component, with
/// their modification time and size: a component whose files changed is restarted by a
/// reload even if its config text did not (a renewed certificate).
pub(super) type Fingerprints =
    HashMap<String, Vec<(PathBuf, Option<(std::time::SystemTime, u64)>)>>;

/// The fingerprints of every component's `*_file` files, keyed `inputs.NAME` / `outputs.NAME`.
pub(super) fn watched_files(config: &Config) -> Fingerprints {
    let fingerprint = |debug: String| {
        file_keys(&debug)
            .into_iter()
            .map(|path| {
                let path = PathBuf::from(path);
                let meta = std::fs::metadata(&path)
                    .ok()
                    .and_then(|m| Some((m.modified().ok()?, m.len())));
                (path, meta)
            })
            .collect()
    };
    let inputs = config
        .inputs
        .iter()
        .map(|i| (format!("inputs.{}", i.name), fingerprint(format!("{i:?}"))));
    let outputs = config
        .outputs
        .iter()
        .map(|o| (format!("outputs.{}", o.name), fingerprint(format!("{o:?}"))));
    inputs.chain(outputs).collect()
}

/// The paths of the `*_file` keys in a component's `Debug` text (`cert_file: "…"` or
/// `ca_file: Some("…")`), unescaped. A scan, not a regular expression: this runs at every
/// start and the regex engine's code and tables would stay mapped for nothing.
fn file_keys(debug: &str) -> Vec<String> {
    const KEY_END: &str = "_file: ";
    let mut paths = Vec::new();
    let mut rest = debug;
    while let Some(at) = rest.find(KEY_END) {
        rest = &rest[at + KEY_END.len()..];
        let value = rest.strip_prefix("Some(").unwrap_or(rest);
        let Some(quoted) = value.strip_prefix('"') else {
            continue;
        };
        if let Some((path, len)) = debug_string(quoted) {
            if !path.is_empty() {
                paths.push(path);
            }
            rest = &quoted[len..];
        }
    }
    paths
}

/// Undoes `Debug`'s escaping of a string whose opening quote is already consumed: the text
/// and how many bytes it took, closing quote included. `None` for an unterminated string or
/// an escape `Debug` does not write.
fn debug_string(quoted: &str) -> Option<(String, usize)> {
    let mut text = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((text, i + 1)),
            '\\' => text.push(match chars.next()?.1 {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '0' => '\0',
                c @ ('\\' | '"' | '\'') => c,
                'u' => {
                    // `\u{301}`: control characters, combining marks.
                    let hex = chars.as_str().strip_prefix('{')?.split_once('}')?.0;
                    let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                    for _ in 0..hex.len() + 2 {
                        chars.next();
                    }
                    c
                }
                _ => return None,
            }),
            c => text.push(c),
        }
    }
    None
}

/// Re-reads the config and applies it: invalid → refused, the running config stays;
/// valid → only the components whose config (or certificate files) changed are replaced.
/// The outcome goes to the log, the metrics and the caller (`POST /reload`).
pub(super) async fn apply(
    pipeline: &mut Pipeline,
    config: &mut Config,
    files: &mut Fingerprints,
    path: Option<&std::path::Path>,
) -> Result<String, Reload> {
    let counts = pipeline.reload_counts();
    let Some(path) = path else {
        tracing::warn!("reload: running the embedded default config, nothing to reload");
        return Err(Reload::Failed(
            "logferry runs the embedded default config; there is nothing to reload".into(),
        ));
    };
    let built = Config::load(path).and_then(|new| {
        let specs = new.build()?;
        Ok((new, specs))
    });
    let (mut new_config, (inputs, outputs)) = match built {
        Ok(built) => built,
        Err(e) => {
            counts.refused.add(1);
            counts.last_ok.set(0);
            tracing::error!(error = %e, "reload refused: the config is invalid; the running config stays");
            return Err(Reload::Failed(format!(
                "reload refused, the running config stays: {e}"
            )));
        }
    };
    let new_files = watched_files(&new_config);
    let keep = unchanged_between(config, files, &new_config, &new_files);
    if new_config.keep_restart_only_settings(config) {
        tracing::warn!("reload: admin, memory_limit and threads changes need a restart");
    }
    tracing::info!(config = %path.display(), "reload: config valid; replacing what changed");
    let result = pipeline
        .reload(inputs, outputs, &keep, config.shutdown_timeout.0)
        .await;
    let counts = pipeline.reload_counts();
    match result {
        Ok(report) => {
            *config = new_config;
            *files = new_files;
            counts.applied.add(1);
            counts.last_ok.set(1);
            let summary = format!(
                "reloaded: inputs started {:?}, stopped {:?}; outputs started {:?}, stopped {:?}; unchanged components kept running",
                report.inputs_started,
                report.inputs_stopped,
                report.outputs_started,
                report.outputs_stopped
            );
            tracing::info!(
                inputs_started = ?report.inputs_started,
                inputs_stopped = ?report.inputs_stopped,
                outputs_started = ?report.outputs_started,
                outputs_stopped = ?report.outputs_stopped,
                "reloaded"
            );
            Ok(summary)
        }
        Err(crate::pipeline::ReloadError::Refused(e)) => {
            counts.refused.add(1);
            counts.last_ok.set(0);
            tracing::error!(error = %e, "reload refused: an output of the new config cannot start; the running config stays");
            Err(Reload::Failed(format!(
                "reload refused, the running config stays: {e}"
            )))
        }
        Err(crate::pipeline::ReloadError::Failed(e)) => {
            counts.failed.add(1);
            counts.last_ok.set(0);
            tracing::error!(error = %e, "reload failed: a component of the new config could not start; restoring the previous config");
            // What runs now is the new config less what failed; going back to the previous
            // one replaces what differs from it and restarts what failed.
            let back = unchanged_between(&new_config, &new_files, config, files);
            let restored = match config.build() {
                Ok((inputs, outputs)) => pipeline
                    .reload(inputs, outputs, &back, config.shutdown_timeout.0)
                    .await
                    .map_err(anyhow::Error::from),
                Err(built) => Err(built.into()),
            };
            match restored {
                Ok(_) => {
                    tracing::warn!("reload failed; the previous config was restored and runs");
                    Err(Reload::Failed(format!(
                        "reload failed, the previous config was restored: {e}"
                    )))
                }
                Err(again) => {
                    // Whatever the way back hit, part of the new config is what runs now.
                    let again = match again.downcast::<crate::pipeline::ReloadError>() {
                        Ok(
                            crate::pipeline::ReloadError::Refused(e)
                            | crate::pipeline::ReloadError::Failed(e),
                        ) => anyhow::Error::from(e),
                        Err(other) => other,
                    };
                    tracing::error!(error = %again, "the previous config could not be restored either; stopping (what disk buffers hold stays for the next start)");
                    Err(Reload::Fatal(format!(
                        "reload failed ({e}) and the previous config could not be restored ({again:#}); logferry is stopping"
                    )))
                }
            }
        }
    }
}

/// How a reload did not apply.
pub(super) enum Reload {
    /// Not applied; the running config stays (restored if need be).
    Failed(String),
    /// Neither the new config nor the previous one runs: logferry stops.
    Fatal(String),
}

/// The components of `new` whose config (and certificate files) equal those in `old`.
fn unchanged_between(
    old: &Config,
    old_files: &Fingerprints,
    new: &Config,
    new_files: &Fingerprints,
) -> crate::pipeline::Keep {
    let files = (old_files, new_files);
    crate::pipeline::Keep {
        inputs: same_named("inputs", &old.inputs, &new.inputs, |i| &i.name, files),
        outputs: same_named("outputs", &old.outputs, &new.outputs, |o| &o.name, files),
    }
}

/// Names of the components in `new` equal to the one of the same name in `old`, with the
/// same `*_file` fingerprints (keyed `{kind}.{name}`).
fn same_named<T: PartialEq>(
    kind: &str,
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> &String,
    (old_files, new_files): (&Fingerprints, &Fingerprints),
) -> std::collections::HashSet<String> {
    new.iter()
        .filter(|c| {
            let key = format!("{kind}.{}", name(c));
            old.iter().find(|o| name(o) == name(c)) == Some(*c)
                && old_files.get(&key) == new_files.get(&key)
        })
        .map(|c| name(c).clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shapes of the config structs' `*_file` fields, printed by derived `Debug`.
    #[derive(Debug)]
    #[allow(dead_code)] // read only through `Debug`
    struct Files {
        cert_file: PathBuf,
        key_file: Option<PathBuf>,
        ca_file: Option<PathBuf>,
        client_ca_file: Option<PathBuf>,
        name: String,
    }

    #[test]
    fn file_keys_reads_what_debug_printed() {
        let odd = [
            "/etc/plain.pem",
            "/etc/bob's \"x\".key",
            "C:\\certs\\a.pem",
            "/etc/tab\there\nnewline",
            "/etc/cafe\u{301}.pem",
        ];
        for path in odd {
            let files = Files {
                cert_file: PathBuf::from("/etc/cert.pem"),
                key_file: Some(PathBuf::from(path)),
                ca_file: None,
                client_ca_file: Some(PathBuf::new()),
                name: "x_file: \"not a key\"".into(),
            };
            let debug = format!("{files:?}");
            assert_eq!(
                file_keys(&debug),
                vec!["/etc/cert.pem".to_string(), path.to_string()],
                "{debug}"
            );
        }
        assert!(file_keys("Settings { listen: [\"tcp://x\"] }").is_empty());
        // What `Debug` never writes: an unterminated string, an unknown escape.
        assert!(file_keys(r#"cert_file: "/etc/a"#).is_empty());
        assert!(file_keys(r#"cert_file: "/etc/\q", key_file: "/k""#) == vec!["/k".to_string()]);
    }
}
